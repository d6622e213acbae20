"""The benchmark's HTTP client against a real HTTP/1.1 server: framing, cookies, reuse and reconnects."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer

import pytest

from bench.flows import Connection


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""

    def do_GET(self) -> None:
        self.server.connections.add(self.client_address)
        self.server.requests.append((self.path, dict(self.headers)))
        if self.path == "/length":
            self._send(b"hello", [("Location", "/next"), ("Set-Cookie", "a=1; Path=/"), ("Set-Cookie", "b=2")])
        elif self.path == "/chunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self.wfile.write(b"3\r\nabc\r\n4;ext=1\r\ndefg\r\n0\r\nTrailer: x\r\n\r\n")
        elif self.path == "/until-close":
            self.send_response(200)
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(b"all of it")
            self.close_connection = True
        elif self.path == "/then-drop":
            self._send(b"dropped after this", [])
            self.close_connection = True  # no Connection: close header: the client learns on its next request
        else:
            self._send(b"", [], status=404)

    def do_POST(self) -> None:
        self.server.connections.add(self.client_address)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.requests.append((self.path, dict(self.headers)))
        self._send(body[::-1], [])

    def _send(self, body: bytes, headers: list[tuple[str, str]], status: int = 200) -> None:
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.connections: set[tuple[str, int]] = set()
        self.requests: list[tuple[str, dict[str, str]]] = []


@pytest.fixture
def server() -> Iterator[_Server]:
    server = _Server()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_content_length_reply_with_location_and_every_cookie(server: _Server) -> None:
    connection = Connection(server.server_address[1])
    reply = connection.send("GET", "/length", {"Cookie": "c=3"})
    connection.close()
    assert (reply.status, reply.body, reply.location) == (200, b"hello", "/next")
    assert reply.cookies == {"a": "1", "b": "2"}
    sent = server.requests[0][1]
    assert sent["Cookie"] == "c=3"
    assert sent["X-Forwarded-Proto"] == "https"  # the proxy headers the gateway's ProxyFix trusts


def test_requests_share_one_kept_alive_connection(server: _Server) -> None:
    connection = Connection(server.server_address[1])
    bodies = [connection.send("GET", "/length", {}).body for _ in range(3)]
    posted = connection.send("POST", "/echo", {"Content-Type": "application/x-www-form-urlencoded"}, "a=b&c")
    connection.close()
    assert bodies == [b"hello"] * 3
    assert posted.body == b"c&b=a"
    assert len(server.connections) == 1


@pytest.mark.parametrize(
    ("path", "body", "connections"),
    [
        pytest.param("/chunked", b"abcdefg", 1, id="chunked body reassembled, connection kept"),
        pytest.param("/until-close", b"all of it", 2, id="body without length read to the close"),
        pytest.param("/then-drop", b"dropped after this", 2, id="connection the server dropped retried once"),
    ],
)
def test_framing_and_reconnects(server: _Server, path: str, body: bytes, connections: int) -> None:
    connection = Connection(server.server_address[1])
    first = connection.send("GET", path, {})
    after = connection.send("GET", "/length", {})
    connection.close()
    assert first.body == body
    assert after.body == b"hello"
    assert len(server.connections) == connections


def test_a_refused_connection_is_an_os_error_the_flows_count() -> None:
    with ThreadingHTTPServer(("127.0.0.1", 0), _Handler) as closed:
        port = closed.server_address[1]
    with pytest.raises(ConnectionRefusedError):
        Connection(port).send("GET", "/length", {})
