"""`os_thread_local` under gevent's monkey-patching, as gunicorn's gevent worker runs the gateway.

The patching is process-wide and cannot be undone, so it runs in a child interpreter.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

_PROGRAM = textwrap.dedent(
    """
    from gevent import monkey

    monkey.patch_all()

    import threading

    import gevent

    from gateway.os_thread import os_thread_local

    shared, patched = os_thread_local(), threading.local()
    shared.value = patched.value = "set by the first greenlet"


    def seen() -> tuple[object, object]:
        return getattr(shared, "value", None), getattr(patched, "value", None)


    print(repr(gevent.spawn(seen).get()))
    """
)


def _run(program: str) -> str:
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_greenlets_of_one_os_thread_share_it_where_threading_local_would_not() -> None:
    assert _run(_PROGRAM) == repr(("set by the first greenlet", None))


def test_os_threads_each_have_their_own() -> None:
    program = textwrap.dedent(
        """
        from gevent import monkey

        monkey.patch_all()

        import gevent

        from gateway.os_thread import os_thread_local

        shared = os_thread_local()
        shared.value = "main thread"
        real_thread = gevent.get_hub().threadpool.spawn(lambda: getattr(shared, "value", None))
        print(repr(real_thread.get()))
        """
    )
    assert _run(program) == repr(None)
