"""A threaded HTTP server on 127.0.0.1 that a test starts and stops with ``with``: the base of the tests'
stand-ins for outside services (a federation's metadata feed, an e-service's back-channel endpoint)."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer
from typing import Self


class LoopbackServer:
    """Serves ``handler`` on a free loopback port; ``url`` is ``path`` on it."""

    def __init__(self, handler: type[BaseHTTPRequestHandler], path: str) -> None:
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}{path}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)
