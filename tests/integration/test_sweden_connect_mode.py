"""Sweden Connect mode (`sweden_connect: true`): the Sweden Connect OIDC profile's stricter rules, over HTTP.

The gateway here also runs the `uncertified` acr relay policy, as an unaudited proxy must (REG 3.1.1.2).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
from joserfc import jwt
from joserfc.jwk import KeySet
from joserfc.jwk import RSAKey

from tests.integration.harness import LoginSteps
from tests.integration.harness import Rp
from tests.integration.harness import RunningGateway
from tests.integration.harness import TestClient as RegisteredClient
from tests.integration.harness import query
from tests.integration.harness import running_gateway
from tests.peers.saml_idp import LOA3
from tests.peers.saml_idp import PeerIdP

UNCERTIFIED_LOA3 = "http://id.swedenconnect.se/loa/1.0/uncertified-loa3"
PROFILE_METADATA = {
    "contacts": ["e-tjanst@example-kommun.se"],
    "logo_uri": "https://rp.example-kommun.se/logo.svg",
    "client_uri": "https://rp.example-kommun.se/",
}


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[RunningGateway]:
    """Sweden Connect mode (uncertified relay) with one loa3 provider and two private_key_jwt e-services."""
    tmp = tmp_path_factory.mktemp("sweden-connect")
    clients = {
        name: RegisteredClient(
            name,
            f"https://{name}.example/cb",
            key=RSAKey.generate_key(2048, parameters={"kid": f"{name}-1", "use": "sig"}),
            auth_method="private_key_jwt",
            options=PROFILE_METADATA,
        )
        for name in ("rp-a", "rp-b")
    }
    peers = {"idp": PeerIdP(tmp / "idp", loas=(LOA3,))}
    with running_gateway(
        tmp / "gateway", redis_url=redis_url, peers=peers, clients=clients,
        extra={"sweden_connect": True, "acr_policy": "uncertified"},
    ) as running:  # fmt: skip
        yield running


def _login(gateway: RunningGateway, client_id: str, browser: requests.Session | None = None) -> LoginSteps:
    steps = LoginSteps(browser or requests.Session(), Rp.for_client(gateway, client_id), gateway.peers["idp"])
    assert steps.start().status_code == 302
    steps.respond()
    assert steps.post_to_acs().status_code == 303
    assert steps.resume().status_code == 302
    return steps


def test_missing_prompt_is_login_even_with_a_session(gateway: RunningGateway) -> None:
    first = _login(gateway, "rp-a")
    assert first.peer.receive(first.upstream_url).force_authn is True
    again = Rp.for_client(gateway, "rp-a")
    response = first.browser.get(again.authorization_url(), allow_redirects=False, timeout=10)
    assert response.status_code == 302
    assert first.peer.receive(response.headers["Location"]).force_authn is True  # to the IdP, not SSO


def test_prompt_none_uses_only_a_session_of_the_same_client(gateway: RunningGateway) -> None:
    first = _login(gateway, "rp-a")
    same = Rp.for_client(gateway, "rp-a")
    sso = first.browser.get(same.authorization_url(prompt="none"), allow_redirects=False, timeout=10)
    assert sso.status_code == 302
    assert "code" in query(sso.headers["Location"])
    other = Rp.for_client(gateway, "rp-b")
    refused = first.browser.get(other.authorization_url(prompt="none"), allow_redirects=False, timeout=10)
    assert refused.status_code == 302
    assert refused.headers["Location"].startswith(other.client.redirect_uri)
    assert query(refused.headers["Location"])["error"] == "login_required"


def test_userinfo_is_always_a_signed_jwt(gateway: RunningGateway) -> None:
    steps = _login(gateway, "rp-b")
    token = steps.rp.fetch_token(steps.callback_url)
    response = requests.get(
        f"{gateway.url}/userinfo", headers={"Authorization": f"Bearer {token['access_token']}"}, timeout=5
    )
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/jwt")
    keys = KeySet.import_key_set(requests.get(f"{gateway.url}/jwks", timeout=5).json())
    claims = jwt.decode(response.text, keys, algorithms=["RS256", "ES256"]).claims
    assert claims["aud"] == "rp-b"
    assert claims["sub"] == steps.rp.verify_id_token(token["id_token"])["sub"]


def test_discovery_offers_only_private_key_jwt(gateway: RunningGateway) -> None:
    document = requests.get(f"{gateway.url}/.well-known/openid-configuration", timeout=5).json()
    assert document["token_endpoint_auth_methods_supported"] == ["private_key_jwt"]
    assert set(document["ui_locales_supported"]) >= {"sv", "en"}


def test_uncertified_policy_translates_acr_both_ways(gateway: RunningGateway) -> None:
    document = requests.get(f"{gateway.url}/.well-known/openid-configuration", timeout=5).json()
    assert document["acr_values_supported"] == [UNCERTIFIED_LOA3]
    steps = LoginSteps(requests.Session(), Rp.for_client(gateway, "rp-a"), gateway.peers["idp"])
    assert steps.start(acr_values=UNCERTIFIED_LOA3).status_code == 302
    assert steps.peer.receive(steps.upstream_url).requested_loas == (LOA3,)  # what the provider offers
    steps.respond()
    assert steps.post_to_acs().status_code == 303
    assert steps.resume().status_code == 302
    claims = steps.rp.verify_id_token(steps.rp.fetch_token(steps.callback_url)["id_token"])
    assert claims["acr"] == UNCERTIFIED_LOA3


def test_uncertified_policy_never_promises_the_certified_uri(gateway: RunningGateway) -> None:
    rp = Rp.for_client(gateway, "rp-a")
    response = requests.get(rp.authorization_url(acr_values=LOA3), allow_redirects=False, timeout=10)
    assert response.status_code == 302
    assert query(response.headers["Location"])["error"] == "unmet_authentication_requirements"
