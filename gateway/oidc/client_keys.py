"""A client's public keys (OIDC Registration 2 `jwks` / `jwks_uri`), for private_key_jwt and request objects.

A client registers its keys inline (`jwks`) or by URL (`jwks_uri`; the
Swedish OIDC profile 6 allows either). A fetched set is cached per process
for a bounded time and a bounded number of clients, fetched with a short
timeout and a size limit, so a slow or hostile `jwks_uri` can neither stall a
worker for long nor fill its memory. A `kid` missing from the cached set
(the client rolled its keys over) refetches, at most once per
`min_refresh` seconds per client, so unknown kids cannot be used to make the
gateway hammer a client's server.
"""

from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from collections.abc import Mapping
from typing import Any

import requests
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from gateway.settings.schema import ClientSettings

MAX_JWKS_BYTES = 64 * 1024
"""A JWK set of a few keys is a few kB; more is a mistake or an attack."""


class ClientKeysUnavailable(LookupError):
    """The client's keys could not be had (none registered, or the jwks_uri failed); the reason is for the log."""


def fetch_jwks(uri: str, timeout: float = 5.0) -> Mapping[str, Any]:
    """GET ``uri`` as a JWK set: bounded time and size, no redirects to elsewhere, JSON with a ``keys`` list."""
    try:
        with requests.get(uri, timeout=timeout, stream=True, allow_redirects=False) as response:
            if response.status_code != 200:
                raise ClientKeysUnavailable(f"jwks_uri answered {response.status_code}")
            body = response.raw.read(MAX_JWKS_BYTES + 1, decode_content=True)
    except requests.RequestException as exc:
        raise ClientKeysUnavailable(f"jwks_uri could not be fetched: {type(exc).__name__}") from None
    if len(body) > MAX_JWKS_BYTES:
        raise ClientKeysUnavailable("jwks_uri document is too large")
    try:
        document = json.loads(body)
    except ValueError:
        raise ClientKeysUnavailable("jwks_uri document is not JSON") from None
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise ClientKeysUnavailable("jwks_uri document is not a JWK set")
    return document


class ClientKeys:
    """Resolves a client's current public key set; thread-safe (gunicorn gthread workers)."""

    def __init__(
        self,
        *,
        ttl: float = 300.0,
        min_refresh: float = 30.0,
        max_entries: int = 256,
        fetch: Callable[[str], Mapping[str, Any]] = fetch_jwks,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl = ttl
        self.min_refresh = min_refresh
        self.max_entries = max_entries
        self._fetch = fetch
        self._clock = clock
        self._lock = threading.Lock()
        self._cache: OrderedDict[str, tuple[float, KeySet]] = OrderedDict()

    def key_set(self, client: ClientSettings, kid: str | None = None) -> KeySet:
        """The client's keys; with ``kid`` not among cached ones, a refetch when allowed."""
        if client.jwks:
            return _import(client.jwks)
        if not client.jwks_uri:
            raise ClientKeysUnavailable("client has no registered keys")
        uri = client.jwks_uri
        now = self._clock()
        with self._lock:
            cached = self._cache.get(uri)
        if cached is not None:
            fetched_at, keys = cached
            fresh = now - fetched_at < self.ttl
            known = kid is None or any(key.kid == kid for key in keys)
            if fresh and (known or now - fetched_at < self.min_refresh):
                return keys
        keys = _import(self._fetch(uri))
        with self._lock:
            self._cache[uri] = (now, keys)
            self._cache.move_to_end(uri)
            while len(self._cache) > self.max_entries:
                self._cache.popitem(last=False)
        return keys


def _import(document: Mapping[str, object]) -> KeySet:
    try:
        return KeySet.import_key_set(dict(document))  # type: ignore[arg-type]
    except (JoseError, ValueError, TypeError, KeyError):
        raise ClientKeysUnavailable("the client's JWK set cannot be imported") from None
