"""A complete login over real HTTP: authlib RP -> gateway (gunicorn, Redis) -> pysaml2 IdP -> back."""

from __future__ import annotations

import requests

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
