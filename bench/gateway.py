"""Run the real gateway for the benchmark: gunicorn, Redis, production settings behind a "TLS proxy".

The gateway is configured as in production (``environment: production``): an https issuer, a
configured ``secret_key``, keys from ``keys generate``, the Redis store, federation metadata signed
by a "federation operator" key whose certificate is pinned, SP metadata details, INFO-level JSON logs
with audit events, werkzeug's ProxyFix for one proxy hop. Only TLS itself is absent: the harness plays
the TLS-terminating reverse proxy the README prescribes, talking plain HTTP to gunicorn on
127.0.0.1 with ``X-Forwarded-Proto: https``, so the issuer is ``https://127.0.0.1:<port>``.

CPU is read from ``/proc/<pid>/stat`` (utime + stime) of the gunicorn master and its workers, the
gateway processes' own accounting, so the harness's CPU is never counted as the gateway's.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import redis
import requests
import yaml

from bench.idp import federation_metadata
from gateway.trust.certs import KeyPair
from gateway.trust.certs import generate_key_pair
from gateway.trust.keystore import generate_keys

ROOT = Path(__file__).absolute().parents[1]
GUNICORN_CONF = Path(__file__).absolute().parent / "gunicorn_conf.py"
CLIENT_ID = "bench-rp"
REDIRECT_URI = "https://rp.bench.invalid/callback"
SCOPE = "openid https://id.oidc.se/scope/naturalPersonNumber https://id.oidc.se/scope/naturalPersonInfo"
IDP_ENTITY_ID = "https://idp.bench.invalid/idp"
IDP_SSO_URL = "https://idp.bench.invalid/sso"
_CLK_TCK = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True, slots=True)
class GatewaySpec:
    """One gateway configuration to benchmark."""

    workers: int
    entities: int = 1


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """utime + stime of one process, in seconds (fields 14 and 15 of /proc/<pid>/stat, proc(5))."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = text.rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / _CLK_TCK


def run_queue_seconds(pid: int) -> float:
    """Time every thread of one process has spent on a run queue, ready but not running, in seconds.

    The second field of each thread's ``schedstat`` (the kernel's sched-stats.rst). CPU time says how
    much work the gateway did; this says how long it waited for a CPU to do it: latency that comes from
    the machine being busy, not from the gateway's code.
    """
    total = 0
    try:
        threads = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return 0.0
    for thread in threads:
        try:
            total += int(Path(f"/proc/{pid}/task/{thread}/schedstat").read_text().split()[1])
        except (OSError, IndexError, ValueError):
            continue
    return total / 1e9


def redis_cpu_seconds(redis_url: str) -> float | None:
    """CPU seconds the Redis server has used (``INFO cpu``, user + system), or None if it will not say.

    Redis's own accounting, so the number is right whichever process serves the URL; it is reported
    next to the gateway's, never added to it.
    """
    client = redis.Redis.from_url(redis_url, socket_timeout=2)
    try:
        info = client.info("cpu")
        return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])
    except (redis.RedisError, KeyError, ValueError):
        return None
    finally:
        client.close()


class BenchGateway:
    """A gunicorn gateway with a generated production configuration; use as a context manager."""

    def __init__(
        self,
        spec: GatewaySpec,
        workdir: Path,
        *,
        redis_url: str,
        idp_key: KeyPair,
        profile_dir: Path | None = None,
    ) -> None:
        self.spec = spec
        self.workdir = workdir
        self.redis_url = redis_url
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.issuer = f"https://127.0.0.1:{self.port}"
        self.prefix = f"bench:{secrets.token_hex(6)}:"
        self.client_secret = secrets.token_urlsafe(32)
        self.idp_key = idp_key
        self.profile_dir = profile_dir
        self.process: subprocess.Popen[bytes] | None = None
        self.sp_metadata = b""

    def __enter__(self) -> BenchGateway:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def write_config(self) -> Path:
        """Generate keys, metadata and the production configuration file in the work directory; return its path."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        generate_keys(self.workdir / "keys")
        (self.workdir / "idp_configs").mkdir(exist_ok=True)
        (self.workdir / "metadata").mkdir(exist_ok=True)
        metadata = self.workdir / "metadata" / f"federation-{self.spec.entities}.xml"
        signer = generate_key_pair("bench federation metadata signer")
        (self.workdir / "metadata" / "signer.crt").write_bytes(signer.cert_pem)
        metadata.write_text(
            federation_metadata(IDP_ENTITY_ID, IDP_SSO_URL, self.idp_key, self.spec.entities, signer),
            encoding="utf-8",
        )
        provider = {
            "id": "bench",
            "entity_id": IDP_ENTITY_ID,
            "display_name": {"sv": "Bänk-e-leg", "en": "Bench e-ID"},
            "loas": ["http://id.elegnamnden.se/loa/1.0/loa3"],
            "attribute_set": "pnr-01",
        }
        (self.workdir / "idp_configs" / "bench.yaml").write_text(yaml.safe_dump(provider), encoding="utf-8")
        config = {
            "environment": "production",
            "issuer": self.issuer,
            "secret_key": secrets.token_urlsafe(48),
            "keys_dir": "keys",
            "workers": self.spec.workers,
            "store": {"url": self.redis_url, "prefix": self.prefix},
            "providers": ["bench"],
            # Citizens arrive from many addresses (see bench.flows), the one e-service from one: its token
            # limit is raised to what a large e-service would be given. The limiter still counts every request.
            "rate_limits": {"token": 1_000_000},
            "saml": {
                "metadata": [{"file": f"metadata/{metadata.name}", "signing_cert": "metadata/signer.crt"}],
                "sp_metadata": {
                    "service_type": "public-sector-sp",
                    "display_name": {"sv": "Bänk-gateway", "en": "Bench gateway"},
                    "logos": [{"url": "https://bench.invalid/logo.svg", "width": 100, "height": 100}],
                    "organization": {
                        "name": {"sv": "Bänkkommunen"},
                        "display_name": {"sv": "Bänkkommunen"},
                        "url": {"sv": "https://bench.invalid/"},
                        "number": "2120000000",
                    },
                },
            },
            "clients": [
                {
                    "client_id": CLIENT_ID,
                    "client_name": {"sv": "Bänk-e-tjänst", "en": "Bench e-service"},
                    "redirect_uris": [REDIRECT_URI],
                    "token_endpoint_auth_method": "client_secret_basic",
                    "client_secret": self.client_secret,
                    "scopes": SCOPE.split(),
                }
            ],
        }
        path = self.workdir / "gateway.yaml"
        path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
        return path

    def start(self) -> None:
        """Start gunicorn and wait until every worker answers /readyz."""
        config = self.write_config()
        env = dict(os.environ)
        env.update(
            EID_GATEWAY_CONFIG=str(config),
            EID_GATEWAY_BIND=f"127.0.0.1:{self.port}",
            EID_GATEWAY_WORKERS=str(self.spec.workers),
            EID_GATEWAY_LOG_LEVEL="INFO",
        )
        env.pop("AUTHLIB_INSECURE_TRANSPORT", None)
        if self.profile_dir is not None:
            self.profile_dir.mkdir(parents=True, exist_ok=True)
            env["EID_BENCH_PROFILE_DIR"] = str(self.profile_dir)
        log = (self.workdir / "gateway.log").open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", str(GUNICORN_CONF), "gateway.wsgi:app"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gateway exited; see {self.workdir / 'gateway.log'}")
            if len(self.worker_pids()) == self.spec.workers and self._ready():
                break
            time.sleep(0.2)
        else:
            self.stop()
            raise RuntimeError(f"gateway did not become ready; see {self.workdir / 'gateway.log'}")
        self.sp_metadata = requests.get(f"{self.url}/saml/metadata", headers=self.headers(), timeout=10).content

    def _ready(self) -> bool:
        try:
            return requests.get(f"{self.url}/readyz", headers=self.headers(), timeout=2).status_code == 200
        except requests.RequestException:
            return False

    @staticmethod
    def headers() -> dict[str, str]:
        """What the TLS-terminating proxy adds (one hop, as ProxyFix is configured)."""
        return {"X-Forwarded-Proto": "https", "X-Forwarded-For": "127.0.0.1"}

    def worker_pids(self) -> list[int]:
        """The gunicorn workers (children of the master)."""
        if self.process is None:
            return []
        master = self.process.pid
        try:
            children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
        except OSError:
            return []
        return [int(pid) for pid in children]

    def cpu_seconds(self) -> float:
        """CPU seconds used so far by the master and every worker."""
        return sum(cpu_seconds(pid) for pid in self._pids())

    def wait_seconds(self) -> float:
        """Seconds the master and every worker have spent ready to run but waiting for a CPU, so far."""
        return sum(run_queue_seconds(pid) for pid in self._pids())

    def _pids(self) -> list[int]:
        """The master and every worker; none before the start."""
        return [] if self.process is None else [self.process.pid, *self.worker_pids()]

    def stop(self) -> None:
        """Stop gunicorn gracefully (workers write their profiles on exit), then drop our Redis keys."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        client = redis.Redis.from_url(self.redis_url)
        try:
            batch = []
            for key in client.scan_iter(match=f"{self.prefix}*", count=1000):
                batch.append(key)
                if len(batch) >= 1000:
                    client.delete(*batch)
                    batch.clear()
            if batch:
                client.delete(*batch)
        finally:
            client.close()
