"""Client keys from `jwks` or `jwks_uri`: the bounded cache, refetch on an unknown kid, and a hostile server."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer
from typing import Any

import pytest
from joserfc.jwk import RSAKey

from gateway.oidc.client_keys import MAX_JWKS_BYTES
from gateway.oidc.client_keys import ClientKeys
from gateway.oidc.client_keys import ClientKeysUnavailable
from gateway.oidc.client_keys import fetch_jwks
from gateway.settings.schema import ClientSettings

KEY_A = RSAKey.generate_key(2048, parameters={"kid": "a"})
KEY_B = RSAKey.generate_key(2048, parameters={"kid": "b"})


def _jwks(*keys: RSAKey) -> dict[str, Any]:
    return {"keys": [key.as_dict(private=False) for key in keys]}


def _client(**kwargs: Any) -> ClientSettings:
    return ClientSettings(client_id="c", redirect_uris=("https://c.example/cb",), auth_method="private_key_jwt",
                          display_name={}, **kwargs)  # fmt: skip


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class _Fetcher:
    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        self.calls = 0

    def __call__(self, uri: str) -> dict[str, Any]:
        self.calls += 1
        return self.document


def test_inline_jwks_needs_no_fetch() -> None:
    fetch = _Fetcher(_jwks(KEY_B))
    keys = ClientKeys(fetch=fetch).key_set(_client(jwks=_jwks(KEY_A)))
    assert [k.kid for k in keys] == ["a"]
    assert fetch.calls == 0


def test_no_keys_registered_is_unavailable() -> None:
    with pytest.raises(ClientKeysUnavailable):
        ClientKeys().key_set(_client())


def test_jwks_uri_is_cached_until_the_ttl() -> None:
    clock, fetch = _Clock(), _Fetcher(_jwks(KEY_A))
    keys = ClientKeys(fetch=fetch, clock=clock, ttl=300)
    client = _client(jwks_uri="https://c.example/jwks")
    keys.key_set(client)
    clock.now += 299
    keys.key_set(client)
    assert fetch.calls == 1
    clock.now += 2
    keys.key_set(client)
    assert fetch.calls == 2


def test_unknown_kid_refetches_at_most_once_per_interval() -> None:
    clock, fetch = _Clock(), _Fetcher(_jwks(KEY_A))
    keys = ClientKeys(fetch=fetch, clock=clock, min_refresh=30)
    client = _client(jwks_uri="https://c.example/jwks")
    keys.key_set(client)
    keys.key_set(client, "b")
    assert fetch.calls == 1  # too soon: an unknown kid cannot make us hammer the client
    clock.now += 31
    fetch.document = _jwks(KEY_A, KEY_B)
    assert [k.kid for k in keys.key_set(client, "b")] == ["a", "b"]
    assert fetch.calls == 2


def test_cache_is_bounded() -> None:
    fetch = _Fetcher(_jwks(KEY_A))
    keys = ClientKeys(fetch=fetch, max_entries=2)
    for n in range(3):
        keys.key_set(_client(jwks_uri=f"https://c{n}.example/jwks"))
    keys.key_set(_client(jwks_uri="https://c0.example/jwks"))
    assert fetch.calls == 4  # c0 was evicted


@pytest.fixture
def server() -> Iterator[dict[str, Any]]:
    """A local HTTP server whose answer each test sets."""
    answer: dict[str, Any] = {"status": 200, "body": b""}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(answer["status"])
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(answer["body"])

        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    answer["url"] = f"http://127.0.0.1:{httpd.server_address[1]}/jwks"
    yield answer
    httpd.shutdown()
    httpd.server_close()


def test_fetch_jwks_reads_a_key_set(server: dict[str, Any]) -> None:
    server["body"] = json.dumps(_jwks(KEY_A)).encode()
    assert fetch_jwks(server["url"])["keys"][0]["kid"] == "a"


@pytest.mark.parametrize(
    ("status", "body"),
    [(500, b"{}"), (200, b"not json"), (200, b'{"no": "keys"}'), (200, b" " * (MAX_JWKS_BYTES + 10))],
    ids=["error-status", "not-json", "not-a-jwks", "too-large"],
)
def test_fetch_jwks_refuses_a_bad_answer(server: dict[str, Any], status: int, body: bytes) -> None:
    server["status"], server["body"] = status, body
    with pytest.raises(ClientKeysUnavailable):
        fetch_jwks(server["url"])
