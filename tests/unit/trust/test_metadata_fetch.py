"""Fetching is bounded: a size limit on the decoded body, a deadline a dripping server cannot stretch."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest

from gateway.settings.schema import MetadataSource
from gateway.trust.metadata_fetch import FetchFailed
from gateway.trust.metadata_fetch import fetch


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def do_GET(self) -> None:
        with contextlib.suppress(OSError):  # the client gave up on purpose: that is what these tests provoke
            self._answer()

    def _answer(self) -> None:
        if self.path == "/missing":
            self.send_response(404)
            self.end_headers()
            return
        self.send_response(200)
        if self.path == "/declared-large":
            self.send_header("Content-Length", str(10_000_000))
        self.end_headers()
        if self.path == "/drip":
            for _ in range(40):
                self.wfile.write(b"<")
                self.wfile.flush()
                time.sleep(0.25)
        elif self.path == "/undeclared-large":
            self.wfile.write(b"x" * 200_000)
        else:
            self.wfile.write(b"<md/>")

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _get(url: str, *, timeout: float = 5, max_bytes: int = 100_000) -> bytes | None:
    return fetch(MetadataSource(url=url), timeout=timeout, max_bytes=max_bytes).document


def test_a_small_document_is_fetched(base_url: str) -> None:
    assert _get(f"{base_url}/ok") == b"<md/>"


@pytest.mark.parametrize(
    ("path", "reason"),
    [("/declared-large", "larger than"), ("/undeclared-large", "larger than"), ("/missing", "HTTP status 404")],
)
def test_refusals(base_url: str, path: str, reason: str) -> None:
    with pytest.raises(FetchFailed, match=reason):
        _get(base_url + path)


def test_a_dripping_server_cannot_outlast_the_deadline(base_url: str) -> None:
    started = time.monotonic()
    with pytest.raises(FetchFailed, match="timed out"):
        _get(f"{base_url}/drip", timeout=1)
    assert time.monotonic() - started < 3  # ten seconds of dripping, cut at the deadline


def test_nothing_listening(tmp_path: Path) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(FetchFailed, match="request failed"):
        _get(f"http://127.0.0.1:{port}/x", timeout=1)


def test_a_file_source_has_the_same_size_limit(tmp_path: Path) -> None:
    path = tmp_path / "md.xml"
    path.write_bytes(b"x" * 2048)
    assert fetch(MetadataSource(file=path), timeout=1, max_bytes=4096).document == b"x" * 2048
    with pytest.raises(FetchFailed, match="larger than"):
        fetch(MetadataSource(file=path), timeout=1, max_bytes=1024)
