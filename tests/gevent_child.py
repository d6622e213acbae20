"""Run a program in a child interpreter under gevent's monkey-patching, as gunicorn's gevent worker does.

The patching is process-wide and cannot be undone, so tests of behaviour under it cannot run in the test
process itself.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

_PATCH = "from gevent import monkey\n\nmonkey.patch_all()\n\n"

TICKER = textwrap.dedent(
    """
    import time

    import gevent


    def busy_for(seconds: float) -> None:
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            pass


    def ticks_during(work):
        # How often another greenlet got to run (it wakes every 5 ms) while work() ran, and work's result.
        ticks = 0

        def tick() -> None:
            nonlocal ticks
            while True:
                gevent.sleep(0.005)
                ticks += 1

        ticker = gevent.spawn(tick)
        gevent.sleep(0)
        result = work()
        ticks_seen = ticks
        ticker.kill()
        return ticks_seen, result
    """
)
"""Helpers a program may start with (``TICKER + program``): does other work go on while something runs?"""


def run_under_gevent(program: str, *args: str) -> str:
    """``program`` (dedented source) after ``monkey.patch_all()``, with ``args`` as ``sys.argv[1:]``; its stdout."""
    command = [sys.executable, "-c", _PATCH + program, *args]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()
