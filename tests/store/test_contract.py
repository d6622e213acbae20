"""One conformance suite for the store contract, run against every store.

The same tests run on the in-process store and on a real Redis, so the
development store cannot drift from production (style rule 4, dex's
``storage/conformance``). Expiry is tested with real sleeps on short TTLs;
the margins are tens of milliseconds, well above Redis's 1 ms resolution.
"""

from __future__ import annotations

import math
import os
import socket
import threading
import time
from collections.abc import Callable
from collections.abc import Iterator
from typing import TypeVar

import pytest
import redis

from gateway.errors import StoreUnavailable
from gateway.store import open_store
from gateway.store.base import Store
from gateway.store.memory_store import MemoryStore
from gateway.store.redis_store import RedisStore

SHORT_TTL = 0.08
PAST_SHORT_TTL = 0.15
THREADS = 16

T = TypeVar("T")


@pytest.fixture(params=["memory", "redis", "cluster"])
def store(request: pytest.FixtureRequest) -> Store:
    """Each contract test runs once per implementation."""
    return request.getfixturevalue(f"{request.param}_store")


def race(action: Callable[[], T], threads: int = THREADS) -> list[T]:
    """Run ``action`` in many threads released together; return every result."""
    barrier = threading.Barrier(threads)
    results: list[T] = []
    lock = threading.Lock()

    def run() -> None:
        barrier.wait()
        result = action()
        with lock:
            results.append(result)

    workers = [threading.Thread(target=run) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert len(results) == threads, "a racing thread failed"
    return results


# --- put / get -------------------------------------------------------------


def test_get_returns_what_put_stored(store: Store) -> None:
    store.put("k", b"value", ttl=10)
    assert store.get("k") == b"value"


def test_values_are_arbitrary_bytes(store: Store) -> None:
    value = bytes(range(256))
    store.put("k", value, ttl=10)
    assert store.get("k") == value


def test_get_of_absent_key_is_none(store: Store) -> None:
    assert store.get("absent") is None


def test_put_replaces(store: Store) -> None:
    store.put("k", b"old", ttl=10)
    store.put("k", b"new", ttl=10)
    assert store.get("k") == b"new"


def test_put_expires_after_ttl(store: Store) -> None:
    store.put("k", b"v", ttl=SHORT_TTL)
    assert store.get("k") == b"v"
    time.sleep(PAST_SHORT_TTL)
    assert store.get("k") is None


@pytest.mark.parametrize("ttl", [0, -1, math.nan, math.inf])
def test_ttl_must_be_positive_and_finite(store: Store, ttl: float) -> None:
    with pytest.raises(ValueError, match="ttl"):
        store.put("k", b"v", ttl=ttl)
    with pytest.raises(ValueError, match="ttl"):
        store.add_if_absent("k", b"v", ttl=ttl)
    with pytest.raises(ValueError, match="ttl"):
        store.incr("k", ttl=ttl)
    assert store.get("k") is None


# --- put_many --------------------------------------------------------------


def test_put_many_stores_each_item_with_its_own_ttl(store: Store) -> None:
    store.put("b", b"old", ttl=10)
    store.put_many([("a", b"1", 10), ("b", b"2", SHORT_TTL), ("c", bytes(range(256)), 10)])
    assert (store.get("a"), store.get("b"), store.get("c")) == (b"1", b"2", bytes(range(256)))
    time.sleep(PAST_SHORT_TTL)
    assert (store.get("a"), store.get("b")) == (b"1", None)


def test_put_many_writes_in_order(store: Store) -> None:
    store.put_many([("k", b"first", 10), ("k", b"second", 10)])
    assert store.get("k") == b"second"


def test_put_many_deletes_after_its_puts(store: Store) -> None:
    store.put("gone", b"1", ttl=10)
    store.put("kept", b"1", ttl=10)
    store.put_many([("new", b"2", 10), ("also-gone", b"3", 10)], delete=["gone", "also-gone", "never-there"])
    assert (store.get("gone"), store.get("also-gone"), store.get("never-there")) == (None, None, None)
    assert (store.get("kept"), store.get("new")) == (b"1", b"2")


def test_put_many_may_only_delete(store: Store) -> None:
    store.put("gone", b"1", ttl=10)
    store.put_many([], delete=["gone"])
    assert store.get("gone") is None


def test_put_many_of_nothing_is_a_no_op(store: Store) -> None:
    store.put_many([])
    assert store.get("k") is None


@pytest.mark.parametrize("ttl", [0, -1, math.nan, math.inf])
def test_put_many_refuses_a_bad_ttl_before_writing_anything(store: Store, ttl: float) -> None:
    with pytest.raises(ValueError, match="ttl"):
        store.put_many([("a", b"1", 10), ("b", b"2", ttl)])
    assert store.get("a") is None


# --- take ------------------------------------------------------------------


def test_take_returns_once_then_none(store: Store) -> None:
    store.put("k", b"v", ttl=10)
    assert store.take("k") == b"v"
    assert store.take("k") is None
    assert store.get("k") is None


def test_take_of_expired_key_is_none(store: Store) -> None:
    store.put("k", b"v", ttl=SHORT_TTL)
    time.sleep(PAST_SHORT_TTL)
    assert store.take("k") is None


def test_take_under_contention_has_exactly_one_winner(store: Store) -> None:
    store.put("code", b"grant", ttl=10)
    results = race(lambda: store.take("code"))
    assert results.count(b"grant") == 1
    assert results.count(None) == THREADS - 1


# --- add_if_absent ---------------------------------------------------------


def test_add_if_absent_sets_only_the_first_time(store: Store) -> None:
    assert store.add_if_absent("k", b"first", ttl=10) is True
    assert store.add_if_absent("k", b"second", ttl=10) is False
    assert store.get("k") == b"first"


def test_add_if_absent_is_free_again_after_expiry(store: Store) -> None:
    assert store.add_if_absent("k", b"first", ttl=SHORT_TTL) is True
    time.sleep(PAST_SHORT_TTL)
    assert store.add_if_absent("k", b"second", ttl=10) is True
    assert store.get("k") == b"second"


def test_add_if_absent_race_has_exactly_one_winner(store: Store) -> None:
    results = race(lambda: store.add_if_absent("replay", b"seen", ttl=10))
    assert results.count(True) == 1
    assert results.count(False) == THREADS - 1


# --- incr ------------------------------------------------------------------


def test_incr_and_get_counts_and_reads_the_other_key(store: Store) -> None:
    store.put("other", b"7", ttl=10)
    assert store.incr_and_get("n", 10, "other") == (1, b"7")
    assert store.incr_and_get("n", 10, "absent") == (2, None)
    assert store.get("n") == b"2"


def test_incr_and_get_starts_the_window_like_incr(store: Store) -> None:
    assert store.incr_and_get("n", SHORT_TTL, "other") == (1, None)
    time.sleep(PAST_SHORT_TTL)
    assert store.incr_and_get("n", SHORT_TTL, "other") == (1, None)


def test_get_many_reads_each_key_in_order_absent_ones_as_none(store: Store) -> None:
    store.put("a", b"1", ttl=10)
    store.put("c", b"\x00three", ttl=10)
    assert store.get_many(["c", "absent", "a", "c"]) == [b"\x00three", None, b"1", b"\x00three"]
    assert store.get_many([]) == []


def test_get_many_does_not_see_expired_keys(store: Store) -> None:
    store.put("short", b"v", ttl=SHORT_TTL)
    store.put("long", b"w", ttl=10)
    time.sleep(PAST_SHORT_TTL)
    assert store.get_many(["short", "long"]) == [None, b"w"]


def test_incr_counts_from_one(store: Store) -> None:
    assert [store.incr("n", ttl=10) for _ in range(3)] == [1, 2, 3]
    assert store.get("n") == b"3"


def test_incr_counts_every_racing_call(store: Store) -> None:
    results = race(lambda: store.incr("n", ttl=10))
    assert sorted(results) == list(range(1, THREADS + 1))


def test_incr_window_starts_at_first_increment(store: Store) -> None:
    ttl = 0.3
    assert store.incr("n", ttl=ttl) == 1
    time.sleep(0.15)
    assert store.incr("n", ttl=ttl) == 2  # must not push the expiry back
    time.sleep(0.2)  # 0.35 s after the first increment, 0.2 s after the second
    assert store.incr("n", ttl=ttl) == 1


# --- delete / ping ---------------------------------------------------------


def test_delete_removes_several_keys_and_ignores_absent_ones(store: Store) -> None:
    for key in ("a", "b", "c"):
        store.put(key, b"v", ttl=10)
    store.delete("a", "b", "absent")
    assert store.get("a") is None
    assert store.get("b") is None
    assert store.get("c") == b"v"


def test_delete_of_nothing_is_a_no_op(store: Store) -> None:
    store.delete()


def test_ping(store: Store) -> None:
    assert store.ping() is True


# --- Redis only ------------------------------------------------------------


def test_prefixes_isolate_stores(make_redis_store: Callable[[], RedisStore]) -> None:
    one, other = make_redis_store(), make_redis_store()
    one.put("k", b"one", ttl=10)
    assert other.get("k") is None
    assert other.add_if_absent("k", b"other", ttl=10) is True
    assert one.take("k") == b"one"
    assert other.get("k") == b"other"
    other.delete("k")
    assert one.get("k") is None


def test_prefix_with_braces_is_refused(redis_url: str) -> None:
    with pytest.raises(ValueError, match="braces"):
        RedisStore(redis_url, prefix="{all}:")


def _connection_id(store: RedisStore) -> int:
    """The Redis client id of the connection ``store`` uses next (idle connections are reused last in, first out)."""
    with store._pool.connection("test") as connection:
        connection.send_packed_command(connection.pack_commands([("CLIENT", "ID")]))
        return int(connection.read_response())


def test_a_connection_the_server_closed_is_replaced(make_redis_store: Callable[[], RedisStore], redis_url: str) -> None:
    store = make_redis_store()
    store.put("k", b"v", ttl=10)
    before = _connection_id(store)
    admin = redis.Redis.from_url(redis_url)
    try:
        assert admin.client_kill_filter(_id=before) == 1
    finally:
        admin.close()
    assert store.get("k") == b"v"
    assert _connection_id(store) != before


@pytest.mark.parametrize("failing", ["incr", "incr_and_get"])
def test_an_error_reply_leaves_later_operations_in_step(
    make_redis_store: Callable[[], RedisStore], failing: str
) -> None:
    """A Redis error mid-batch must not leave a reply behind for the next command to read as its own."""
    store = make_redis_store()
    store.put("text", b"not a number", ttl=10)
    store.put("other", b"other value", ttl=10)
    attempts: dict[str, Callable[[], object]] = {
        "incr": lambda: store.incr("text", ttl=10),
        "incr_and_get": lambda: store.incr_and_get("text", ttl=10, other="other"),
    }
    with pytest.raises(StoreUnavailable, match=f"{failing} failed \\(ResponseError\\)"):
        attempts[failing]()
    assert store.get("other") == b"other value"
    assert store.incr("counter", ttl=10) == 1
    assert store.get("text") == b"not a number"


def test_callers_never_share_a_connection_nor_does_a_forked_child(make_redis_store: Callable[[], RedisStore]) -> None:
    store = make_redis_store()
    store.put("k", b"v", ttl=10)
    with store._pool.connection("test") as first, store._pool.connection("test") as second:
        assert first is not second
    parents = {id(first), id(second)}
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the child, reported by its exit status
        with store._pool.connection("test") as in_child:
            fresh = id(in_child) not in parents
        os._exit(0 if fresh and store.get("k") == b"v" else 1)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    with store._pool.connection("test") as again:
        assert id(again) in parents
    assert store.get("k") == b"v"


def test_a_caller_waits_for_a_free_connection_at_most_the_socket_timeout(redis_url: str) -> None:
    store = RedisStore(redis_url, prefix="test:pool-limit:", socket_timeout=0.1, max_connections=1)
    try:
        with store._pool.connection("test"):
            started = time.monotonic()
            with pytest.raises(StoreUnavailable, match="get found no free connection"):
                store.get("k")
            assert time.monotonic() - started < 0.5
        assert store.get("k") is None
    finally:
        store.close()


def test_close_disconnects_and_the_store_reconnects_on_use(make_redis_store: Callable[[], RedisStore]) -> None:
    store = make_redis_store()
    store.put("k", b"v", ttl=10)
    before = _connection_id(store)
    store.close()
    assert store.get("k") == b"v"
    assert _connection_id(store) != before


SECRET_KEY = "tx:{secret-transaction-id}"
OPERATIONS: dict[str, Callable[[Store], object]] = {
    "put": lambda s: s.put(SECRET_KEY, b"secret-value", ttl=10),
    "put_many": lambda s: s.put_many([(SECRET_KEY, b"secret-value", 10)]),
    "get": lambda s: s.get(SECRET_KEY),
    "take": lambda s: s.take(SECRET_KEY),
    "add_if_absent": lambda s: s.add_if_absent(SECRET_KEY, b"secret-value", ttl=10),
    "incr": lambda s: s.incr(SECRET_KEY, ttl=10),
    "delete": lambda s: s.delete(SECRET_KEY, "tx:{other}"),
    "ping": lambda s: s.ping(),
}


@pytest.fixture
def dead_redis() -> Iterator[RedisStore]:
    """A store pointed at a closed port: connecting is refused at once."""
    store = RedisStore("redis://127.0.0.1:1/0")
    yield store
    store.close()


@pytest.fixture
def silent_redis() -> Iterator[RedisStore]:
    """A store pointed at a socket that accepts connections but never answers."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        store = RedisStore(f"redis://127.0.0.1:{port}/0", socket_timeout=0.1)
        yield store
        store.close()


@pytest.mark.parametrize("operation", OPERATIONS)
def test_unreachable_redis_raises_store_unavailable_quickly(dead_redis: RedisStore, operation: str) -> None:
    started = time.monotonic()
    with pytest.raises(StoreUnavailable) as caught:
        OPERATIONS[operation](dead_redis)
    assert time.monotonic() - started < 1.0
    message = str(caught.value)
    assert operation in message
    assert "secret" not in message
    assert caught.value.__cause__ is None


def test_silent_redis_times_out_within_the_socket_timeout(silent_redis: RedisStore) -> None:
    started = time.monotonic()
    with pytest.raises(StoreUnavailable, match="get failed"):
        silent_redis.get(SECRET_KEY)
    assert time.monotonic() - started < 0.5


# --- factory and memory only -------------------------------------------------


def test_open_store_picks_the_implementation_by_scheme(redis_url: str) -> None:
    assert isinstance(open_store("memory://"), MemoryStore)
    redis_store = open_store(redis_url, prefix="test:factory:")
    assert isinstance(redis_store, RedisStore)
    redis_store.close()


def test_open_store_names_an_unknown_scheme() -> None:
    with pytest.raises(ValueError, match="'memcached'"):
        open_store("memcached://127.0.0.1:11211")


def test_memory_store_sweep_drops_expired_entries_nobody_reads() -> None:
    now = [0.0]
    store = MemoryStore(clock=lambda: now[0])
    store.put("old", b"v", ttl=1)
    now[0] = 10.0  # past the entry's expiry and the sweep interval
    store.put("new", b"v", ttl=100)
    assert set(store._data) == {"new"}
