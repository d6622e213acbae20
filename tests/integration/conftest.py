"""Fixtures that run the real gateway under gunicorn, with Redis and a pysaml2 peer IdP."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from joserfc.jwk import RSAKey

from tests.integration.harness import RunningGateway
from tests.integration.harness import TestClient
from tests.integration.harness import running_gateway
from tests.peers.saml_idp import LOA3
from tests.peers.saml_idp import LOA4
from tests.peers.saml_idp import PeerIdP


def make_clients() -> dict[str, TestClient]:
    """One e-service per client authentication method."""
    return {
        "basic-rp": TestClient("basic-rp", "https://rp.example/callback", secret=secrets.token_urlsafe(32)),
        "post-rp": TestClient(
            "post-rp",
            "https://post-rp.example/cb",
            secret=secrets.token_urlsafe(32),
            auth_method="client_secret_post",
        ),
        "jwt-rp": TestClient(
            "jwt-rp",
            "https://jwt-rp.example/cb",
            key=RSAKey.generate_key(2048, parameters={"kid": "rp-key-1", "use": "sig"}),
            auth_method="private_key_jwt",
        ),
    }


def make_peers(tmp: Path, *names: str) -> dict[str, PeerIdP]:
    """The tests' e-ID providers by name: ``idp`` (loa3 and loa4), ``other`` and ``plain`` (loa3 each)."""
    loas = {"idp": (LOA3, LOA4), "other": (LOA3,), "plain": (LOA3,)}
    host = {"idp": "idp", "other": "other-idp", "plain": "plain-idp"}
    return {
        name: PeerIdP(tmp / name, entity_id=f"https://{host[name]}.test.example/idp",
                      sso_url=f"https://{host[name]}.test.example/sso", loas=loas[name])
        for name in names
    }  # fmt: skip


def _gateway(tmp: Path, redis_url: str, workers: int) -> Iterator[RunningGateway]:
    peers = make_peers(tmp, "idp", "other")
    with running_gateway(
        tmp / "gateway",
        redis_url=redis_url,
        peers=peers,
        clients=make_clients(),
        workers=workers,
    ) as gateway:
        yield gateway


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[RunningGateway]:
    """The gateway with one gunicorn worker."""
    yield from _gateway(tmp_path_factory.mktemp("gw1"), redis_url, workers=1)


@pytest.fixture(scope="module")
def gateway_two_workers(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[RunningGateway]:
    """The gateway with two gunicorn workers sharing Redis."""
    yield from _gateway(tmp_path_factory.mktemp("gw2"), redis_url, workers=2)
