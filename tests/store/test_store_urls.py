"""Store URLs for Redis Sentinel and Redis Cluster: what they name, and clear refusals that never echo a password."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gateway.errors import ConfigError
from gateway.settings.load import load_settings
from gateway.store import check_store_url
from gateway.store import open_store
from gateway.store.redis_servers import parse_cluster_url
from gateway.store.redis_servers import parse_sentinel_url


def test_a_sentinel_url_names_the_nodes_the_service_and_the_database() -> None:
    address = parse_sentinel_url("redis+sentinel://:s3cret@a.example:26380,b.example,[::1]:26381/gw/2")
    assert address.sentinels == (("a.example", 26380), ("b.example", 26379), ("::1", 26381))
    assert (address.service, address.db, address.password, address.tls) == ("gw", 2, "s3cret", False)
    assert address.sentinel_auth is False
    assert "s3cret" not in repr(address)


def test_tls_and_sentinel_credentials_are_opt_in_options() -> None:
    address = parse_sentinel_url("rediss+sentinel://u:p@a.example/gw?sentinel_auth=true&ssl_ca_certs=/etc/ca.pem")
    assert (address.tls, address.sentinel_auth, address.ca_file, address.username) == (True, True, "/etc/ca.pem", "u")


def test_a_cluster_url_names_the_nodes_to_start_from() -> None:
    address = parse_cluster_url("rediss+cluster://u:s3cret@a.example:7000,b.example/?ssl_ca_certs=/etc/ca.pem")
    assert address.nodes == (("a.example", 7000), ("b.example", 6379))
    assert (address.username, address.password, address.tls, address.ca_file) == ("u", "s3cret", True, "/etc/ca.pem")
    assert "s3cret" not in repr(address)


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
        ("redis+cluster://:pw@a.example/0", "a Redis Cluster has one database"),
        ("redis+cluster://:pw@a.example:99999", "host:port"),
        ("redis+cluster://:pw@a.example?sentinel_auth=true", "unknown Cluster URL option 'sentinel_auth'"),
        ("rediz://:pw@a.example", "unsupported"),
    ],
)
def test_a_bad_store_url_is_refused_saying_why_without_the_password(url: str, says: str) -> None:
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
