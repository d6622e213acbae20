"""gunicorn settings for benchmark runs: exactly deploy/gunicorn.conf.py, plus an opt-in profiler.

The settings are the production file's, read as gunicorn would read it. When
``EID_BENCH_PROFILE_DIR`` is set (``python -m bench --profile``), each worker runs every request
under a per-thread cProfile profiler timed by the thread's CPU clock (waiting on Redis or
the GIL costs nothing) and writes ``<dir>/worker-<pid>.prof`` when it exits. The hook
lives here, in the harness, so no profiling code ships in the gateway.
"""

from __future__ import annotations

import os
import runpy
import threading
from collections.abc import Callable
from collections.abc import Iterable
from pathlib import Path
from typing import Any

_DEPLOY = Path(__file__).absolute().parents[1] / "deploy" / "gunicorn.conf.py"
globals().update({k: v for k, v in runpy.run_path(str(_DEPLOY)).items() if not k.startswith("_") and k != "os"})

_PROFILE_DIR = os.environ.get("EID_BENCH_PROFILE_DIR")
_profiles: list[Any] = []
_local = threading.local()
_lock = threading.Lock()


def _profiled(app: Callable[..., Iterable[bytes]]) -> Callable[..., list[bytes]]:
    import cProfile
    import time

    def run(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        profiler = getattr(_local, "profiler", None)
        if profiler is None:
            profiler = _local.profiler = cProfile.Profile(time.thread_time)
            with _lock:
                _profiles.append(profiler)
        profiler.enable()
        try:
            result = app(environ, start_response)
            try:
                return list(result)
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()
        finally:
            profiler.disable()

    return run


def post_worker_init(worker: Any) -> None:
    """Wrap the worker's WSGI app in the profiler when profiling is asked for."""
    if _PROFILE_DIR:
        worker.wsgi = _profiled(worker.wsgi)


def worker_exit(server: Any, worker: Any) -> None:
    """Write this worker's merged profile."""
    if _PROFILE_DIR and _profiles:
        import pstats

        stats = pstats.Stats(_profiles[0])
        for profiler in _profiles[1:]:
            stats.add(profiler)
        stats.dump_stats(str(Path(_PROFILE_DIR) / f"worker-{os.getpid()}.prof"))
