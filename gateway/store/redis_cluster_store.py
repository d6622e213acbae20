"""The store contract on a Redis Cluster, for operators whose Redis is sharded (a managed cluster-mode Redis).

    redis+cluster://[[user]:password@]host[:port][,host[:port]...][?ssl_ca_certs=/path/ca.pem]

``rediss+cluster://`` uses TLS. The nodes are where the client first asks for the cluster's layout;
redis-py's `RedisCluster` then sends each command to the node that holds its key's slot and follows
the cluster when slots move (MOVED, ASK) or a replica is promoted.

A cluster runs a command or a transaction only on keys of one slot. The key shapes put everything one
step changes atomically under one hash tag (`gateway.store.keys`), so the one transaction here,
`incr` (INCR + PEXPIRE NX on one key), stays in one slot. Operations on several keys (`put_many`,
`get_many`, `incr_and_get`, `delete`) are pipelines of single-key commands, which redis-py groups by
node: independent writes and reads, as the contract already says, in one round trip per node.

Same failure rules as `gateway.store.redis_store`: short timeouts, every failure leaves as
`StoreUnavailable` naming the operation and the error class, never a key. The client is made on
first use, so the gateway starts while the cluster is unreachable and says so in its readiness.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from collections.abc import Sequence
from typing import Any
from typing import TypeVar

from redis.backoff import NoBackoff
from redis.cluster import ClusterNode
from redis.cluster import RedisCluster
from redis.exceptions import RedisClusterException
from redis.exceptions import RedisError
from redis.retry import Retry

from gateway.store.redis_servers import parse_cluster_url
from gateway.store.redis_store import bytes_or_none
from gateway.store.redis_store import checked_prefix
from gateway.store.redis_store import ttl_ms
from gateway.store.redis_store import unavailable

_T = TypeVar("_T")


class RedisClusterStore:
    """The store contract over a Redis Cluster; keys are namespaced by ``prefix`` (no braces in it)."""

    def __init__(self, url: str, prefix: str = "eidgw:", socket_timeout: float = 0.5, *, max_connections: int = 64):
        address = parse_cluster_url(url)
        self._prefix = checked_prefix(prefix)
        tls: dict[str, Any] = {"ssl": True, "ssl_ca_certs": address.ca_file} if address.tls else {}
        self._options: dict[str, Any] = {
            "startup_nodes": [ClusterNode(host, port) for host, port in address.nodes],  # type: ignore[no-untyped-call]
            "username": address.username,
            "password": address.password,
            "socket_timeout": socket_timeout,
            "socket_connect_timeout": socket_timeout,
            "max_connections": max_connections,
            # One retry, at once: a request must wait about one timeout at worst, not a backoff schedule.
            "retry": Retry(NoBackoff(), 1),
            **tls,
        }
        self._client: RedisCluster | None = None
        self._lock = threading.Lock()

    def put(self, key: str, value: bytes, ttl: float) -> None:
        """Set ``key`` to ``value`` for ``ttl`` seconds, replacing any value (SET PX)."""
        ms = ttl_ms(ttl)
        self._run("put", lambda client: client.set(self._key(key), value, px=ms))

    def put_many(self, items: Sequence[tuple[str, bytes, float]], delete: Sequence[str] = ()) -> None:
        """`put` each ``(key, value, ttl)`` in order, then DEL each of ``delete``: one pipeline."""
        commands = [(self._key(key), value, ttl_ms(ttl)) for key, value, ttl in items]
        if not commands and not delete:
            return

        def pipeline(client: RedisCluster) -> None:
            pipe = _pipeline(client, transaction=False)
            for name, value, ms in commands:
                pipe.set(name, value, px=ms)
            for key in delete:
                pipe.delete(self._key(key))
            pipe.execute()

        self._run("put_many", pipeline)

    def get(self, key: str) -> bytes | None:
        """Return the value, or None when absent or expired."""
        return bytes_or_none("get", self._run("get", lambda client: client.get(self._key(key))))

    def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        """`get` each key: one pipeline (keys in different slots may live on different nodes)."""
        if not keys:
            return []

        def pipeline(client: RedisCluster) -> list[Any]:
            pipe = _pipeline(client, transaction=False)
            for key in keys:
                pipe.get(self._key(key))
            return list(pipe.execute())

        return [bytes_or_none("get_many", reply) for reply in self._run("get_many", pipeline)]

    def take(self, key: str) -> bytes | None:
        """Atomically return and delete the value (GETDEL): at most one caller ever gets it."""
        return bytes_or_none("take", self._run("take", lambda client: client.getdel(self._key(key))))

    def add_if_absent(self, key: str, value: bytes, ttl: float) -> bool:
        """Set ``key`` only if it does not exist (SET NX PX); True when this call set it."""
        ms = ttl_ms(ttl)
        return bool(self._run("add_if_absent", lambda client: client.set(self._key(key), value, px=ms, nx=True)))

    def incr(self, key: str, ttl: float) -> int:
        """Increment a counter, starting its TTL on the first increment (INCR + PEXPIRE NX in MULTI/EXEC)."""
        name, ms = self._key(key), ttl_ms(ttl)

        def transaction(client: RedisCluster) -> int:
            pipe = _pipeline(client, transaction=True)
            pipe.incr(name)
            pipe.pexpire(name, ms, nx=True)
            count, _ = pipe.execute()
            return int(count)

        return self._run("incr", transaction)

    def incr_and_get(self, key: str, ttl: float, other: str) -> tuple[int, bytes | None]:
        """`incr` ``key`` and GET ``other`` as one pipeline (the keys are in different slots: no MULTI)."""
        name, ms = self._key(key), ttl_ms(ttl)

        def pipeline(client: RedisCluster) -> tuple[int, bytes | None]:
            pipe = _pipeline(client, transaction=False)
            pipe.incr(name)
            pipe.pexpire(name, ms, nx=True)
            pipe.get(self._key(other))
            count, _, value = pipe.execute()
            return int(count), bytes_or_none("incr_and_get", value)

        return self._run("incr_and_get", pipeline)

    def delete(self, *keys: str) -> None:
        """Remove keys; absent keys are ignored. One DEL per key (a DEL of keys in several slots is refused)."""
        self.put_many((), delete=keys)

    def ping(self) -> bool:
        """True when the cluster answers; raises `StoreUnavailable` when it does not, like every method."""
        return bool(self._run("ping", lambda client: client.ping()))

    def close(self) -> None:
        """Close every connection; the store reconnects if used again."""
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()

    def _key(self, key: str) -> str:
        return self._prefix + key

    def _run(self, operation: str, call: Callable[[RedisCluster], _T]) -> _T:
        try:
            return call(self._connected())
        except (RedisError, RedisClusterException, OSError) as exc:
            raise unavailable(operation, exc) from None

    def _connected(self) -> RedisCluster:
        client = self._client
        if client is None:
            with self._lock:
                if self._client is None:
                    self._client = RedisCluster(**self._options)
                client = self._client
        return client


def _pipeline(client: RedisCluster, *, transaction: bool) -> Any:
    """A pipeline on ``client`` (redis-py leaves ``RedisCluster.pipeline`` unannotated)."""
    return client.pipeline(transaction=transaction)  # type: ignore[no-untyped-call]
