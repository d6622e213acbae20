"""Profiles of the gateway's workers during benchmark runs: cProfile files or py-spy samples, summarized.

Two ways, both opt-in and both from the harness only:

* ``--profile``: `bench.gunicorn_conf` runs every request under cProfile with a per-thread CPU
  clock and each worker writes ``worker-<pid>.prof`` on exit; `summarize` merges them.
* ``--py-spy PATH``: the py-spy binary samples each worker while a run is measured (``--format raw``,
  ``--nonblocking`` so the workers are never paused) and `summarize_samples` lists where the samples
  fall: the function a sample is in (self) and every function on its stack (inclusive), leaving out
  samples of threads that only wait (an idle gthread thread, the poller, a socket read from Redis).
"""

from __future__ import annotations

import io
import pstats
import signal
import subprocess
from collections import Counter
from pathlib import Path


def summarize(profile_dir: Path, out: Path, limit: int = 40) -> Path:
    """Merge every worker's cProfile file and write the top functions by own and by cumulative time."""
    files = sorted(profile_dir.glob("worker-*.prof"))
    if not files:
        out.write_text("no worker profiles were written\n", encoding="utf-8")
        return out
    buffer = io.StringIO()
    stats = pstats.Stats(str(files[0]), stream=buffer)
    for file in files[1:]:
        stats.add(str(file))
    stats.strip_dirs()
    for key in ("tottime", "cumulative"):
        stats.sort_stats(key).print_stats(limit)
    out.write_text(buffer.getvalue(), encoding="utf-8")
    return out


class PySpy:
    """py-spy recording every given process until `stop`."""

    def __init__(self, binary: str, pids: list[int], out_dir: Path, tag: str, rate: int = 200) -> None:
        out_dir.mkdir(parents=True, exist_ok=True)
        self.files = [out_dir / f"{tag}-{pid}.txt" for pid in pids]
        options = ["--rate", str(rate), "--format", "raw", "--nonblocking"]
        self._processes = [
            subprocess.Popen(
                [binary, "record", "--pid", str(pid), *options, "--output", str(file)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for pid, file in zip(pids, self.files, strict=True)
        ]

    def stop(self) -> list[Path]:
        """Stop sampling (SIGINT makes py-spy write its file) and return the files written."""
        for process in self._processes:
            process.send_signal(signal.SIGINT)
        for process in self._processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        return [file for file in self.files if file.exists()]


def _frame_name(frame: str) -> str:
    """``function (path/to/file.py:123)`` -> ``function (file.py)``: lines differ per call site."""
    function, _, where = frame.partition(" (")
    file = where.rsplit(":", 1)[0].rsplit("/", 1)[-1]
    return f"{function} ({file})" if file else function


# Leaf frames of threads that wait rather than work: their samples are counted apart.
_WAITING = frozenset(
    {
        "_worker (thread.py)",
        "EpollSelector.select (selectors.py)",
        "Condition.wait (threading.py)",
        "SocketBuffer._read_from_socket (socket.py)",
        "Arbiter.sleep (arbiter.py)",
    }
)


def summarize_samples(files: list[Path], out: Path, limit: int = 45) -> Path:
    """Self and inclusive shares of py-spy's collapsed stacks over all files, waiting threads left out."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = waiting = 0
    for file in files:
        for line in file.read_text(encoding="utf-8", errors="replace").splitlines():
            stack, _, count_text = line.rpartition(" ")
            if not stack or not count_text.isdigit():
                continue
            count = int(count_text)
            frames = [_frame_name(f) for f in stack.split(";")[1:]]  # the first entry names the thread
            if not frames:
                continue
            if frames[-1] in _WAITING:
                waiting += count
                continue
            total += count
            own[frames[-1]] += count
            for name in set(frames):
                inclusive[name] += count
    lines = [f"{total} working samples ({waiting} waiting left out) from {len(files)} worker(s)", ""]
    lines.append("self %  function")
    lines += [f"{100 * n / max(total, 1):6.1f}  {name}" for name, n in own.most_common(limit)]
    lines += ["", "incl % function"]
    lines += [f"{100 * n / max(total, 1):6.1f}  {name}" for name, n in inclusive.most_common(limit * 2)]
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return out
