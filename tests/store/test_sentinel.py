"""The store behind Redis Sentinel: it finds the primary, and follows it when Sentinel promotes a replica.

The failover test runs a private primary, its replica and a Sentinel (all `redis-server`, on free
loopback ports, nothing on disk) so it never touches the shared Redis the other tests use.
"""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import time
from collections.abc import Callable
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from gateway.errors import ConfigError
from gateway.errors import StoreUnavailable
from gateway.settings.load import load_settings
from gateway.store import check_store_url
from gateway.store import open_store
from gateway.store.redis_servers import parse_sentinel_url
from gateway.store.redis_store import RedisStore

SERVICE = "gateway-test"


def test_a_sentinel_url_names_the_nodes_the_service_and_the_database() -> None:
    address = parse_sentinel_url("redis+sentinel://:s3cret@a.example:26380,b.example,[::1]:26381/gw/2")
    assert address.sentinels == (("a.example", 26380), ("b.example", 26379), ("::1", 26381))
    assert (address.service, address.db, address.password, address.tls) == ("gw", 2, "s3cret", False)
    assert address.sentinel_auth is False
    assert "s3cret" not in repr(address)


def test_tls_and_sentinel_credentials_are_opt_in_options() -> None:
    address = parse_sentinel_url("rediss+sentinel://u:p@a.example/gw?sentinel_auth=true&ssl_ca_certs=/etc/ca.pem")
    assert (address.tls, address.sentinel_auth, address.ca_file, address.username) == (True, True, "/etc/ca.pem", "u")


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("redis+sentinel://:pw@a.example:26379", "name the Sentinel service"),
        ("redis+sentinel://:pw@a.example:port/gw", "host:port"),
        ("redis+sentinel://:pw@a.example:70000/gw", "host:port"),
        ("redis+sentinel://:pw@/gw", "host:port"),
        ("redis+sentinel://:pw@a.example/gw/zero", "database number"),
        ("redis+sentinel://:pw@a.example/gw?socket_timeout=9", "unknown Sentinel URL option 'socket_timeout'"),
        ("redis+sentinel://:pw@a.example/gw?sentinel_auth=yes", "sentinel_auth is true or false"),
    ],
)
def test_a_bad_sentinel_url_is_refused_saying_why_without_the_password(url: str, says: str) -> None:
    problem = check_store_url(url)
    assert problem is not None
    assert says in problem
    assert "pw" not in problem
    with pytest.raises(ValueError, match=re.escape(says)) as refused:
        open_store(url)
    assert "pw" not in str(refused.value)


def test_the_operator_hears_of_a_bad_store_url_at_load_naming_file_and_key(tmp_path: Path) -> None:
    config = tmp_path / "gateway.yaml"
    config.write_text("environment: development\nstore:\n  url: redis+sentinel://a.example\n", encoding="utf-8")
    with pytest.raises(ConfigError) as refused:
        load_settings(config)
    problems = refused.value.problems
    assert [(p.file, p.key) for p in problems if "Sentinel" in p.message] == [(str(config), "store.url")]


# -- a real primary, replica and Sentinel ---------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_for(condition: Callable[[], object], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except redis.RedisError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


class _Servers:
    """A primary, a replica of it and one Sentinel watching them, as child processes."""

    def __init__(self, workdir: Path) -> None:
        binary = shutil.which("redis-server")
        assert binary, "redis-server is needed (the README's test command installs it)"
        self.primary, self.replica, self.sentinel = _free_port(), _free_port(), _free_port()
        common = ["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        self.processes = [
            subprocess.Popen([binary, "--port", str(self.primary), *common], stdout=subprocess.DEVNULL),
            subprocess.Popen(
                [binary, "--port", str(self.replica), "--replicaof", "127.0.0.1", str(self.primary), *common],
                stdout=subprocess.DEVNULL,
            ),
        ]
        config = workdir / "sentinel.conf"  # Sentinel rewrites its config file: it must be writable
        config.write_text(
            f"port {self.sentinel}\nbind 127.0.0.1\n"
            f"sentinel monitor {SERVICE} 127.0.0.1 {self.primary} 1\n"
            f"sentinel down-after-milliseconds {SERVICE} 1000\nsentinel failover-timeout {SERVICE} 10000\n",
            encoding="utf-8",
        )
        self.processes.append(subprocess.Popen([binary, str(config), "--sentinel"], stdout=subprocess.DEVNULL))

    def client(self, port: int) -> redis.Redis:
        return redis.Redis(port=port, socket_timeout=2)

    def current_primary_port(self) -> int:
        _host, port = self.client(self.sentinel).sentinel_get_master_addr_by_name(SERVICE)
        return int(port)

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            process.wait(timeout=10)


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[_Servers]:
    running = _Servers(tmp_path)
    try:
        yield running
    finally:
        running.stop()


def test_the_store_follows_the_primary_through_a_sentinel_failover(servers: _Servers) -> None:
    _wait_for(lambda: servers.client(servers.replica).info("replication")["master_link_status"] == "up", "the replica")
    _wait_for(lambda: servers.client(servers.sentinel).sentinel_slaves(SERVICE), "Sentinel to see the replica")
    store = open_store(f"redis+sentinel://127.0.0.1:{servers.sentinel}/{SERVICE}", prefix="sentinel-test:")
    assert isinstance(store, RedisStore)
    store.put("before", b"written to the first primary", 60)
    _wait_for(lambda: servers.client(servers.replica).get("sentinel-test:before"), "replication")

    # Sentinel refuses (NOGOODSLAVE) until it has fresh word from the replica, a few seconds after start.
    failover = servers.client(servers.sentinel).execute_command
    _wait_for(lambda: failover("SENTINEL", "FAILOVER", SERVICE), "Sentinel to accept a failover")
    _wait_for(lambda: servers.current_primary_port() == servers.replica, "Sentinel to promote the replica")
    _wait_for(lambda: servers.client(servers.primary).info("replication")["role"] == "slave", "the demotion")

    def write_after_failover() -> bool:
        try:
            store.put("after", b"written to the promoted replica", 60)
        except StoreUnavailable:  # only while Sentinel is still reconfiguring
            return False
        return True

    _wait_for(write_after_failover, "a write through the store after the failover", timeout=15)
    assert servers.client(servers.replica).get("sentinel-test:after") == b"written to the promoted replica"
    assert store.take("before") == b"written to the first primary"
    assert servers.client(servers.replica).get("sentinel-test:before") is None
