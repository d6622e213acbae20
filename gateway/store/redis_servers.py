"""Which Redis the store talks to: the server a URL names, the primary Redis Sentinel names, or the nodes
a Redis Cluster URL lists (parsed here, used by `gateway.store.redis_cluster_store`).

For high availability Redis runs as a primary with replicas watched by Sentinel, which promotes a
replica when the primary fails. The gateway then takes the Sentinel nodes and the service name,
not a server address:

    redis+sentinel://[[user]:password@]host[:port][,host[:port]...]/service[/db][?sentinel_auth=true]

``rediss+sentinel://`` uses TLS to the Sentinel nodes and to the servers (``ssl_ca_certs`` may name
the CA file). Port 26379 is Sentinel's default. The credentials are the servers'; Sentinel nodes are
asked without them unless ``sentinel_auth=true`` says they require the same ones.

Each new connection asks the Sentinel nodes for the current primary (redis-py's
`SentinelManagedConnection`). A connection to a primary that has since been demoted gets a READONLY
reply, which redis-py turns into a connection error; the store then retries once on a new connection,
which finds the new primary. While Sentinel has not yet promoted a replica, operations fail as
`StoreUnavailable`, as they would with a single server down.

Errors name what is wrong with the URL, never the URL: it may hold a password.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field
from typing import Any
from urllib.parse import parse_qsl
from urllib.parse import unquote

import redis
from redis.sentinel import Sentinel
from redis.sentinel import SentinelConnectionPool

SENTINEL_SCHEMES = frozenset({"redis+sentinel", "rediss+sentinel"})
CLUSTER_SCHEMES = frozenset({"redis+cluster", "rediss+cluster"})
_SENTINEL_PORT = 26379
_REDIS_PORT = 6379
_SENTINEL_OPTIONS = frozenset({"sentinel_auth", "ssl_ca_certs"})
_SERVICE = re.compile(r"[A-Za-z0-9._-]{1,64}")
_HOST = re.compile(r"\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]{1,253}")


@dataclass(frozen=True, slots=True)
class _NodesUrl:
    """What Sentinel and Cluster URLs share: TLS or not, credentials, a list of nodes, a path, options."""

    tls: bool
    username: str | None
    password: str | None = field(repr=False)
    nodes: tuple[tuple[str, int], ...]
    path: tuple[str, ...]
    options: dict[str, str]


def _parse_nodes_url(url: str, schemes: frozenset[str], what: str, port: int, options: frozenset[str]) -> _NodesUrl:
    scheme, separator, rest = url.partition("://")
    if not separator or scheme.lower() not in schemes:
        raise ValueError(f"a {what} URL starts with {' or '.join(f'{s}://' for s in sorted(schemes))}")
    rest, _, query = rest.partition("?")
    authority, _, path = rest.partition("/")
    credentials, at, hosts = authority.rpartition("@")
    username = password = None
    if at:
        user, colon, secret = credentials.partition(":")
        username, password = (unquote(user) or None), (unquote(secret) if colon else None)
    nodes = tuple(_host_port(part, what, port) for part in hosts.split(","))
    given = dict(parse_qsl(query, keep_blank_values=True))
    unknown = sorted(set(given) - options)
    if unknown:
        raise ValueError(f"unknown {what} URL option {unknown[0]!r}: use {' or '.join(sorted(options))}")
    return _NodesUrl(
        tls=scheme.lower().startswith("rediss+"), username=username, password=password, nodes=nodes,
        path=tuple(segment for segment in path.split("/") if segment), options=given,
    )  # fmt: skip


def _host_port(part: str, what: str, default_port: int) -> tuple[str, int]:
    host, port = part, str(default_port)
    if ":" in part and not part.endswith("]"):
        host, _, port = part.rpartition(":")
    if not _HOST.fullmatch(host) or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"each {what} node is host or host:port, separated by commas")
    return host.strip("[]"), int(port)


@dataclass(frozen=True, slots=True)
class SentinelAddress:
    """A parsed ``redis+sentinel://`` URL."""

    sentinels: tuple[tuple[str, int], ...]
    service: str
    db: int
    username: str | None
    password: str | None = field(repr=False)
    tls: bool
    sentinel_auth: bool
    ca_file: str | None


def parse_sentinel_url(url: str) -> SentinelAddress:
    """The parts of a Sentinel URL (see the module docstring); ValueError saying what is wrong."""
    parts = _parse_nodes_url(
        url, SENTINEL_SCHEMES, "Sentinel", _SENTINEL_PORT, frozenset({"sentinel_auth", "ssl_ca_certs"})
    )
    segments = parts.path
    if not segments or not _SERVICE.fullmatch(segments[0]):
        raise ValueError("name the Sentinel service after the hosts: redis+sentinel://host:26379/service")
    if len(segments) > 2 or (len(segments) == 2 and not segments[1].isdigit()):
        raise ValueError("after the service name only a database number may follow: /service/0")
    sentinel_auth = parts.options.get("sentinel_auth", "false").lower()
    if sentinel_auth not in ("true", "false"):
        raise ValueError("sentinel_auth is true or false")
    return SentinelAddress(
        sentinels=parts.nodes,
        service=segments[0],
        db=int(segments[1]) if len(segments) == 2 else 0,
        username=parts.username,
        password=parts.password,
        tls=parts.tls,
        sentinel_auth=sentinel_auth == "true",
        ca_file=parts.options.get("ssl_ca_certs") or None,
    )


@dataclass(frozen=True, slots=True)
class ClusterAddress:
    """A parsed ``redis+cluster://`` URL: the nodes to ask for the cluster's layout first."""

    nodes: tuple[tuple[str, int], ...]
    username: str | None
    password: str | None = field(repr=False)
    tls: bool
    ca_file: str | None


def parse_cluster_url(url: str) -> ClusterAddress:
    """The parts of a Cluster URL (see `gateway.store.redis_cluster_store`); ValueError saying what is wrong."""
    parts = _parse_nodes_url(url, CLUSTER_SCHEMES, "Cluster", _REDIS_PORT, frozenset({"ssl_ca_certs"}))
    if parts.path:
        raise ValueError("a Redis Cluster has one database: nothing may follow the nodes but options")
    return ClusterAddress(
        nodes=parts.nodes, username=parts.username, password=parts.password, tls=parts.tls,
        ca_file=parts.options.get("ssl_ca_certs") or None,
    )  # fmt: skip


Connect = Callable[[], Any]
"""Makes a new, not yet connected redis-py connection (it connects on first use)."""


def connection_factory(url: str, socket_timeout: float) -> Connect:
    """How to make a connection to the server ``url`` names; ValueError for a URL that cannot work."""
    timeouts: dict[str, Any] = {"socket_timeout": socket_timeout, "socket_connect_timeout": socket_timeout}
    if url.partition("://")[0].lower() not in SENTINEL_SCHEMES:
        settings = redis.ConnectionPool.from_url(url, **timeouts)
        single_class, single_kwargs = settings.connection_class, settings.connection_kwargs
        return lambda: single_class(**single_kwargs)
    address = parse_sentinel_url(url)
    server: dict[str, Any] = {**timeouts, "db": address.db, "username": address.username, "password": address.password}
    tls: dict[str, Any] = {"ssl": True, "ssl_ca_certs": address.ca_file} if address.tls else {}
    sentinel_kwargs = {**timeouts, **tls}
    if address.sentinel_auth:
        sentinel_kwargs |= {"username": address.username, "password": address.password}
    sentinel = Sentinel(list(address.sentinels), sentinel_kwargs=sentinel_kwargs, **server)  # type: ignore[no-untyped-call,unused-ignore]  # typed from redis 8.2
    # The pool is only where redis-py keeps the service name and the current primary for its
    # connections; the store never takes a connection from it.
    pool = SentinelConnectionPool(address.service, sentinel, **server, **tls)  # type: ignore[no-untyped-call]
    sentinel_class, sentinel_connection_kwargs = pool.connection_class, pool.connection_kwargs
    return lambda: sentinel_class(**sentinel_connection_kwargs)
