"""Run a program in a child interpreter under gevent's monkey-patching, as gunicorn's gevent worker does.

The patching is process-wide and cannot be undone, so tests of behaviour under it cannot run in the test
process itself.
"""

from __future__ import annotations

import subprocess
import sys

_PATCH = "from gevent import monkey\n\nmonkey.patch_all()\n\n"


def run_under_gevent(program: str, *args: str) -> str:
    """``program`` (dedented source) after ``monkey.patch_all()``, with ``args`` as ``sys.argv[1:]``; its stdout."""
    command = [sys.executable, "-c", _PATCH + program, *args]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()
