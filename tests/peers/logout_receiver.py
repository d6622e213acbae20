"""An e-service's back-channel logout endpoint for the tests: records every POST it receives.

A `tests.peers.loopback.LoopbackServer`, like `tests.peers.federation.FeedServer`. It answers
with each of ``statuses`` in turn, then ``status`` (a ``Location`` for 3xx, so a client that followed
redirects would be seen coming back with a GET), after ``delay`` seconds, so tests can make an
e-service slow or have it fail for a while. `down_url` is an address nothing listens on.
"""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs

from tests.peers.loopback import LoopbackServer


@dataclass(frozen=True)
class ReceivedPost:
    """One POST as it arrived."""

    path: str
    content_type: str
    form: dict[str, list[str]]


class LogoutReceiver(LoopbackServer):
    """Serves ``/backchannel-logout`` on 127.0.0.1; see the module docstring."""

    def __init__(self, *, status: int = 200, delay: float = 0.0, statuses: list[int] | None = None) -> None:
        self.status = status
        self.statuses = list(statuses or [])  # answered first, one per POST, before ``status``
        self.delay = delay
        self.posts: list[ReceivedPost] = []
        self.gets = 0
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length).decode("utf-8")
                with receiver._lock:
                    receiver.posts.append(ReceivedPost(self.path, self.headers.get("Content-Type", ""), parse_qs(body)))
                    status = receiver.statuses.pop(0) if receiver.statuses else receiver.status
                time.sleep(receiver.delay)
                self._answer(status)

            def do_GET(self) -> None:
                with receiver._lock:
                    receiver.gets += 1
                self._answer(200)

            def _answer(self, status: int) -> None:
                try:
                    self.send_response(status)
                    if 300 <= status < 400:
                        self.send_header("Location", receiver.url)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                except OSError:  # the sender gave up waiting: nothing to answer
                    pass

            def log_message(self, format: str, *args: object) -> None:
                """Quiet: the tests read `posts`."""

        super().__init__(Handler, "/backchannel-logout")


def down_url() -> str:
    """A loopback URL nothing listens on (connections are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/backchannel-logout"
