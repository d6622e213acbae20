"""The store behind Redis Sentinel: it finds the primary, and follows it when Sentinel promotes a replica.

Its URL is tested in tests/store/test_store_urls.py.

The failover test runs a private primary, its replica and a Sentinel (`tests.redis_processes`), so it
never touches the shared Redis the other tests use.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from gateway.errors import StoreUnavailable
from gateway.store import open_store
from gateway.store.redis_store import RedisStore
from tests.redis_processes import RedisProcesses
from tests.redis_processes import client
from tests.redis_processes import free_port
from tests.redis_processes import wait_for

SERVICE = "gateway-test"


class _Servers:
    """A primary, a replica of it and one Sentinel watching them, as child processes."""

    def __init__(self, workdir: Path) -> None:
        self.processes = RedisProcesses(workdir)
        self.primary = self.processes.server()
        self.replica = self.processes.server("--replicaof", "127.0.0.1", str(self.primary))
        self.sentinel = free_port()
        self.processes.sentinel(
            f"port {self.sentinel}\nbind 127.0.0.1\n"
            f"sentinel monitor {SERVICE} 127.0.0.1 {self.primary} 1\n"
            f"sentinel down-after-milliseconds {SERVICE} 1000\nsentinel failover-timeout {SERVICE} 10000\n"
        )

    def client(self, port: int) -> redis.Redis:
        return client(port)

    def current_primary_port(self) -> int:
        _host, port = self.client(self.sentinel).sentinel_get_master_addr_by_name(SERVICE)
        return int(port)


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[_Servers]:
    running = _Servers(tmp_path)
    try:
        yield running
    finally:
        running.processes.stop()


def test_the_store_follows_the_primary_through_a_sentinel_failover(servers: _Servers) -> None:
    wait_for(lambda: servers.client(servers.replica).info("replication")["master_link_status"] == "up", "the replica")
    wait_for(lambda: servers.client(servers.sentinel).sentinel_slaves(SERVICE), "Sentinel to see the replica")
    store = open_store(f"redis+sentinel://127.0.0.1:{servers.sentinel}/{SERVICE}", prefix="sentinel-test:")
    assert isinstance(store, RedisStore)
    store.put("before", b"written to the first primary", 60)
    wait_for(lambda: servers.client(servers.replica).get("sentinel-test:before"), "replication")

    # Sentinel refuses (NOGOODSLAVE) until it has fresh word from the replica, a few seconds after start.
    failover = servers.client(servers.sentinel).execute_command
    wait_for(lambda: failover("SENTINEL", "FAILOVER", SERVICE), "Sentinel to accept a failover")
    wait_for(lambda: servers.current_primary_port() == servers.replica, "Sentinel to promote the replica")
    wait_for(lambda: servers.client(servers.primary).info("replication")["role"] == "slave", "the demotion")

    def write_after_failover() -> bool:
        try:
            store.put("after", b"written to the promoted replica", 60)
        except StoreUnavailable:  # only while Sentinel is still reconfiguring
            return False
        return True

    wait_for(write_after_failover, "a write through the store after the failover", timeout=15)
    assert servers.client(servers.replica).get("sentinel-test:after") == b"written to the promoted replica"
    assert store.take("before") == b"written to the first primary"
    assert servers.client(servers.replica).get("sentinel-test:before") is None
