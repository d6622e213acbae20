"""Storage per operating-system thread, also under gunicorn's gevent worker.

gevent's monkey-patching makes `threading.local` local to a greenlet, and the gevent worker runs each
client connection in a greenlet of its own, so a cache kept in a `threading.local` would be rebuilt for
every connection. The caches kept here (a compiled schema, libxmlsec1 key managers) cost milliseconds to
build and must only not be used by two OS threads at once: greenlets of one OS thread never run at the
same time and switch only where they wait for I/O, never inside an lxml or libxmlsec1 call, so they can
share what one thread may use.
"""

from __future__ import annotations

import threading

from gevent import monkey


def os_thread_local() -> threading.local:
    """A `threading.local` whose attributes are per OS thread, whether or not gevent patched `threading`."""
    original: type[threading.local] = monkey.get_original("_thread", "_local")
    return original()
