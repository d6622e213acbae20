"""A certified OIDC client from another ecosystem logs in without special-casing.

panva/openid-client (Node.js, OpenID Certified) does discovery, builds the
authorization request with PKCE, validates the callback (including RFC 9207
`iss`), redeems the code, validates the ID token against JWKS and calls
UserInfo. The test only plays the browser and the e-ID provider.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import requests

from tests.integration.harness import SCOPE
from tests.integration.harness import LoginSteps
from tests.integration.harness import Rp
from tests.integration.harness import RunningGateway

NODE_PROJECT = Path(__file__).resolve().parents[1] / "interop" / "node"


def _node() -> str:
    node = shutil.which("node")
    if node and (NODE_PROJECT / "node_modules" / "openid-client").is_dir():
        return node
    message = "Node.js with openid-client is missing: run the README's test command (it runs npm ci)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)
    return ""  # pragma: no cover


def _rp(*args: str) -> str:
    result = subprocess.run(
        [_node(), str(NODE_PROJECT / "rp.mjs"), *args], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_openid_client_completes_a_login(gateway: RunningGateway, tmp_path: Path) -> None:
    client = gateway.clients["basic-rp"]
    state_file = tmp_path / "rp-state.json"
    url = _rp("start", gateway.url, client.client_id, client.secret or "", client.redirect_uri, SCOPE, str(state_file))

    steps = LoginSteps(requests.Session(), Rp.for_client(gateway, "basic-rp"), gateway.peers["idp"])
    chooser = steps.browser.get(url, allow_redirects=False, timeout=10)
    assert chooser.status_code == 200
    assert steps.choose(chooser, "idp").status_code == 303
    steps.respond()
    assert steps.post_to_acs().status_code == 303
    assert steps.resume().status_code == 302

    result = json.loads(_rp("finish", str(state_file), steps.callback_url))
    claims, userinfo = result["id_token_claims"], result["userinfo"]
    assert claims["iss"] == gateway.url
    assert claims["aud"] == client.client_id
    assert claims["acr"] == "http://id.elegnamnden.se/loa/1.0/loa3"
    assert userinfo["sub"] == claims["sub"]
    assert userinfo["https://id.oidc.se/claim/personalIdentityNumber"] == "199203102380"
