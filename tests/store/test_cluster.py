"""The store on a Redis Cluster when the cluster cannot be reached (its URL: tests/store/test_store_urls.py).

The store contract itself runs on the cluster store in tests/store/test_contract.py, against the tests'
private three-node cluster (`redis_cluster_url`).
"""

from __future__ import annotations

import pytest

from gateway.errors import StoreUnavailable
from gateway.store import open_store
from gateway.store.redis_cluster_store import RedisClusterStore
from tests.redis_processes import free_port


def test_an_unreachable_cluster_does_not_stop_the_gateway_starting_but_every_operation_says_so() -> None:
    store = open_store(f"redis+cluster://127.0.0.1:{free_port()}", prefix="test:")
    assert isinstance(store, RedisClusterStore)  # made without connecting: readiness reports the outage
    with pytest.raises(StoreUnavailable, match="store unavailable: ping failed"):
        store.ping()
    with pytest.raises(StoreUnavailable, match="store unavailable: put failed"):
        store.put("key", b"value", 10)


def test_a_prefix_with_braces_is_refused(redis_cluster_url: str) -> None:
    with pytest.raises(ValueError, match="braces"):
        RedisClusterStore(redis_cluster_url, prefix="{gw}:")
