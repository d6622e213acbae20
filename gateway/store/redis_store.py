"""Redis implementation of the store contract: the production store shared by every process.

Each operation is one Redis command (or one MULTI/EXEC; `put_many` is one
pipeline of independent SETs), so atomicity is
Redis's, not ours: ``take`` is GETDEL, ``add_if_absent`` is SET NX PX and
``incr`` is INCR + PEXPIRE NX in one transaction. That needs Redis 7.0 or later
(GETDEL since 6.2, the NX option of PEXPIRE since 7.0).

A slow or absent Redis must cost a request a bounded time, not a worker:
connect and socket timeouts are short, the connection pool is bounded (a
request waits at most ``socket_timeout`` for a free connection), and a
connection error is retried once only, which covers a connection the server
closed while idle. Timeouts are not retried, so the worst case stays near one
timeout. A retried command may already have run on the server; for every
command here that errs on the safe side (a code or replay slot is lost, a
counter counts one more), never towards a second use.

Every failure leaves as `StoreUnavailable`, whose message names the operation
and the error class but never a key or value: keys hold session ids and
token hashes, and Redis error text can echo arguments.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from collections.abc import Sequence
from typing import TypeVar
from typing import cast

import redis
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.retry import Retry

from gateway.errors import StoreUnavailable

_T = TypeVar("_T")


class RedisStore:
    """The store contract over redis-py; keys are namespaced by ``prefix``.

    The prefix lets several gateways, or tests, share one Redis. It must not
    contain braces: a brace would become the Redis Cluster hash tag of every
    key and put them all in one slot (see `gateway.store.keys`).
    """

    def __init__(
        self,
        url: str,
        prefix: str = "eidgw:",
        socket_timeout: float = 0.5,
        *,
        max_connections: int = 64,
    ) -> None:
        if "{" in prefix or "}" in prefix:
            raise ValueError("store prefix must not contain braces (they form a cluster hash tag)")
        self._prefix = prefix
        self._pool = redis.BlockingConnectionPool.from_url(
            url,
            max_connections=max_connections,
            timeout=socket_timeout,
            socket_timeout=socket_timeout,
            socket_connect_timeout=socket_timeout,
            retry=Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
        )
        self._redis = redis.Redis(connection_pool=self._pool)

    def put(self, key: str, value: bytes, ttl: float) -> None:
        """Set ``key`` to ``value`` for ``ttl`` seconds, replacing any value (SET PX)."""
        ms = _ttl_ms(ttl)
        self._call("put", lambda: self._redis.set(self._key(key), value, px=ms))

    def put_many(self, items: Sequence[tuple[str, bytes, float]], delete: Sequence[str] = ()) -> None:
        """`put` each ``(key, value, ttl)`` in order, then one DEL of ``delete``, as one pipeline: one round trip.

        Not MULTI/EXEC: the keys carry different hash tags, which a Redis
        Cluster cannot put in one transaction, and separate puts were never
        atomic either.
        """
        prepared = [(self._key(key), value, _ttl_ms(ttl)) for key, value, ttl in items]
        gone = [self._key(key) for key in delete]
        if not prepared and not gone:
            return

        def run() -> None:
            with self._redis.pipeline(transaction=False) as pipe:
                for name, value, ms in prepared:
                    pipe.set(name, value, px=ms)
                if gone:
                    pipe.delete(*gone)
                pipe.execute()

        self._call("put_many", run)

    def get(self, key: str) -> bytes | None:
        """Return the value, or None when absent or expired."""
        return cast("bytes | None", self._call("get", lambda: self._redis.get(self._key(key))))

    def take(self, key: str) -> bytes | None:
        """Atomically return and delete the value (GETDEL): at most one caller ever gets it."""
        return cast("bytes | None", self._call("take", lambda: self._redis.getdel(self._key(key))))

    def add_if_absent(self, key: str, value: bytes, ttl: float) -> bool:
        """Set ``key`` only if it does not exist (SET NX PX); True when this call set it."""
        ms = _ttl_ms(ttl)
        name = self._key(key)
        return bool(self._call("add_if_absent", lambda: self._redis.set(name, value, px=ms, nx=True)))

    def incr(self, key: str, ttl: float) -> int:
        """Increment a counter, starting its TTL on the first increment; return the new count.

        PEXPIRE NX sets the TTL only when the key has none, so later increments
        do not extend the window; MULTI/EXEC makes the pair one step.
        """
        ms = _ttl_ms(ttl)
        name = self._key(key)

        def run() -> int:
            with self._redis.pipeline(transaction=True) as pipe:
                pipe.incr(name)
                pipe.pexpire(name, ms, nx=True)
                count, _ = pipe.execute()
            return int(count)

        return self._call("incr", run)

    def incr_and_get(self, key: str, ttl: float, other: str) -> tuple[int, bytes | None]:
        """`incr` ``key`` and GET ``other`` as one pipeline: one round trip.

        Not MULTI/EXEC: the two keys carry different hash tags, which a Redis Cluster cannot put in one
        transaction. INCR and PEXPIRE NX still go in one write, as in `incr`; a counter left without
        its TTL by a connection lost between the two would only ever count its own, past, window.
        """
        ms = _ttl_ms(ttl)
        name, other_name = self._key(key), self._key(other)

        def run() -> tuple[int, bytes | None]:
            with self._redis.pipeline(transaction=False) as pipe:
                pipe.incr(name)
                pipe.pexpire(name, ms, nx=True)
                pipe.get(other_name)
                count, _, value = pipe.execute()
            return int(count), cast("bytes | None", value)

        return self._call("incr_and_get", run)

    def delete(self, *keys: str) -> None:
        """Remove keys; absent keys are ignored.

        One DEL for all keys: on a plain Redis that is one round trip and one
        step. (A Redis Cluster would need all keys in one slot; see `keys`.)
        """
        if keys:
            names = [self._key(key) for key in keys]
            self._call("delete", lambda: self._redis.delete(*names))

    def ping(self) -> bool:
        """True when Redis answers; raises `StoreUnavailable` when it does not, like every method."""
        return bool(self._call("ping", self._redis.ping))

    def close(self) -> None:
        """Close the pool's connections, for a clean shutdown; the store reconnects if used again."""
        self._pool.disconnect()

    def _key(self, key: str) -> str:
        return self._prefix + key

    def _call(self, operation: str, do: Callable[[], _T]) -> _T:
        """Run one Redis operation, turning any failure into `StoreUnavailable` without its text.

        ``from None``: the original exception may echo a key, and a traceback
        logged with its cause would carry it.
        """
        try:
            return do()
        except (RedisError, OSError) as exc:
            message = f"store unavailable: {operation} failed ({type(exc).__name__})"
            raise StoreUnavailable(message) from None


def _ttl_ms(ttl: float) -> int:
    """Seconds to whole milliseconds, rounded up so a short TTL never becomes zero (Redis refuses 0)."""
    if not (math.isfinite(ttl) and ttl > 0):
        raise ValueError("ttl must be a positive, finite number of seconds")
    return math.ceil(ttl * 1000)
