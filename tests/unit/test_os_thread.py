"""`os_thread_local` and `run_cpu_bound` under gevent's monkey-patching, as the gevent worker runs the gateway."""

from __future__ import annotations

import ast
import textwrap
import threading

from gateway.os_thread import run_cpu_bound
from tests.gevent_child import TICKER
from tests.gevent_child import run_under_gevent

_PROGRAM = textwrap.dedent(
    """
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


def test_greenlets_of_one_os_thread_share_it_where_threading_local_would_not() -> None:
    assert run_under_gevent(_PROGRAM) == repr(("set by the first greenlet", None))


def test_os_threads_each_have_their_own() -> None:
    program = textwrap.dedent(
        """
        import gevent

        from gateway.os_thread import os_thread_local

        shared = os_thread_local()
        shared.value = "main thread"
        real_thread = gevent.get_hub().threadpool.spawn(lambda: getattr(shared, "value", None))
        print(repr(real_thread.get()))
        """
    )
    assert run_under_gevent(program) == repr(None)


_TICKS_DURING = TICKER + textwrap.dedent(
    """
    from gateway.os_thread import run_cpu_bound


    def busy() -> str:
        busy_for(0.3)
        return "done"


    print(repr((ticks_during(busy), ticks_during(lambda: run_cpu_bound(busy)))))
    """
)


def test_cpu_bound_work_leaves_other_greenlets_running() -> None:
    inline, offloaded = ast.literal_eval(run_under_gevent(_TICKS_DURING))
    (inline_ticks, inline_result), (offloaded_ticks, offloaded_result) = inline, offloaded
    assert inline_result == offloaded_result == "done"
    assert inline_ticks == 0, "the control: pure Python in a greenlet holds the event loop"
    assert offloaded_ticks >= 10, offloaded_ticks


def test_cpu_bound_work_raises_its_exception_in_the_caller() -> None:
    program = textwrap.dedent(
        """
        from gateway.os_thread import run_cpu_bound

        try:
            run_cpu_bound(lambda: 1 / 0)
        except ZeroDivisionError:
            print("raised")
        """
    )
    assert run_under_gevent(program) == "raised"


def test_without_gevent_cpu_bound_work_runs_in_the_calling_thread() -> None:
    assert run_cpu_bound(threading.get_ident) == threading.get_ident()
