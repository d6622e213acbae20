"""Redis implementation of the store contract: the production store shared by every process.

Each operation is one round trip: one Redis command, one MULTI/EXEC, or
(`put_many`, `incr_and_get`) one pipeline of independent commands. So
atomicity is Redis's, not ours: ``take`` is GETDEL, ``add_if_absent`` is SET
NX PX and ``incr`` is INCR + PEXPIRE NX in one transaction. That needs Redis
7.0 or later (GETDEL since 6.2, the NX option of PEXPIRE since 7.0).

Commands go straight to a redis-py connection (so TLS, AUTH, database and
protocol are redis-py's), not through ``redis.Redis`` and its pool: on a cold
login's dozen round trips, that pool's check-out (a ``poll`` of the socket every
time) and the client's command layers cost about as much CPU as talking to
Redis itself (bench/README.md). For the same reason commands are packed by
hiredis's C packer directly, not by redis-py's generic per-argument encoding
around it. The store keeps its own idle connections
instead: each is used by one caller at a time, every reply is read before it
goes back, and any failure drops it, so no reply can be left behind for a
later command to read as its own, and it needs no check on the way out.

A slow or absent Redis must cost a request a bounded time, not a worker:
connect and socket timeouts are short, and a connection error is retried
once only, on a new connection, which covers a connection the server closed
while idle. Timeouts are not retried, so the worst case stays near one
timeout. A retried command may already have run on the server; for every
command here that errs on the safe side (a code or replay slot is lost, a
counter counts one more), never towards a second use.

Every failure leaves as `StoreUnavailable`, whose message names the operation
and the error class but never a key or value: keys hold session ids and
token hashes, and Redis error text can echo arguments.
"""

from __future__ import annotations

import math
import os
import time
import weakref
from collections.abc import Callable
from collections.abc import Iterator
from collections.abc import Sequence
from contextlib import contextmanager
from typing import Any
from typing import Protocol
from typing import cast

import hiredis
from gevent import monkey
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import ResponseError

from gateway.errors import StoreUnavailable
from gateway.store.redis_servers import connection_factory

_Command = tuple[str | bytes | int, ...]
_pack: Callable[[_Command], bytes] = hiredis.pack_command  # type: ignore[assignment]  # its stub says a 1-tuple


class _Connection(Protocol):
    """The part of a redis-py connection the store uses (redis-py leaves these methods unannotated)."""

    def send_packed_command(self, command: list[bytes]) -> None: ...

    def read_response(self) -> Any: ...

    def connect(self) -> None: ...

    def disconnect(self) -> None: ...


class RedisStore:
    """The store contract over redis-py connections; keys are namespaced by ``prefix``.

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
        self._prefix = checked_prefix(prefix)
        connect = connection_factory(url, socket_timeout)
        self._pool = _ConnectionPool(lambda: cast("_Connection", connect()), limit=max_connections, wait=socket_timeout)

    def put(self, key: str, value: bytes, ttl: float) -> None:
        """Set ``key`` to ``value`` for ``ttl`` seconds, replacing any value (SET PX)."""
        self._roundtrip("put", ("SET", self._key(key), value, "PX", ttl_ms(ttl)))

    def put_many(self, items: Sequence[tuple[str, bytes, float]], delete: Sequence[str] = ()) -> None:
        """`put` each ``(key, value, ttl)`` in order, then one DEL of ``delete``, as one pipeline: one round trip.

        Not MULTI/EXEC: the keys carry different hash tags, which a Redis
        Cluster cannot put in one transaction, and separate puts were never
        atomic either.
        """
        commands: list[_Command] = [("SET", self._key(key), value, "PX", ttl_ms(ttl)) for key, value, ttl in items]
        if delete:
            commands.append(("DEL", *(self._key(key) for key in delete)))
        if commands:
            self._roundtrip("put_many", *commands)

    def get(self, key: str) -> bytes | None:
        """Return the value, or None when absent or expired."""
        return bytes_or_none("get", self._roundtrip("get", ("GET", self._key(key)))[0])

    def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        """`get` each key as one pipeline of GETs: one round trip.

        Not MGET: the keys carry different hash tags, which a Redis Cluster cannot serve in one command.
        """
        if not keys:
            return []
        replies = self._roundtrip("get_many", *(("GET", self._key(key)) for key in keys))
        return [bytes_or_none("get_many", reply) for reply in replies]

    def take(self, key: str) -> bytes | None:
        """Atomically return and delete the value (GETDEL): at most one caller ever gets it."""
        return bytes_or_none("take", self._roundtrip("take", ("GETDEL", self._key(key)))[0])

    def add_if_absent(self, key: str, value: bytes, ttl: float) -> bool:
        """Set ``key`` only if it does not exist (SET NX PX); True when this call set it."""
        (reply,) = self._roundtrip("add_if_absent", ("SET", self._key(key), value, "PX", ttl_ms(ttl), "NX"))
        return reply is not None

    def incr(self, key: str, ttl: float) -> int:
        """Increment a counter, starting its TTL on the first increment; return the new count.

        PEXPIRE NX sets the TTL only when the key has none, so later increments
        do not extend the window; MULTI/EXEC makes the pair one step.
        """
        name = self._key(key)
        replies = self._roundtrip("incr", ("MULTI",), ("INCR", name), ("PEXPIRE", name, ttl_ms(ttl), "NX"), ("EXEC",))
        count, _ = replies[-1]
        return int(count)

    def incr_and_get(self, key: str, ttl: float, other: str) -> tuple[int, bytes | None]:
        """`incr` ``key`` and GET ``other`` as one pipeline: one round trip.

        Not MULTI/EXEC: the two keys carry different hash tags, which a Redis Cluster cannot put in one
        transaction. INCR and PEXPIRE NX still go in one write, as in `incr`; a counter left without
        its TTL by a connection lost between the two would only ever count its own, past, window.
        """
        name = self._key(key)
        count, _, value = self._roundtrip(
            "incr_and_get", ("INCR", name), ("PEXPIRE", name, ttl_ms(ttl), "NX"), ("GET", self._key(other))
        )
        return int(count), bytes_or_none("incr_and_get", value)

    def delete(self, *keys: str) -> None:
        """Remove keys; absent keys are ignored.

        One DEL for all keys: on a plain Redis that is one round trip and one
        step. (A Redis Cluster would need all keys in one slot; see `keys`.)
        """
        if keys:
            self._roundtrip("delete", ("DEL", *(self._key(key) for key in keys)))

    def ping(self) -> bool:
        """True when Redis answers; raises `StoreUnavailable` when it does not, like every method."""
        (reply,) = self._roundtrip("ping", ("PING",))
        return reply in (b"PONG", "PONG", True)

    def close(self) -> None:
        """Close every connection, for a clean shutdown; the store reconnects if used again."""
        self._pool.disconnect_all()

    def _key(self, key: str) -> str:
        return self._prefix + key

    def _roundtrip(self, operation: str, *commands: _Command) -> list[Any]:
        """Send ``commands`` in one write and read every reply: one round trip on a connection of the pool.

        A connection error is retried once, on a new connection (see the module docstring). Any
        failure drops the connection and leaves as `StoreUnavailable` naming ``operation``, ``from
        None``: the original exception may echo a key, and a traceback logged with its cause would
        carry it.
        """
        connection = self._pool.take(operation)
        try:
            for attempt in (1, 2):
                try:
                    connection.connect()  # a no-op when connected; else (Sentinel) it asks where the primary is
                    return _exchange(connection, commands)
                except RedisConnectionError as exc:
                    connection.disconnect()
                    if attempt == 2:
                        raise unavailable(operation, exc) from None
                except (RedisError, OSError) as exc:
                    connection.disconnect()
                    raise unavailable(operation, exc) from None
                except BaseException:
                    connection.disconnect()
                    raise
        finally:
            self._pool.give_back(connection)
        raise AssertionError("unreachable")  # pragma: no cover


class _ConnectionPool:
    """Idle connections for reuse, at most ``limit`` in use at once, each by one caller only.

    Bounded so that a burst of requests cannot open connections without end: a caller waits up to
    ``wait`` seconds for a free one, then the operation fails like any other store failure. A forked
    child starts with no connections: sharing its parent's sockets would mix their replies.

    The count of connections in use is guarded by a lock of the operating system's, not by a
    `threading.BoundedSemaphore`: under gevent's patching that semaphore is gevent's, whose acquire and
    release cost about 50,000 instructions even when nothing waits (bench --instructions), on every one
    of a login's dozen round trips. The guarded section never waits for anything, so an OS lock is safe
    between greenlets as between threads; only a caller that finds every connection in use waits, by
    sleeping in short steps (gevent's sleep under gevent), which lets the holders finish.
    """

    _WAIT_STEP = 0.002

    def __init__(self, make: Callable[[], _Connection], *, limit: int, wait: float) -> None:
        self._make = make
        self._limit = limit
        self._wait = wait
        self._made: weakref.WeakSet[_Connection] = weakref.WeakSet()
        self._guard = monkey.get_original("_thread", "allocate_lock")()
        self._start(os.getpid())

    def _start(self, pid: int) -> None:
        self._pid = pid
        self._idle: list[_Connection] = []
        self._in_use = 0

    def take(self, operation: str) -> _Connection:
        """A connection for this caller alone until it hands it to `give_back`, which it must."""
        pid = os.getpid()
        if pid != self._pid:
            self._start(pid)
        if not self._claim():
            deadline = time.monotonic() + self._wait
            while not self._claim():
                if time.monotonic() >= deadline:
                    raise StoreUnavailable(f"store unavailable: {operation} found no free connection")
                time.sleep(self._WAIT_STEP)
        try:
            idle = self._idle
            return idle.pop() if idle else self._new()
        except BaseException:
            self._release()
            raise

    def give_back(self, connection: _Connection) -> None:
        """Make ``connection`` idle again (a dropped one reconnects on its next use)."""
        self._idle.append(connection)
        self._release()

    @contextmanager
    def connection(self, operation: str) -> Iterator[_Connection]:
        """`take` and `give_back` around a block."""
        connection = self.take(operation)
        try:
            yield connection
        finally:
            self.give_back(connection)

    def _claim(self) -> bool:
        with self._guard:
            if self._in_use >= self._limit:
                return False
            self._in_use += 1
            return True

    def _release(self) -> None:
        with self._guard:
            self._in_use -= 1

    def _new(self) -> _Connection:
        connection = self._make()
        self._made.add(connection)
        return connection

    def disconnect_all(self) -> None:
        """Close every connection made in this process; each reconnects on its next use."""
        for connection in list(self._made):
            connection.disconnect()


def _exchange(connection: _Connection, commands: Sequence[_Command]) -> list[Any]:
    """Write ``commands`` at once, then read one reply per command, all of them even when one is an error.

    An error inside EXEC's reply comes back as an element, not raised; it fails the exchange too.
    """
    connection.send_packed_command([b"".join(map(_pack, commands))])
    replies: list[Any] = []
    first_error: ResponseError | None = None
    for _ in commands:
        try:
            reply = connection.read_response()
        except ResponseError as exc:
            first_error = first_error or exc
            reply = None
        if isinstance(reply, list) and first_error is None:
            first_error = next((element for element in reply if isinstance(element, ResponseError)), None)
        replies.append(reply)
    if first_error is not None:
        raise first_error
    return replies


def bytes_or_none(operation: str, reply: Any) -> bytes | None:
    """A value as stored; anything else means the URL asked redis-py to decode replies, which the store cannot use."""
    if reply is None or isinstance(reply, bytes):
        return reply
    raise StoreUnavailable(f"store unavailable: {operation} got a {type(reply).__name__} reply, not bytes")


def unavailable(operation: str, exc: BaseException) -> StoreUnavailable:
    """The one failure a Redis store raises: the operation and the error class, never a key or value."""
    return StoreUnavailable(f"store unavailable: {operation} failed ({type(exc).__name__})")


def checked_prefix(prefix: str) -> str:
    """``prefix``, refused if it holds a brace: it would become the cluster hash tag of every key."""
    if "{" in prefix or "}" in prefix:
        raise ValueError("store prefix must not contain braces (they form a cluster hash tag)")
    return prefix


def ttl_ms(ttl: float) -> int:
    """Seconds to whole milliseconds, rounded up so a short TTL never becomes zero (Redis refuses 0)."""
    if not (math.isfinite(ttl) and ttl > 0):
        raise ValueError("ttl must be a positive, finite number of seconds")
    return math.ceil(ttl * 1000)
