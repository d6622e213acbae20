"""Storage per operating-system thread, and CPU-bound work off gevent's event loop.

gevent's monkey-patching makes `threading.local` local to a greenlet, and the gevent worker runs each
client connection in a greenlet of its own, so a cache kept in a `threading.local` would be rebuilt for
every connection. The caches kept here (a compiled schema, libxmlsec1 key managers) cost milliseconds to
build and must only not be used by two OS threads at once: greenlets of one OS thread never run at the
same time and switch only where they wait for I/O, never inside an lxml or libxmlsec1 call, so they can
share what one thread may use.

The same patching turns the trust runtime's background thread into a greenlet, which holds the worker's
only OS thread for as long as it computes: rebuilding pysaml2's metadata store for a large aggregate takes
about a second, and no request would be served meanwhile. `run_cpu_bound` hands such work to a real
thread, where it shares the interpreter with the requests the way it did under a threaded worker.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

from gevent import monkey

_Result = TypeVar("_Result")


def os_thread_local() -> threading.local:
    """A `threading.local` whose attributes are per OS thread, whether or not gevent patched `threading`."""
    original: type[threading.local] = monkey.get_original("_thread", "_local")
    return original()


def run_cpu_bound(work: Callable[[], _Result]) -> _Result:
    """``work()``, in a native thread of gevent's pool when gevent serves this process, else right here.

    The calling greenlet waits for the result (or the exception) while the others go on serving. Only
    for pure computation: ``work`` must do no network I/O (gevent's sockets and locks belong to the
    event loop's thread) and must publish what it builds by a single assignment.
    """
    if not monkey.is_module_patched("threading"):
        return work()
    import gevent

    result: _Result = gevent.get_hub().threadpool.apply(work)
    return result
