"""Private `redis-server` processes for tests that need a topology of their own (Sentinel, Cluster).

Each listens on a free loopback port and keeps nothing on disk but the config files Sentinel and
Cluster mode write into the test's directory, so the shared Redis the other tests use is never touched.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import redis

CLUSTER_SLOTS = 16384


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for(condition: Callable[[], object], what: str, timeout: float = 30) -> None:
    """Poll ``condition`` until it is true; Redis errors meanwhile count as not yet."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except redis.RedisError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def client(port: int) -> redis.Redis:
    """A plain client of the server on ``port``."""
    return redis.Redis(port=port, socket_timeout=2)


class RedisProcesses:
    """Starts `redis-server` processes in ``workdir`` and stops them all at `stop`."""

    def __init__(self, workdir: Path) -> None:
        binary = shutil.which("redis-server")
        assert binary, "redis-server is needed (the README's test command installs it)"
        self._binary = binary
        self._workdir = workdir
        self._processes: list[subprocess.Popen[bytes]] = []

    def server(self, *args: str) -> int:
        """Start a server with ``args``; its port once it answers."""
        port = free_port()
        command = [self._binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        self._start([*command, "--dir", str(self._workdir), *args])
        wait_for(lambda: client(port).ping(), f"redis-server on port {port}")
        return port

    def sentinel(self, config: str) -> None:
        """Start a Sentinel from ``config`` (it rewrites its config file, so it gets one of its own)."""
        path = self._workdir / f"sentinel-{len(self._processes)}.conf"
        path.write_text(config, encoding="utf-8")
        self._start([self._binary, str(path), "--sentinel"])

    def cluster(self, nodes: int = 3) -> list[int]:
        """Start a cluster of ``nodes`` primaries owning equal slot ranges; their ports once it is up."""
        # The bus port would default to the port + 10000, past 65535 for a high free port: name it.
        bus_ports = [free_port() for _ in range(nodes)]
        ports = [
            self.server("--cluster-enabled", "yes", "--cluster-config-file", f"nodes-{index}.conf",
                        "--cluster-port", str(bus_port))
            for index, bus_port in enumerate(bus_ports)
        ]  # fmt: skip
        for index, port in enumerate(ports):
            first, last = CLUSTER_SLOTS * index // nodes, CLUSTER_SLOTS * (index + 1) // nodes - 1
            client(port).execute_command("CLUSTER", "ADDSLOTSRANGE", first, last)
        for port, bus_port in zip(ports[1:], bus_ports[1:], strict=True):
            client(ports[0]).execute_command("CLUSTER", "MEET", "127.0.0.1", port, bus_port)
        for port in ports:
            wait_for(lambda port=port: _cluster_ready(port, nodes), "the cluster")
        return ports

    def stop(self) -> None:
        """Stop every process started here."""
        for process in self._processes:
            process.terminate()
        for process in self._processes:
            process.wait(timeout=10)

    def _start(self, command: list[str]) -> None:
        self._processes.append(subprocess.Popen(command, stdout=subprocess.DEVNULL, cwd=self._workdir))


def _cluster_ready(port: int, nodes: int) -> bool:
    info = client(port).cluster("info")
    return bool(info["cluster_state"] == "ok" and int(info["cluster_known_nodes"]) == nodes)
