"""Shared fixtures; each group in its own marked section."""

# ---------------------------------------------------------------------------
# Store fixtures: a real Redis, with every test confined to its own key prefix.
#
# Tests never skip for lack of Redis (style rule 8): if none answers, the run
# stops with a message pointing at the README's test command, which starts
# redis-server. Cleanup deletes only the keys under the test's own prefix,
# never FLUSHDB/FLUSHALL, so a shared or developer Redis is left intact.
# ---------------------------------------------------------------------------
from __future__ import annotations

import os
from collections.abc import Callable
from collections.abc import Iterator
from urllib.parse import urlsplit
from uuid import uuid4

import pytest
import redis

from gateway.errors import StoreUnavailable
from gateway.store.memory_store import MemoryStore
from gateway.store.redis_cluster_store import RedisClusterStore
from gateway.store.redis_store import RedisStore
from tests.redis_processes import RedisProcesses

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The Redis the tests use: ``REDIS_URL`` or the local default; the run stops if it does not answer."""
    url = os.environ.get("REDIS_URL", DEFAULT_REDIS_URL)
    probe = RedisStore(url, prefix="test:probe:")
    try:
        probe.ping()
    except StoreUnavailable:
        pytest.exit(
            f"No Redis answered at {_without_credentials(url)}. "
            "The store tests need a real Redis: run the tests with the README's test command, "
            "which starts redis-server, or set REDIS_URL to a running one.",
            returncode=3,
        )
    finally:
        probe.close()
    return url


@pytest.fixture(scope="session")
def _redis_admin(redis_url: str) -> Iterator[redis.Redis]:
    """A raw client used only to clean up after tests."""
    client = redis.Redis.from_url(redis_url, socket_timeout=2)
    yield client
    client.close()


@pytest.fixture
def make_redis_store(redis_url: str, _redis_admin: redis.Redis) -> Iterator[Callable[[], RedisStore]]:
    """Factory for RedisStores, each under a fresh ``test:<uuid>:`` prefix, all cleaned up afterwards."""
    made: list[RedisStore] = []
    prefixes: list[str] = []

    def make() -> RedisStore:
        prefix = f"test:{uuid4().hex}:"
        store = RedisStore(redis_url, prefix=prefix)
        made.append(store)
        prefixes.append(prefix)
        return store

    yield make
    for store in made:
        store.close()
    for prefix in prefixes:
        _delete_prefix(_redis_admin, prefix)


@pytest.fixture
def redis_store(make_redis_store: Callable[[], RedisStore]) -> RedisStore:
    """A RedisStore whose keys are private to this test and deleted at teardown."""
    return make_redis_store()


@pytest.fixture(scope="session")
def redis_cluster_ports(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[int]]:
    """The ports of a private three-node Redis Cluster for this test session (`tests.redis_processes`)."""
    processes = RedisProcesses(tmp_path_factory.mktemp("redis-cluster"))
    try:
        yield processes.cluster(3)
    finally:
        processes.stop()


@pytest.fixture(scope="session")
def redis_cluster_url(redis_cluster_ports: list[int]) -> str:
    """The store URL of the private cluster: one node to learn the layout from."""
    return f"redis+cluster://127.0.0.1:{redis_cluster_ports[0]}"


@pytest.fixture
def cluster_store(redis_cluster_url: str) -> Iterator[RedisClusterStore]:
    """A RedisClusterStore on the private cluster, under a fresh prefix (the cluster goes away with the session)."""
    store = RedisClusterStore(redis_cluster_url, prefix=f"test:{uuid4().hex}:")
    yield store
    store.close()


@pytest.fixture
def memory_store() -> MemoryStore:
    """A fresh in-process store."""
    return MemoryStore()


def _without_credentials(url: str) -> str:
    """The URL to show in a message: scheme, host, port and path, never a password."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


def _delete_prefix(client: redis.Redis, prefix: str) -> None:
    """Delete the keys under ``prefix`` only (SCAN MATCH, then DEL in batches)."""
    batch: list[bytes] = []
    for key in client.scan_iter(match=f"{prefix}*", count=500):
        batch.append(key)
        if len(batch) >= 500:
            client.delete(*batch)
            batch.clear()
    if batch:
        client.delete(*batch)


# ---------------------------------------------------------------------------
# End of store fixtures.
# ---------------------------------------------------------------------------
