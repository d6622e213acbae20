"""A complete login over real HTTP: authlib RP -> gateway (gunicorn, Redis) -> pysaml2 IdP -> back."""

from __future__ import annotations

import requests

from tests.integration.harness import Rp
from tests.integration.harness import RunningGateway
from tests.integration.harness import full_login
from tests.integration.harness import query


def test_full_login_with_client_secret_basic(gateway: RunningGateway) -> None:
    steps, token = full_login(gateway, "basic-rp", "idp")

    callback = query(steps.callback_url)
    assert callback["iss"] == gateway.url
    assert callback["state"] == steps.rp.state
    assert token["token_type"].lower() == "bearer"
    claims = steps.rp.verify_id_token(token["id_token"])
    for name in ("iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "acr", "sid"):
        assert name in claims, name
    assert claims["acr"] == "http://id.elegnamnden.se/loa/1.0/loa3"
    assert claims["sub"] != "199203102380"
    assert claims["https://id.oidc.se/claim/personalIdentityNumber"] == "199203102380"

    info = requests.get(
        f"{gateway.url}/userinfo", headers={"Authorization": f"Bearer {token['access_token']}"}, timeout=5
    )
    assert info.status_code == 200
    assert info.json()["sub"] == claims["sub"]
    assert info.json()["given_name"] == "Testa"


def test_full_login_with_client_secret_post(gateway: RunningGateway) -> None:
    steps, token = full_login(gateway, "post-rp", "other")
    claims = steps.rp.verify_id_token(token["id_token"])
    assert claims["aud"] == "post-rp"


def test_full_login_with_private_key_jwt(gateway: RunningGateway) -> None:
    steps, token = full_login(gateway, "jwt-rp", "idp")
    claims = steps.rp.verify_id_token(token["id_token"])
    assert claims["aud"] == "jwt-rp"


def test_pairwise_subject_differs_per_client_and_is_stable(gateway: RunningGateway) -> None:
    subs = {}
    for client_id in ("basic-rp", "post-rp", "basic-rp"):
        steps, token = full_login(gateway, client_id, "idp")
        sub = steps.rp.verify_id_token(token["id_token"])["sub"]
        assert subs.setdefault(client_id, sub) == sub
    assert subs["basic-rp"] != subs["post-rp"]


def test_sso_session_skips_the_provider_for_a_second_e_service(gateway: RunningGateway) -> None:
    steps, _ = full_login(gateway, "basic-rp", "idp")
    second = Rp.for_client(gateway, "post-rp")
    response = steps.browser.get(second.authorization_url(), allow_redirects=False, timeout=10)
    assert response.status_code == 302
    assert response.headers["Location"].startswith(second.client.redirect_uri)
    token = second.fetch_token(response.headers["Location"])
    assert second.verify_id_token(token["id_token"])["sid"]


def test_prompt_login_forces_the_provider_despite_a_session(gateway: RunningGateway) -> None:
    steps, _ = full_login(gateway, "basic-rp", "idp")
    again = Rp.for_client(gateway, "basic-rp")
    url = again.authorization_url(prompt="login", **{"https://id.oidc.se/param/authnProvider": steps.peer.entity_id})
    response = steps.browser.get(url, allow_redirects=False, timeout=10)
    assert response.status_code == 302
    request = steps.peer.receive(response.headers["Location"])
    assert request.force_authn is True


def test_prompt_none_without_session_returns_login_required(gateway: RunningGateway) -> None:
    rp = Rp.for_client(gateway, "basic-rp")
    response = requests.get(rp.authorization_url(prompt="none"), allow_redirects=False, timeout=10)
    assert response.status_code == 302
    params = query(response.headers["Location"])
    assert params["error"] == "login_required"
    assert params["state"] == rp.state


def test_discovery_and_jwks(gateway: RunningGateway) -> None:
    document = requests.get(f"{gateway.url}/.well-known/openid-configuration", timeout=5).json()
    assert document["issuer"] == gateway.url
    assert document["code_challenge_methods_supported"] == ["S256"]
    assert "none" not in document["token_endpoint_auth_methods_supported"]
    assert "http://id.elegnamnden.se/loa/1.0/loa4" in document["acr_values_supported"]
    jwks = requests.get(document["jwks_uri"], timeout=5).json()
    assert all(key.get("kid") and "d" not in key for key in jwks["keys"])


def test_sp_metadata_is_served(gateway: RunningGateway) -> None:
    response = requests.get(f"{gateway.url}/saml/metadata", timeout=5)
    assert response.status_code == 200
    assert 'AuthnRequestsSigned="true"' in response.text
    assert f"{gateway.url}/saml/acs" in response.text
