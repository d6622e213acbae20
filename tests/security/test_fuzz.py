"""Property-based fuzzing (hypothesis) of the SAML response path and the authorize/token parameter parsing.

Each property holds for any input: the gateway never fails with a 500, never redirects anywhere but a
registered redirect URI or a trusted provider, never answers outside the documented error codes, and never
logs anyone in as someone the provider did not sign for.

CI runs a small, derandomized number of examples so the run is fast and repeatable. For a real fuzzing
session (SECURITY.md, "Fuzzing"), raise the count and let hypothesis pick new inputs each run::

    EIDGW_FUZZ_EXAMPLES=2000 .venv/bin/python -m pytest tests/security/test_fuzz.py -p no:randomly
"""

from __future__ import annotations

import base64
import os
import re
from urllib.parse import urlencode

import pytest
import requests
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
from lxml import etree

from tests.integration.harness import Rp
from tests.integration.harness import RunningGateway
from tests.integration.harness import query
from tests.security.attack import ATTACKER_PNR
from tests.security.attack import PNR_CLAIM
from tests.security.attack import begin
from tests.security.attack import parse
from tests.security.attack import serialize
from tests.security.attack import with_xml

pytestmark = pytest.mark.slow

GATEWAY_EXTRA = {"rate_limits": {"authorize": 0, "acs": 0, "token": 0, "client_auth_failures": 0}}

REQUEST_LINE_LIMIT = 8190
"""deploy/gunicorn.conf.py limit_request_line."""
LONG_RUN = "EIDGW_FUZZ_EXAMPLES" in os.environ
FUZZ = settings(
    max_examples=int(os.environ.get("EIDGW_FUZZ_EXAMPLES", "20")),
    deadline=None,
    derandomize=not LONG_RUN,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

CITIZEN_ERRORS = {
    "unknown_client", "bad_redirect_uri", "expired", "session_mismatch", "unknown_provider", "provider_error",
    "cancelled", "fraud", "login_required", "unknown_principal", "loa_not_met", "replayed", "unavailable",
    "not_found", "internal", "invalid_request", "coordination_number",
}  # fmt: skip
OAUTH_ERRORS = {
    "invalid_request", "invalid_client", "invalid_grant", "unauthorized_client", "unsupported_grant_type",
    "invalid_scope", "temporarily_unavailable", "access_denied", "unsupported_response_type", "server_error",
    "login_required", "interaction_required", "consent_required", "unmet_authentication_requirements",
    "request_not_supported", "request_uri_not_supported", "invalid_request_object", "invalid_request_uri",
    "registration_not_supported", "account_selection_required",
}  # fmt: skip

AUTHORIZE_PARAMS = [
    "client_id", "redirect_uri", "response_type", "scope", "state", "nonce", "code_challenge",
    "code_challenge_method", "prompt", "max_age", "acr_values", "claims", "ui_locales", "login_hint", "request",
    "request_uri", "response_mode", "id_token_hint", "https://id.oidc.se/param/authnProvider",
    "https://id.oidc.se/param/userMessage",
]  # fmt: skip
TOKEN_PARAMS = [
    "grant_type", "code", "redirect_uri", "code_verifier", "client_id", "client_secret", "client_assertion",
    "client_assertion_type", "refresh_token", "scope",
]  # fmt: skip

hostile_text = st.one_of(
    st.text(max_size=60),
    st.sampled_from(["", " ", "\x00", "\r\n", "%00", "{}", "[]", '{"id_token":{"acr":{"essential":true}}}', "none",
                     "login none", "-1", "99999999999999999999", "S256", "plain", "code", "token", "openid",
                     "https://evil.example/cb", "https://rp.example/callback", "basic-rp", "a" * 5000]),
)  # fmt: skip


def _error_page_code(response: requests.Response) -> str | None:
    match = re.search(r'data-error="([a-z_]+)"', response.text)
    return match.group(1) if match else None


@FUZZ
@given(changes=st.dictionaries(st.one_of(st.sampled_from(AUTHORIZE_PARAMS), st.text(max_size=12)), hostile_text,
                               max_size=5))  # fmt: skip
def test_authorize_answers_every_parameter_set_safely(gateway: RunningGateway, changes: dict[str, str]) -> None:
    rp = Rp.for_client(gateway, "basic-rp")
    params = {**query(rp.authorization_url()), **changes}
    target = f"/authorize?{urlencode(params)}"
    response = requests.get(gateway.url + target, allow_redirects=False, timeout=10)
    if len(target) > REQUEST_LINE_LIMIT - len("GET  HTTP/1.1"):
        assert response.status_code == 414, "gunicorn's limit_request_line"
        return
    assert response.status_code in (200, 302, 400), (response.status_code, response.text[:300])
    assert "Content-Security-Policy" in response.headers
    if response.status_code == 302:
        location = response.headers["Location"]
        registered = [c.redirect_uri for c in gateway.clients.values()]
        providers = [p.sso_url for p in gateway.peers.values()]
        assert any(location.startswith(u + "?") for u in registered + providers), location
        if not any(location.startswith(p) for p in providers):
            back = query(location)
            assert "code" not in back
            assert back["error"] in OAUTH_ERRORS, back
            assert back["iss"] == gateway.url
    elif response.status_code == 400:
        assert _error_page_code(response) in CITIZEN_ERRORS, response.text[:300]


@FUZZ
@given(form=st.dictionaries(st.one_of(st.sampled_from(TOKEN_PARAMS), st.text(max_size=12)), hostile_text,
                            max_size=6),
       auth=st.one_of(st.none(), st.tuples(st.sampled_from(["basic-rp", "post-rp", "jwt-rp", "", "x"]),
                                           st.text(max_size=20))))  # fmt: skip
def test_token_answers_every_parameter_set_with_an_oauth_error(
    gateway: RunningGateway, form: dict[str, str], auth: tuple[str, str] | None
) -> None:
    headers = {}
    if auth is not None:  # built here: requests encodes Basic credentials as latin-1 only
        headers["Authorization"] = "Basic " + base64.b64encode(":".join(auth).encode()).decode()
    response = requests.post(f"{gateway.url}/token", data=form, headers=headers, timeout=10)
    assert response.status_code in (400, 401), (response.status_code, response.text[:300])
    assert response.json()["error"] in OAUTH_ERRORS
    assert "access_token" not in response.json()
    assert response.headers["Cache-Control"] == "no-store"


_XML_MUTATIONS = st.sampled_from(["delete", "duplicate", "attribute", "text", "move-up"])
_XML_TEXT = st.text(st.characters(exclude_categories=("Cc", "Cs"), exclude_characters="\ufffe\uffff"), max_size=40)


@FUZZ
@given(mutation=_XML_MUTATIONS, pick=st.integers(min_value=0, max_value=10_000), value=_XML_TEXT)
def test_mutated_saml_response_never_logs_in_someone_else(
    gateway: RunningGateway, mutation: str, pick: int, value: str
) -> None:
    """One structural change anywhere in a genuine signed response: refused, or (where the change touched
    only what nothing reads) the login of the person the provider signed for; never a 500."""
    steps = begin(gateway, "plain")
    posted = steps.respond(encrypt=False)
    root = parse(posted.xml)
    elements = [e for e in root.iter() if isinstance(e.tag, str)]
    target = elements[pick % len(elements)]
    parent = target.getparent()
    if mutation == "delete" and parent is not None:
        parent.remove(target)
    elif mutation == "duplicate" and parent is not None:
        target.addnext(etree.fromstring(etree.tostring(target)))
    elif mutation == "attribute" and target.attrib:
        names = sorted(target.attrib)
        target.set(names[pick % len(names)], value)
    elif mutation == "text":
        target.text = value
    elif mutation == "move-up" and parent is not None and parent.getparent() is not None:
        parent.getparent().append(target)
    mutated = with_xml(posted, serialize(root))
    acs = steps.browser.post(posted.acs_url, data=mutated.form(), allow_redirects=False, timeout=10)
    assert acs.status_code in (303, 400), (acs.status_code, acs.text[:300])
    if acs.status_code == 400:
        assert _error_page_code(acs) in CITIZEN_ERRORS
        return
    steps.resume_url = gateway.url + acs.headers["Location"]
    resumed = steps.resume()
    assert resumed.status_code in (302, 400), resumed.text[:300]
    if resumed.status_code == 400:
        assert _error_page_code(resumed) in CITIZEN_ERRORS
        return
    callback = query(steps.callback_url)
    if "code" in callback:
        claims = steps.rp.verify_id_token(steps.rp.fetch_token(steps.callback_url)["id_token"])
        bearer = {"Authorization": f"Bearer {steps.rp.session.token['access_token']}"}
        userinfo = requests.get(f"{gateway.url}/userinfo", headers=bearer, timeout=10)
        assert {**claims, **userinfo.json()}.get(PNR_CLAIM, ATTACKER_PNR) == ATTACKER_PNR
    else:
        assert callback["error"] in OAUTH_ERRORS


@FUZZ
@given(relay_state=hostile_text, saml_response=st.one_of(hostile_text, st.binary(max_size=200).map(
    lambda b: base64.b64encode(b).decode())))  # fmt: skip
def test_acs_answers_any_form_with_a_page(gateway: RunningGateway, relay_state: str, saml_response: str) -> None:
    response = requests.post(f"{gateway.url}/saml/acs", data={"RelayState": relay_state, "SAMLResponse": saml_response},
                             allow_redirects=False, timeout=10)  # fmt: skip
    assert response.status_code == 400, (response.status_code, response.text[:300])
    assert _error_page_code(response) == "expired"
