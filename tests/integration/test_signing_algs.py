"""Tokens signed with the algorithm each e-service registered: RS256 by default, ES256 on request.

The Swedish OIDC profile 7 REQUIRES both RS256 and ES256, so one gateway serves e-services of either
kind at once: `oidc-signing` (RSA) and `oidc-signing-ec` (P-256) are both active and both in JWKS.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest
import requests
from joserfc import jwt
from joserfc.errors import UnsupportedAlgorithmError
from joserfc.jwk import KeySet

from tests.integration.conftest import make_peers
from tests.integration.harness import RunningGateway
from tests.integration.harness import TestClient as RegisteredClient
from tests.integration.harness import full_login
from tests.integration.harness import running_gateway


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[RunningGateway]:
    tmp = tmp_path_factory.mktemp("algs")
    clients = {
        "rs-rp": RegisteredClient("rs-rp", "https://rs-rp.example/cb", secret=secrets.token_urlsafe(32)),
        "es-rp": RegisteredClient(
            "es-rp", "https://es-rp.example/cb", secret=secrets.token_urlsafe(32),
            options={"id_token_signed_response_alg": "ES256", "userinfo_signed_response_alg": "ES256",
                     "post_logout_redirect_uris": ["https://es-rp.example/bye"]},
        ),
    }  # fmt: skip
    with running_gateway(tmp / "gateway", redis_url=redis_url, peers=make_peers(tmp, "idp"), clients=clients) as gw:
        yield gw


def test_discovery_and_jwks_offer_both_algorithms(gateway: RunningGateway) -> None:
    document = requests.get(f"{gateway.url}/.well-known/openid-configuration", timeout=5).json()
    assert document["id_token_signing_alg_values_supported"] == ["RS256", "ES256"]
    assert document["userinfo_signing_alg_values_supported"] == ["RS256", "ES256"]
    signing = [key for key in requests.get(f"{gateway.url}/jwks", timeout=5).json()["keys"] if key["use"] == "sig"]
    assert sorted((key["kty"], key["alg"]) for key in signing) == [("EC", "ES256"), ("RSA", "RS256")]


def test_each_e_service_gets_tokens_signed_as_it_registered(gateway: RunningGateway) -> None:
    rs_steps, rs_token = full_login(gateway, "rs-rp", "idp")
    assert jwt.decode(rs_token["id_token"], _jwks(gateway)).header["alg"] == "RS256"
    rs_steps.rp.verify_id_token(rs_token["id_token"])

    es_steps, es_token = full_login(gateway, "es-rp", "idp")
    claims = es_steps.rp.verify_id_token(es_token["id_token"], alg="ES256")
    assert claims["aud"] == "es-rp"
    with pytest.raises(UnsupportedAlgorithmError, match="ES256"):  # an RS256-only verifier refuses it
        jwt.decode(es_token["id_token"], _jwks(gateway), algorithms=["RS256"])

    answer = requests.get(
        f"{gateway.url}/userinfo", headers={"Authorization": f"Bearer {es_token['access_token']}"}, timeout=5
    )
    assert answer.headers["Content-Type"].startswith("application/jwt")
    userinfo = jwt.decode(answer.text, _jwks(gateway), algorithms=["ES256"])
    assert userinfo.claims["sub"] == claims["sub"]

    # The ES256 ID token is a valid id_token_hint: the citizen is logged out at once, no question asked.
    bye = es_steps.browser.get(
        f"{gateway.url}/logout", params={"id_token_hint": es_token["id_token"],
                                         "post_logout_redirect_uri": "https://es-rp.example/bye"},
        allow_redirects=False, timeout=10,
    )  # fmt: skip
    assert bye.status_code == 302
    assert bye.headers["Location"] == "https://es-rp.example/bye"


def _jwks(gateway: RunningGateway) -> KeySet:
    return KeySet.import_key_set(requests.get(f"{gateway.url}/jwks", timeout=5).json())
