"""Package: see the modules' docstrings.

`open_store` is the one place a store URL from settings becomes a store, so
the composition root (`gateway.app.create_app`) never names an implementation.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from gateway.store.base import Store
from gateway.store.memory_store import MemoryStore
from gateway.store.redis_cluster_store import RedisClusterStore
from gateway.store.redis_servers import CLUSTER_SCHEMES
from gateway.store.redis_servers import SENTINEL_SCHEMES
from gateway.store.redis_servers import parse_cluster_url
from gateway.store.redis_servers import parse_sentinel_url
from gateway.store.redis_store import RedisStore

__all__ = ["Store", "check_store_url", "open_store"]

_REDIS_SCHEMES = frozenset({"redis", "rediss", "unix"}) | SENTINEL_SCHEMES
_SCHEMES_HINT = (
    "use memory://, redis://, rediss://, unix://, redis+sentinel://, rediss+sentinel://, redis+cluster://"
    " or rediss+cluster://"
)


def check_store_url(url: str) -> str | None:
    """What is wrong with a store URL, or None; for settings checks, so the operator hears it at load time."""
    scheme = urlsplit(url).scheme.lower()
    if scheme not in _REDIS_SCHEMES | CLUSTER_SCHEMES | {"memory"}:
        return f"unsupported scheme {scheme!r}: {_SCHEMES_HINT}"
    try:
        if scheme in SENTINEL_SCHEMES:
            parse_sentinel_url(url)
        if scheme in CLUSTER_SCHEMES:
            parse_cluster_url(url)
    except ValueError as exc:
        return str(exc)
    return None


def open_store(url: str, prefix: str = "eidgw:") -> Store:
    """Open the store a URL names: ``memory://`` in-process, else Redis (`gateway.store.redis_servers`).

    ``prefix`` namespaces Redis keys; the in-process store is private to this
    process and needs none. An unknown scheme is a configuration mistake, so
    it fails here, naming the scheme (never the whole URL, which may hold a
    password).
    """
    scheme = urlsplit(url).scheme.lower()
    if scheme == "memory":
        return MemoryStore()
    if scheme in CLUSTER_SCHEMES:
        return RedisClusterStore(url, prefix=prefix)
    if scheme in _REDIS_SCHEMES:
        return RedisStore(url, prefix=prefix)
    raise ValueError(f"unsupported store URL scheme {scheme!r}: {_SCHEMES_HINT}")
