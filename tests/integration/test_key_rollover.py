"""Logins keep working through every stage of a key rollover, with no restart.

The OIDC signing key and the SAML encryption key roll over together: next published, activated,
previous retired. At each stage an e-service verifies the ID token with the JWKS it fetched (some
with a copy cached at an earlier stage), and the IdP encrypts to the SP metadata it knows (some with
a stale copy), as real peers do between refreshes.
"""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from joserfc import jwt
from joserfc.jwk import KeySet
from lxml import etree

from gateway.settings.load import load_settings
from gateway.trust import admin
from tests.integration.conftest import make_clients
from tests.integration.harness import RunningGateway
from tests.integration.harness import full_login
from tests.integration.harness import running_gateway
from tests.peers.saml_idp import LOA3
from tests.peers.saml_idp import PeerIdP

pytestmark = pytest.mark.slow

ROLES = ("oidc-signing", "saml-encryption")
NS = {"md": "urn:oasis:names:tc:SAML:2.0:metadata", "ds": "http://www.w3.org/2000/09/xmldsig#"}


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[RunningGateway]:
    folder = tmp_path_factory.mktemp("gw-keys")
    peer = PeerIdP(folder / "idp", loas=(LOA3,))
    with running_gateway(
        folder / "gateway", redis_url=redis_url, peers={"idp": peer}, clients=make_clients(),
        extra={"key_rollover": {"check_interval": 1, "publish_before_activate": 3600, "grace_period": 3600}},
    ) as running:  # fmt: skip
        yield running


def _step(gateway: RunningGateway, step: str, *, force: bool = False) -> None:
    """What `eid-gateway keys <step> --role <role> [--force]` does, for both roles."""
    settings = load_settings(gateway.workdir / "gateway.yaml")
    for role in ROLES:
        out = io.StringIO()
        assert admin.keys_step(settings, out, step=step, role=role, force=force) == 0, out.getvalue()


def _jwks(gateway: RunningGateway) -> dict[str, Any]:
    return dict(requests.get(f"{gateway.url}/jwks", timeout=5).json())


def _kids(jwks: dict[str, Any]) -> list[str]:
    """The RS256 token signing keys' ids (the ES256 key and the `use: enc` request object keys roll over
    on their own)."""
    return [key["kid"] for key in jwks["keys"] if key.get("use") == "sig" and key["alg"] == "RS256"]


def _encryption_certs(gateway: RunningGateway) -> list[bytes]:
    root = etree.fromstring(requests.get(f"{gateway.url}/saml/metadata", timeout=5).content)
    path = "md:SPSSODescriptor/md:KeyDescriptor[@use='encryption']/ds:KeyInfo/ds:X509Data/ds:X509Certificate/text()"
    return [
        f"-----BEGIN CERTIFICATE-----\n{b}\n-----END CERTIFICATE-----\n".encode()
        for b in root.xpath(path, namespaces=NS)
    ]


def _eventually(check, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "the gateway did not take up the key change in time"
        time.sleep(0.2)


def _login(gateway: RunningGateway, encrypt_to: bytes, jwks: dict[str, Any]) -> str:
    """A full login whose assertion is encrypted to ``encrypt_to``; the ID token verified with ``jwks``."""
    steps, token = full_login(gateway, "basic-rp", "idp", encryption_cert_pem=encrypt_to)
    decoded = jwt.decode(token["id_token"], KeySet.import_key_set(jwks), algorithms=["RS256"])
    assert decoded.claims["nonce"] == steps.rp.nonce
    return str(decoded.header["kid"])


def _refused_when_encrypted_to(gateway: RunningGateway, cert: bytes) -> bool:
    from tests.integration.harness import LoginSteps
    from tests.integration.harness import Rp

    steps = LoginSteps(requests.Session(), Rp.for_client(gateway, "basic-rp"), gateway.peers["idp"])
    assert steps.start().status_code == 302
    steps.respond(encryption_cert_pem=cert)
    return steps.post_to_acs().status_code != 303 or steps.resume().status_code != 302


def test_logins_work_at_every_stage_of_a_rollover(gateway: RunningGateway) -> None:
    original_jwks = _jwks(gateway)
    [old_kid] = _kids(original_jwks)
    [old_cert] = _encryption_certs(gateway)
    assert _login(gateway, old_cert, original_jwks) == old_kid

    # 1. Next published: in JWKS and SP metadata, signing nothing yet.
    _step(gateway, "rollover")
    _eventually(lambda: len(_kids(_jwks(gateway))) == 2 and len(_encryption_certs(gateway)) == 2)
    published_jwks = _jwks(gateway)
    [new_kid] = [kid for kid in _kids(published_jwks) if kid != old_kid]
    certs = _encryption_certs(gateway)
    assert len(certs) == 2
    assert old_cert in certs
    [new_cert] = [cert for cert in certs if cert != old_cert]
    assert _login(gateway, old_cert, published_jwks) == old_kid
    assert _login(gateway, new_cert, published_jwks) == old_kid  # an IdP that already encrypts to the next key

    # 2. Activated: the new key signs; the old one stays published and decrypts.
    _step(gateway, "activate", force=True)
    _eventually(lambda: _encryption_certs(gateway) == [new_cert] and _kids(_jwks(gateway))[-1] == old_kid)
    assert set(_kids(_jwks(gateway))) == {old_kid, new_kid}
    # An e-service that cached JWKS at stage 1 verifies the new key's tokens without refetching.
    assert _login(gateway, new_cert, published_jwks) == new_kid
    # An IdP that has not refreshed the SP metadata still encrypts to the old key: still decrypted.
    assert _login(gateway, old_cert, _jwks(gateway)) == new_kid

    # 3. Previous retired: only the new key is published and used.
    _step(gateway, "retire", force=True)
    _eventually(lambda: _kids(_jwks(gateway)) == [new_kid])
    assert _login(gateway, new_cert, _jwks(gateway)) == new_kid
    assert _refused_when_encrypted_to(gateway, old_cert)
