"""Run the real gateway under gunicorn and drive logins through it, as a browser and an e-service would.

The gateway gets a generated configuration: the Redis store under a test's own
key prefix, fresh keys, and one provider per peer IdP (its metadata written to
a file, as an operator would). The e-service side is authlib's OAuth 2 client;
the browser is a `requests.Session` stepping through redirects one at a time,
so every hop can be inspected or tampered with.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from collections.abc import Mapping
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs
from urllib.parse import urlsplit
from uuid import uuid4

import redis
import requests
import yaml
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from joserfc import jwt
from joserfc.jwk import KeySet
from joserfc.jwk import RSAKey

from gateway.trust.keystore import generate_keys
from tests.peers.saml_idp import PeerIdP
from tests.peers.saml_idp import PostedResponse

ROOT = Path(__file__).resolve().parents[2]
SCOPE = "openid https://id.oidc.se/scope/naturalPersonNumber https://id.oidc.se/scope/naturalPersonInfo"


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class TestClient:
    """An e-service registered at the gateway."""

    client_id: str
    redirect_uri: str
    secret: str | None = None
    key: RSAKey | None = None
    auth_method: str = "client_secret_basic"
    options: Mapping[str, Any] = field(default_factory=dict)
    """Further registration keys (scopes, sp, userinfo_signed_response_alg...), over the defaults."""


@dataclass
class RunningGateway:
    """A gateway process and what the tests need to talk to it."""

    url: str
    workdir: Path
    process: subprocess.Popen[bytes]
    prefix: str
    clients: dict[str, TestClient]
    log_path: Path
    peers: dict[str, PeerIdP] = field(default_factory=dict)
    metrics_token: str | None = None
    """The bearer token /metrics wants (`metrics.token`), which production gateways get by default."""

    def stop(self) -> None:
        """Terminate gunicorn and wait for it."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def workers(self, count: int = 2) -> list[int]:
        """PIDs of the gunicorn workers, once at least ``count`` of them run (waits up to 15 s)."""
        master = self.process.pid
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            children = [int(p) for p in Path(f"/proc/{master}/task/{master}/children").read_text().split()]
            if len(children) >= count:
                return children
            time.sleep(0.1)
        raise AssertionError(f"gunicorn did not have {count} workers")

    def log_text(self) -> str:
        """What gunicorn and the gateway wrote to stderr so far."""
        return self.log_path.read_text(encoding="utf-8", errors="replace")


def write_config(
    workdir: Path,
    *,
    url: str,
    redis_url: str,
    prefix: str,
    peers: Mapping[str, PeerIdP],
    clients: Mapping[str, TestClient],
    workers: int,
    extra: Mapping[str, Any] | None = None,
    provider_options: Mapping[str, Mapping[str, Any]] | None = None,
) -> Path:
    """gateway.yaml plus provider and metadata files for ``peers``; ``provider_options`` adds keys per provider."""
    (workdir / "idp_configs").mkdir(parents=True, exist_ok=True)
    (workdir / "metadata").mkdir(exist_ok=True)
    metadata = []
    for provider_id, peer in peers.items():
        (workdir / "metadata" / f"{provider_id}.xml").write_text(peer.metadata_xml(), encoding="utf-8")
        metadata.append({"file": f"metadata/{provider_id}.xml"})
        provider = {
            "id": provider_id,
            "entity_id": peer.entity_id,
            "display_name": {"sv": f"Test {provider_id}", "en": f"Test {provider_id}"},
            "loas": list(peer.loas),
            "attribute_set": "pnr-01",
            **(provider_options or {}).get(provider_id, {}),
        }
        (workdir / "idp_configs" / f"{provider_id}.yaml").write_text(yaml.safe_dump(provider), encoding="utf-8")
    client_entries = []
    for client in clients.values():
        entry: dict[str, Any] = {
            "client_id": client.client_id,
            "redirect_uris": [client.redirect_uri],
            "token_endpoint_auth_method": client.auth_method,
            "client_name": {"sv": f"E-tjänst {client.client_id}", "en": f"E-service {client.client_id}"},
            "scopes": SCOPE.split(),
        }
        if client.secret:
            entry["client_secret"] = client.secret
        if client.key is not None:
            entry["jwks"] = {"keys": [client.key.as_dict(private=False)]}
        entry.update(client.options)
        client_entries.append(entry)
    config = {
        "environment": "development",
        "sandbox": False,
        "issuer": url,
        "keys_dir": "keys",
        "workers": workers,
        "store": {"url": redis_url, "prefix": prefix},
        "providers": list(peers),
        "clients": client_entries,
        **(extra or {}),
        "saml": {"metadata": metadata, **(extra or {}).get("saml", {})},
    }
    path = workdir / "gateway.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return path


def start_gateway(
    workdir: Path,
    *,
    redis_url: str,
    prefix: str,
    peers: Mapping[str, PeerIdP],
    clients: Mapping[str, TestClient],
    workers: int = 1,
    extra: Mapping[str, Any] | None = None,
    provider_options: Mapping[str, Mapping[str, Any]] | None = None,
) -> RunningGateway:
    """Start gunicorn with the generated configuration and wait until it answers.

    A production gateway gets a `metrics.token` unless ``extra`` sets `metrics`, as production closes
    /metrics without one; `RunningGateway.metrics_token` holds it.
    """
    extra = dict(extra or {})
    if extra.get("environment") == "production" and "metrics" not in extra:
        extra["metrics"] = {"token": secrets.token_urlsafe(32)}
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    workdir.mkdir(parents=True, exist_ok=True)
    generate_keys(workdir / "keys")
    config = write_config(
        workdir, url=url, redis_url=redis_url, prefix=prefix, peers=peers, clients=clients, workers=workers,
        extra=extra, provider_options=provider_options,
    )  # fmt: skip
    env = dict(os.environ)
    env.update(
        EID_GATEWAY_CONFIG=str(config),
        EID_GATEWAY_BIND=f"127.0.0.1:{port}",
        EID_GATEWAY_WORKERS=str(workers),
        EID_GATEWAY_LOG_LEVEL="INFO",
    )
    log_path = workdir / "gateway.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "-c",
                str(ROOT / "deploy" / "gunicorn.conf.py"),
                "gateway.wsgi:app",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    metrics_token = (extra.get("metrics") or {}).get("token")
    gateway = RunningGateway(url, workdir, process, prefix, dict(clients), log_path, dict(peers), metrics_token)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gateway exited with {process.returncode}:\n{gateway.log_text()}")
        try:
            if requests.get(f"{url}/readyz", timeout=1).status_code == 200:
                break
        except requests.RequestException:  # not listening yet, or the worker is still loading
            pass
        time.sleep(0.1)
    else:
        gateway.stop()
        raise RuntimeError(f"gateway did not become ready:\n{gateway.log_text()}")
    sp_paths = ["/saml/metadata"] + [
        f"/saml/metadata/{sp['id']}" for sp in (extra or {}).get("saml", {}).get("service_providers", [])
    ]
    for path in sp_paths:
        sp_metadata = requests.get(f"{url}{path}", timeout=5).text
        for peer in peers.values():
            peer.trust_sp(sp_metadata)
    return gateway


def delete_keys(redis_url: str, prefix: str) -> None:
    """Delete the keys under ``prefix``, and only those (never FLUSHDB: the Redis may be shared)."""
    if redis_url.startswith("redis+cluster://"):
        return  # the tests' private cluster (`redis_cluster_url`) ends with the session
    client = redis.Redis.from_url(redis_url, socket_timeout=5)
    keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


@contextmanager
def running_gateway(workdir: Path, *, redis_url: str, **options: Any) -> Iterator[RunningGateway]:
    """`start_gateway` under a fresh key prefix; stopped and its keys deleted afterwards."""
    prefix = f"test:{uuid4().hex}:"
    gateway = start_gateway(workdir, redis_url=redis_url, prefix=prefix, **options)
    try:
        yield gateway
    finally:
        gateway.stop()
        delete_keys(redis_url, prefix)


@dataclass
class Rp:
    """An e-service's OIDC client (authlib), with the values of one authorization request."""

    gateway: RunningGateway
    client: TestClient
    session: OAuth2Session
    state: str = ""
    nonce: str = ""
    verifier: str = ""

    @classmethod
    def for_client(cls, gateway: RunningGateway, client_id: str) -> Rp:
        """An authlib session for ``client_id`` (PKCE S256)."""
        client = gateway.clients[client_id]
        kwargs: dict[str, Any] = {}
        if client.auth_method == "private_key_jwt":
            from authlib.oauth2.rfc7523 import PrivateKeyJWT

            kwargs["token_endpoint_auth_method"] = PrivateKeyJWT(f"{gateway.url}/token")
            kwargs["client_secret"] = client.key.as_dict(private=True) if client.key else None
        else:
            kwargs["client_secret"] = client.secret
            kwargs["token_endpoint_auth_method"] = client.auth_method
        session = OAuth2Session(
            client.client_id,
            scope=SCOPE,
            redirect_uri=client.redirect_uri,
            code_challenge_method="S256",
            **kwargs,
        )
        return cls(gateway, client, session)

    def authorization_url(self, **extra: str) -> str:
        """A fresh authorization request URL with state, nonce and a PKCE challenge."""
        self.verifier = generate_token(48)
        self.nonce = generate_token(20)
        url, self.state = self.session.create_authorization_url(
            f"{self.gateway.url}/authorize", code_verifier=self.verifier, nonce=self.nonce, **extra
        )
        return str(url)

    def fetch_token(self, callback_url: str, **kwargs: Any) -> dict[str, Any]:
        """Redeem the code in ``callback_url`` at the token endpoint."""
        return dict(
            self.session.fetch_token(
                f"{self.gateway.url}/token",
                authorization_response=callback_url,
                code_verifier=kwargs.pop("code_verifier", self.verifier),
                **kwargs,
            )
        )

    def verify_id_token(self, id_token: str, alg: str = "RS256") -> dict[str, Any]:
        """Verify the ID token (signed with ``alg``, no other) against the gateway's JWKS; check the standard claims."""
        jwks = KeySet.import_key_set(requests.get(f"{self.gateway.url}/jwks", timeout=5).json())
        token = jwt.decode(id_token, jwks, algorithms=[alg])
        assert token.header.get("kid"), "ID token must carry a kid"
        registry = jwt.JWTClaimsRegistry(
            iss={"essential": True, "value": self.gateway.url},
            aud={"essential": True, "value": self.client.client_id},
            exp={"essential": True},
            iat={"essential": True},
            nonce={"essential": True, "value": self.nonce},
        )
        registry.validate(token.claims)
        return dict(token.claims)


@contextmanager
def only_worker(worker: int, workers: Sequence[int]) -> Iterator[None]:
    """Pause (SIGSTOP) every worker but ``worker`` for the duration, so it serves every request."""
    paused = [pid for pid in workers if pid != worker]
    for pid in paused:
        os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        for pid in paused:
            os.kill(pid, signal.SIGCONT)


def query(url: str) -> dict[str, str]:
    """The query parameters of ``url`` (single-valued)."""
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


@dataclass
class LoginSteps:
    """Each hop of one login, for tests that inspect or tamper with one of them."""

    browser: requests.Session
    rp: Rp
    peer: PeerIdP
    upstream_url: str = ""
    posted: PostedResponse | None = None
    resume_url: str = ""
    callback_url: str = ""

    def start(self, **extra: str) -> requests.Response:
        """Browser: e-service -> /authorize."""
        response = self.browser.get(self.rp.authorization_url(**extra), allow_redirects=False, timeout=10)
        if response.status_code == 302:
            self.upstream_url = response.headers["Location"]
        return response

    def choose(self, chooser: requests.Response, provider_id: str) -> requests.Response:
        """Browser: submit the chooser form for ``provider_id``."""
        fields = dict(re.findall(r'name="(tx|csrf)" value="([^"]+)"', chooser.text))
        assert set(fields) == {"tx", "csrf"}, chooser.text
        response = self.browser.post(
            f"{self.rp.gateway.url}/login/choose", data={**fields, "provider": provider_id}, allow_redirects=False,
            timeout=10,
        )  # fmt: skip
        if response.status_code == 303:
            self.upstream_url = response.headers["Location"]
        return response

    def respond(self, **kwargs: Any) -> PostedResponse:
        """IdP: answer the AuthnRequest the browser carried."""
        request = self.peer.receive(self.upstream_url)
        self.posted = self.peer.respond(request, **kwargs)
        return self.posted

    def post_to_acs(self, posted: PostedResponse | None = None) -> requests.Response:
        """Browser: the IdP's auto-POST to the gateway's ACS."""
        posted = posted or self.posted
        assert posted is not None
        response = self.browser.post(posted.acs_url, data=posted.form(), allow_redirects=False, timeout=10)
        if response.status_code == 303:
            location = response.headers["Location"]
            self.resume_url = location if location.startswith("http") else self.rp.gateway.url + location
        return response

    def resume(self) -> requests.Response:
        """Browser: the same-site resume step."""
        response = self.browser.get(self.resume_url, allow_redirects=False, timeout=10)
        if response.status_code == 302:
            self.callback_url = response.headers["Location"]
        return response


def full_login(
    gateway: RunningGateway, client_id: str, provider_id: str, **respond: Any
) -> tuple[LoginSteps, dict[str, Any]]:
    """A complete login; returns the steps and the token response."""
    steps = LoginSteps(requests.Session(), Rp.for_client(gateway, client_id), gateway.peers[provider_id])
    started = steps.start()
    if started.status_code == 200:
        assert steps.choose(started, provider_id).status_code == 303
    else:
        assert started.status_code == 302, started.text
    steps.respond(**respond)
    assert steps.post_to_acs().status_code == 303
    assert steps.resume().status_code == 302
    token = steps.rp.fetch_token(steps.callback_url)
    return steps, token


def dump(value: Any) -> str:
    """Readable JSON for assertion messages."""
    return json.dumps(value, indent=1, default=str)
