"""OIDC attacks on the authorization, token and userinfo endpoints.

The e-service side is where a stolen or injected code, a forged client assertion or a lax redirect URI turns
into someone else's identity. Each test makes one such attempt and asserts what RFC 6749/9700, OIDC Core,
RFC 7523/7636 and the Swedish OIDC profile require: an error page (never a redirect) for an unverified
client or redirect URI, the exact OAuth error otherwise, no code, no tokens, no state left behind.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from typing import Any
from unittest import mock
from urllib.parse import parse_qsl
from urllib.parse import urlencode
from urllib.parse import urlsplit

import pytest
import requests
from joserfc import jwt
from joserfc.jwk import RSAKey

from gateway.oidc.clients import Client
from gateway.settings.schema import ClientSettings
from tests.integration.harness import Rp
from tests.integration.harness import RunningGateway
from tests.integration.harness import query
from tests.peers.saml_idp import LOA3
from tests.peers.saml_idp import LOA4
from tests.peers.saml_idp import STATUS_NO_PASSIVE
from tests.peers.saml_idp import STATUS_RESPONDER
from tests.security.attack import StoreWatch
from tests.security.attack import begin
from tests.security.attack import code_for
from tests.security.attack import error_code
from tests.security.attack import logged_in
from tests.security.attack import received
from tests.security.attack import token_request

pytestmark = pytest.mark.slow

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def _authorize(gateway: RunningGateway, client_id: str = "basic-rp", **changes: str | None) -> tuple[Rp, str]:
    """A valid authorization request URL for ``client_id`` with ``changes`` applied (None removes)."""
    rp = Rp.for_client(gateway, client_id if client_id in gateway.clients else "basic-rp")
    parts = urlsplit(rp.authorization_url())
    params = dict(parse_qsl(parts.query))
    params["client_id"] = client_id
    for name, value in changes.items():
        if value is None:
            params.pop(name, None)
        else:
            params[name] = value
    return rp, f"{gateway.url}/authorize?{urlencode(params)}"


def _page(response: requests.Response, code: str) -> None:
    """An error page for the citizen, and no redirect anywhere."""
    assert response.status_code == 400, response.text
    assert "Location" not in response.headers
    assert error_code(response) == code


def _back_to_client(response: requests.Response, rp: Rp, error: str) -> dict[str, str]:
    """A redirect to the registered redirect URI with ``error``, the state and our issuer (RFC 9207)."""
    assert response.status_code == 302, response.text
    location = response.headers["Location"]
    assert location.startswith(rp.client.redirect_uri + "?"), location
    params = query(location)
    assert params["error"] == error, params
    assert params["state"] == rp.state
    assert params["iss"] == rp.gateway.url
    assert "code" not in params
    return params


# --- redirect URIs and clients -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "redirect_uri",
    [
        "http://rp.example/callback",
        "https://rp.example/callback%2F",
        "https://rp.example@evil.example/callback",
        "https://rp.example/callback/../callback",
        " https://rp.example/callback",
        "https://rp.example/callback\n",
        "https://rp.example./callback",
        "//evil.example/callback",
        "https://rp.example\\@evil.example/callback",
        "",
    ],
    ids=["http", "encoded-slash", "userinfo", "dot-segments", "space", "newline", "trailing-dot", "scheme-relative",
         "backslash", "empty"],
)  # fmt: skip
def test_redirect_uri_variant_gets_a_page_not_a_redirect(gateway: RunningGateway, redirect_uri: str) -> None:
    """Variants beyond the integration suite's: each one a known parser-differential trick."""
    _, url = _authorize(gateway, redirect_uri=redirect_uri)
    _page(requests.get(url, allow_redirects=False, timeout=10), "bad_redirect_uri")


def test_missing_redirect_uri_gets_a_page(gateway: RunningGateway) -> None:
    """OIDC Core 3.1.2.1 makes redirect_uri required; no registered default is ever guessed."""
    _, url = _authorize(gateway, redirect_uri=None)
    _page(requests.get(url, allow_redirects=False, timeout=10), "bad_redirect_uri")


def test_repeated_redirect_uri_never_reaches_the_second_value(gateway: RunningGateway) -> None:
    """The registered URI first, an attacker's second: the error goes to the registered one only."""
    rp, url = _authorize(gateway)
    response = requests.get(url + "&redirect_uri=" + requests.utils.quote("https://evil.example/cb"), timeout=10,
                            allow_redirects=False)  # fmt: skip
    _back_to_client(response, rp, "invalid_request")
    assert "evil.example" not in response.headers["Location"]


def test_repeated_redirect_uri_attacker_first_gets_a_page(gateway: RunningGateway) -> None:
    rp, url = _authorize(gateway, redirect_uri="https://evil.example/cb")
    response = requests.get(url + "&redirect_uri=" + requests.utils.quote(rp.client.redirect_uri), timeout=10,
                            allow_redirects=False)  # fmt: skip
    _page(response, "bad_redirect_uri")


@pytest.mark.parametrize("client_id", ["BASIC-RP", "basic-rp ", "", "basic-rp\x00", "nobody"])
def test_unregistered_client_gets_a_page(gateway: RunningGateway, client_id: str) -> None:
    _, url = _authorize(gateway, client_id=client_id)
    _page(requests.get(url, allow_redirects=False, timeout=10), "unknown_client")


def test_redirect_uri_of_another_client_gets_a_page(gateway: RunningGateway) -> None:
    """A registered URI, but another client's: each client's list is checked on its own."""
    _, url = _authorize(gateway, redirect_uri=gateway.clients["post-rp"].redirect_uri)
    _page(requests.get(url, allow_redirects=False, timeout=10), "bad_redirect_uri")


def test_unknown_provider_hint_is_never_followed(gateway: RunningGateway) -> None:
    """The provider hint names an entity ID; one not in trusted metadata is no place to send the citizen."""
    rp, url = _authorize(gateway, **{"https://id.oidc.se/param/authnProvider": "https://evil.example/idp"})
    _back_to_client(requests.get(url, allow_redirects=False, timeout=10), rp, "unmet_authentication_requirements")


def test_state_cannot_inject_parameters_into_the_error_redirect(gateway: RunningGateway) -> None:
    """A state holding "&code=..." stays one encoded value in the redirect back (no parameter injection)."""
    evil_state = "x&code=attacker-code&iss=https://evil.example"
    rp, url = _authorize(gateway, code_challenge_method="plain", state=evil_state)
    rp.state = evil_state
    response = requests.get(url, allow_redirects=False, timeout=10)
    params = dict(parse_qsl(urlsplit(response.headers["Location"]).query, keep_blank_values=True))
    assert params == {"error": "invalid_request", "error_description": params.get("error_description", ""),
                      "state": evil_state, "iss": gateway.url}  # fmt: skip


@pytest.mark.parametrize("name", ["response_type", "scope", "code_challenge_method", "prompt"])
def test_control_character_in_a_parameter_is_invalid_request(gateway: RunningGateway, name: str) -> None:
    """Found by the fuzzer: authlib cannot build an error whose description would echo a control character,
    which ended as a 500. RFC 6749 Appendix A allows printable ASCII only in these parameters."""
    rp, url = _authorize(gateway, **{name: "code\x1f"})
    _back_to_client(requests.get(url, allow_redirects=False, timeout=10), rp, "invalid_request")


# --- PKCE -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "changes",
    [{"code_challenge": "short"}, {"code_challenge_method": "s256"}, {"code_challenge": "a" * 129}],
    ids=["short-challenge", "lowercase-method", "long-challenge"],
)
def test_malformed_pkce_challenge(gateway: RunningGateway, changes: dict[str, str]) -> None:
    rp, url = _authorize(gateway, **changes)
    _back_to_client(requests.get(url, allow_redirects=False, timeout=10), rp, "invalid_request")


def _redeem(gateway: RunningGateway, steps: Any, **overrides: str | None) -> requests.Response:
    client = steps.rp.client
    data = {
        "grant_type": "authorization_code",
        "code": query(steps.callback_url)["code"],
        "redirect_uri": client.redirect_uri,
        "code_verifier": steps.rp.verifier,
        **overrides,
    }
    return token_request(gateway, {k: v for k, v in data.items() if v is not None}, (client.client_id, client.secret))


def test_plain_downgrade_at_the_token_endpoint(gateway: RunningGateway) -> None:
    """The verifier replaced by the challenge itself: what "plain" would accept (RFC 7636 4.6)."""
    steps = code_for(gateway)
    challenge = (
        query(steps.upstream_url).get("code_challenge")
        or base64.urlsafe_b64encode(hashlib.sha256(steps.rp.verifier.encode()).digest()).rstrip(b"=").decode()
    )
    response = _redeem(gateway, steps, code_verifier=challenge)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_code_injected_into_another_login_of_the_same_client(gateway: RunningGateway) -> None:
    """Code injection (RFC 9700 4.5): the victim's code with the attacker's own login's verifier."""
    victim = code_for(gateway)
    attacker = code_for(gateway)
    response = _redeem(gateway, victim, code_verifier=attacker.rp.verifier)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_malformed_verifier(gateway: RunningGateway) -> None:
    response = _redeem(gateway, code_for(gateway), code_verifier="short")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


# --- codes -----------------------------------------------------------------------------------------


def test_code_presented_by_another_client_is_burned(gateway: RunningGateway) -> None:
    """A code stolen by another registered e-service: refused, and dead for its real owner too, since
    it has been exposed (RFC 9700 4.5)."""
    steps = code_for(gateway, "post-rp")
    thief = gateway.clients["basic-rp"]
    stolen = token_request(
        gateway,
        {"grant_type": "authorization_code", "code": query(steps.callback_url)["code"],
         "redirect_uri": thief.redirect_uri, "code_verifier": steps.rp.verifier},
        (thief.client_id, thief.secret),
    )  # fmt: skip
    assert stolen.status_code == 400
    assert stolen.json()["error"] == "invalid_grant"
    owner = steps.rp.client
    late = token_request(
        gateway,
        {"grant_type": "authorization_code", "code": query(steps.callback_url)["code"],
         "redirect_uri": owner.redirect_uri, "code_verifier": steps.rp.verifier,
         "client_id": owner.client_id, "client_secret": owner.secret or ""},
    )  # fmt: skip
    assert late.status_code == 400
    assert late.json()["error"] == "invalid_grant"


def test_code_and_verifier_stolen_by_another_client(gateway: RunningGateway) -> None:
    """Another registered e-service holding the code, the verifier and the redirect URI it was issued for
    (all three leaked, e.g. from a log): the code is bound to its client, so it still gets nothing."""
    steps = code_for(gateway, "post-rp")
    thief = gateway.clients["basic-rp"]
    stolen = token_request(
        gateway,
        {"grant_type": "authorization_code", "code": query(steps.callback_url)["code"],
         "redirect_uri": steps.rp.client.redirect_uri, "code_verifier": steps.rp.verifier},
        (thief.client_id, thief.secret or ""),
    )  # fmt: skip
    assert stolen.status_code == 400
    assert stolen.json()["error"] == "invalid_grant"
    assert "access_token" not in stolen.json()


def test_token_error_responses_are_not_cacheable(gateway: RunningGateway) -> None:
    client = gateway.clients["basic-rp"]
    response = token_request(gateway, {"grant_type": "authorization_code", "code": "nope"},
                             (client.client_id, client.secret or ""))  # fmt: skip
    assert response.status_code == 400
    assert response.headers["Cache-Control"] == "no-store"


def test_userinfo_is_not_cacheable_and_refuses_tokens_in_the_query(gateway: RunningGateway) -> None:
    """RFC 9700 2.5: access tokens never in a URL; userinfo answers are personal data, never cached."""
    steps = code_for(gateway)
    token = _redeem(gateway, steps).json()["access_token"]
    in_query = requests.get(f"{gateway.url}/userinfo", params={"access_token": token}, timeout=10)
    assert in_query.status_code == 401
    in_header = requests.get(f"{gateway.url}/userinfo", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert in_header.status_code == 200
    assert in_header.headers["Cache-Control"] == "no-store"


# --- client authentication: private_key_jwt -----------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _claims(gateway: RunningGateway, client_id: str = "jwt-rp", **changes: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {"iss": client_id, "sub": client_id, "aud": f"{gateway.url}/token", "jti": secrets.token_hex(16),
              "iat": now, "exp": now + 60}  # fmt: skip
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def _signed(claims: dict[str, Any], key: RSAKey, header: dict[str, Any] | None = None) -> str:
    return jwt.encode({"alg": "RS256", "kid": key.kid, **(header or {})}, claims, key)


def _hs256(claims: dict[str, Any], secret: bytes) -> str:
    signing_input = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode()) + "." + _b64(json.dumps(claims).encode())
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + _b64(signature)


def _assertion_token_request(gateway: RunningGateway, assertion: str, client_id: str = "jwt-rp") -> requests.Response:
    steps = code_for(gateway, client_id)
    return token_request(
        gateway,
        {"grant_type": "authorization_code", "code": query(steps.callback_url)["code"],
         "redirect_uri": steps.rp.client.redirect_uri, "code_verifier": steps.rp.verifier,
         "client_assertion_type": ASSERTION_TYPE, "client_assertion": assertion},
    )  # fmt: skip


def _invalid_client(response: requests.Response) -> None:
    """RFC 6749 5.2: invalid_client, 400 when the client did not use the Authorization header."""
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_client"
    assert "access_token" not in response.json()


def test_control_private_key_jwt_with_a_fresh_assertion_works(gateway: RunningGateway) -> None:
    key = gateway.clients["jwt-rp"].key
    assert key is not None
    response = _assertion_token_request(gateway, _signed(_claims(gateway), key))
    assert response.status_code == 200, response.text


def test_client_assertion_with_alg_none(gateway: RunningGateway) -> None:
    """The authlib advisory this project pins past: an unsigned JWT with an empty signature."""
    claims = _claims(gateway)
    token = _b64(json.dumps({"alg": "none", "typ": "JWT"}).encode()) + "." + _b64(json.dumps(claims).encode()) + "."
    _invalid_client(_assertion_token_request(gateway, token))


def test_client_assertion_hmac_keyed_with_the_clients_public_key(gateway: RunningGateway) -> None:
    """Algorithm confusion: HS256 with the client's public key (PEM, as published) as the HMAC secret."""
    key = gateway.clients["jwt-rp"].key
    assert key is not None
    public_pem = RSAKey.import_key(key.as_dict(private=False)).as_pem(private=False)
    _invalid_client(_assertion_token_request(gateway, _hs256(_claims(gateway), public_pem)))


def test_client_assertion_with_its_own_key_in_the_header(gateway: RunningGateway) -> None:
    """An attacker's key embedded as "jwk" (and "jku", "x5u" pointing away): keys come from registration only."""
    attacker = RSAKey.generate_key(2048, parameters={"kid": "rp-key-1"})
    header = {
        "jwk": attacker.as_dict(private=False),
        "jku": "https://evil.example/jwks",
        "x5u": "https://evil.example/x",
    }
    _invalid_client(_assertion_token_request(gateway, _signed(_claims(gateway), attacker, header)))


def test_client_assertion_replayed_jti(gateway: RunningGateway) -> None:
    key = gateway.clients["jwt-rp"].key
    assert key is not None
    assertion = _signed(_claims(gateway), key)
    assert _assertion_token_request(gateway, assertion).status_code == 200
    _invalid_client(_assertion_token_request(gateway, assertion))


@pytest.mark.parametrize(
    "aud",
    [
        "https://evil.example/token",
        "{issuer}/userinfo",
        "{issuer}/authorize",
        "{issuer}/token/",
        ["https://evil.example"],
    ],
    ids=["other-server", "userinfo", "authorize", "trailing-slash", "list-without-us"],
)
def test_client_assertion_for_another_audience(gateway: RunningGateway, aud: str | list[str]) -> None:
    key = gateway.clients["jwt-rp"].key
    assert key is not None
    audience = aud.format(issuer=gateway.url) if isinstance(aud, str) else aud
    _invalid_client(_assertion_token_request(gateway, _signed(_claims(gateway, aud=audience), key)))


@pytest.mark.parametrize(
    "changes",
    [
        {"exp": None},
        {"exp": int(time.time()) - 3600},
        {"jti": None},
        {"iss": "post-rp"},
        {"nbf": int(time.time()) + 3600},
    ],
    ids=["no-exp", "expired", "no-jti", "iss-not-sub", "not-yet-valid"],
)
def test_client_assertion_with_bad_claims(gateway: RunningGateway, changes: dict[str, Any]) -> None:
    key = gateway.clients["jwt-rp"].key
    assert key is not None
    _invalid_client(_assertion_token_request(gateway, _signed(_claims(gateway, **changes), key)))


def test_client_assertion_naming_a_client_without_keys(gateway: RunningGateway) -> None:
    """An assertion for a secret-based client, signed with another client's key: invalid_client, the same
    answer as any other failed authentication (no hint about how that client authenticates)."""
    key = gateway.clients["jwt-rp"].key
    assert key is not None
    _invalid_client(_assertion_token_request(gateway, _signed(_claims(gateway, "basic-rp"), key), "basic-rp"))


# --- client authentication: secrets --------------------------------------------------------------------


def test_secret_comparison_is_constant_time() -> None:
    """Timing over HTTP is too noisy to test here; the comparison itself must be hmac.compare_digest."""
    client = Client(ClientSettings("c", ("https://c.example/cb",), "client_secret_basic", {}, client_secret="s" * 32))
    with mock.patch("hmac.compare_digest", wraps=hmac.compare_digest) as compare:
        assert client.check_client_secret("s" * 32)
        assert not client.check_client_secret("t" * 32)
    assert compare.call_count == 2


def test_secret_sent_with_the_method_the_client_did_not_register(gateway: RunningGateway) -> None:
    """post-rp registered client_secret_post; the right secret in a Basic header is still refused."""
    steps = code_for(gateway, "post-rp")
    client = steps.rp.client
    response = token_request(
        gateway,
        {"grant_type": "authorization_code", "code": query(steps.callback_url)["code"],
         "redirect_uri": client.redirect_uri, "code_verifier": steps.rp.verifier},
        (client.client_id, client.secret or ""),
    )  # fmt: skip
    assert response.status_code == 401, response.text
    assert response.json()["error"] == "invalid_client"


# --- prompt, max_age, acr -------------------------------------------------------------------------------


def test_prompt_none_without_a_session(gateway: RunningGateway) -> None:
    """login_required back to the client; no transaction, no cookie, nothing stored."""
    watch = StoreWatch(gateway)
    rp, url = _authorize(gateway, prompt="none")
    response = requests.get(url, allow_redirects=False, timeout=10)
    _back_to_client(response, rp, "login_required")
    assert "Set-Cookie" not in response.headers
    assert watch.new() <= {"rate"}


def _session(gateway: RunningGateway) -> requests.Session:
    """A browser with an SSO session at loa3 from a full login."""
    steps = begin(gateway, acr_values=LOA3)
    steps.respond()
    logged_in(steps)
    return steps.browser


def test_control_prompt_none_with_a_session_issues_a_code_without_the_provider(gateway: RunningGateway) -> None:
    browser = _session(gateway)
    rp, url = _authorize(gateway, prompt="none", acr_values=LOA3)
    response = browser.get(url, allow_redirects=False, timeout=10)
    assert response.status_code == 302
    assert response.headers["Location"].startswith(rp.client.redirect_uri + "?code=")


def test_prompt_none_with_a_session_below_the_requested_acr(gateway: RunningGateway) -> None:
    """The session does not fit, so the provider is asked passively (IsPassive, no ForceAuthn); its
    NoPassive answer goes back to the client as login_required, with no page shown (OIDC Core 3.1.2.1)."""
    browser = _session(gateway)
    hint = {"https://id.oidc.se/param/authnProvider": gateway.peers["idp"].entity_id}
    rp, url = _authorize(gateway, prompt="none", acr_values=LOA4, **hint)
    upstream = browser.get(url, allow_redirects=False, timeout=10)
    assert upstream.status_code == 302
    request = gateway.peers["idp"].receive(upstream.headers["Location"])
    assert (request.is_passive, request.force_authn) == (True, False)
    posted = gateway.peers["idp"].respond(request, status=STATUS_RESPONDER, sub_status=STATUS_NO_PASSIVE)
    acs = browser.post(posted.acs_url, data=posted.form(), allow_redirects=False, timeout=10)
    assert acs.status_code == 303
    resumed = browser.get(gateway.url + acs.headers["Location"], allow_redirects=False, timeout=10)
    _back_to_client(resumed, rp, "login_required")


def test_max_age_zero_with_a_session_forces_a_new_login(gateway: RunningGateway) -> None:
    """max_age=0: the session is too old by definition, so the provider is asked again, with ForceAuthn."""
    browser = _session(gateway)
    hint = {"https://id.oidc.se/param/authnProvider": gateway.peers["idp"].entity_id}
    _, url = _authorize(gateway, max_age="0", acr_values=LOA3, **hint)
    response = browser.get(url, allow_redirects=False, timeout=10)
    assert response.status_code == 302
    assert response.headers["Location"].startswith(gateway.peers["idp"].sso_url)
    assert gateway.peers["idp"].receive(response.headers["Location"]).force_authn is True


def test_max_age_without_a_session_demands_a_fresh_authentication(gateway: RunningGateway) -> None:
    """No session of ours, but the provider may have one older than max_age: ForceAuthn is sent."""
    steps = begin(gateway, max_age="300")
    assert received(steps).force_authn is True
    steps.respond()
    claims = logged_in(steps)
    assert abs(claims["auth_time"] - time.time()) < 120


@pytest.mark.parametrize(
    "max_age", ["-1", "1e3", "0x10", "10 ", "\uff11\uff10"], ids=["negative", "float", "hex", "space", "fullwidth"]
)
def test_malformed_max_age(gateway: RunningGateway, max_age: str) -> None:
    rp, url = _authorize(gateway, max_age=max_age)
    _back_to_client(requests.get(url, allow_redirects=False, timeout=10), rp, "invalid_request")


def test_acr_values_no_provider_can_meet(gateway: RunningGateway) -> None:
    """loa4 from the provider that only offers loa3."""
    rp, url = _authorize(gateway, acr_values=LOA4,
                         **{"https://id.oidc.se/param/authnProvider": gateway.peers["other"].entity_id})  # fmt: skip
    _back_to_client(requests.get(url, allow_redirects=False, timeout=10), rp, "unmet_authentication_requirements")


def test_essential_acr_claim_no_provider_can_meet(gateway: RunningGateway) -> None:
    claims = json.dumps({"id_token": {"acr": {"essential": True, "values": ["http://id.elegnamnden.se/loa/1.0/loa9"]}}})
    rp, url = _authorize(gateway, claims=claims)
    _back_to_client(requests.get(url, allow_redirects=False, timeout=10), rp, "unmet_authentication_requirements")


# --- request objects and pushed requests ----------------------------------------------------------------


def _request_object_url(gateway: RunningGateway, token: str, client_id: str = "jwt-rp") -> tuple[Rp, str]:
    """/authorize with a request object, and the client's registered redirect_uri in the query so refusals
    come back to it (RFC 9101 6.3)."""
    rp = Rp.for_client(gateway, client_id)
    query_params = {"client_id": client_id, "request": token, "redirect_uri": rp.client.redirect_uri,
                    "response_type": "code", "scope": "openid", "state": "st"}  # fmt: skip
    rp.state = "st"
    return rp, f"{gateway.url}/authorize?{urlencode(query_params)}"


def _request_claims(gateway: RunningGateway, client_id: str = "jwt-rp", **changes: Any) -> dict[str, Any]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    claims = {"iss": client_id, "aud": gateway.url, "client_id": client_id, "response_type": "code",
              "redirect_uri": gateway.clients[client_id].redirect_uri, "scope": "openid", "state": "st",
              "nonce": secrets.token_hex(8), "code_challenge": challenge, "code_challenge_method": "S256",
              "exp": int(time.time()) + 60,
              "https://id.oidc.se/param/authnProvider": gateway.peers["idp"].entity_id}  # fmt: skip
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def test_control_signed_request_object_reaches_the_provider(gateway: RunningGateway) -> None:
    key = gateway.clients["jwt-rp"].key
    assert key is not None
    _, url = _request_object_url(gateway, _signed(_request_claims(gateway), key))
    response = requests.get(url, allow_redirects=False, timeout=10)
    assert response.status_code == 302, response.text
    assert response.headers["Location"].startswith(gateway.peers["idp"].sso_url)


def test_unsigned_request_object(gateway: RunningGateway) -> None:
    """The authlib advisory's shape (alg none, empty signature) for a request object (RFC 9101 10.2)."""
    claims = _request_claims(gateway)
    token = _b64(json.dumps({"alg": "none"}).encode()) + "." + _b64(json.dumps(claims).encode()) + "."
    rp, url = _request_object_url(gateway, token)
    _back_to_client(requests.get(url, allow_redirects=False, timeout=10), rp, "invalid_request_object")


def test_request_object_hmac_keyed_with_the_clients_public_key(gateway: RunningGateway) -> None:
    key = gateway.clients["jwt-rp"].key
    assert key is not None
    public_pem = RSAKey.import_key(key.as_dict(private=False)).as_pem(private=False)
    rp, url = _request_object_url(gateway, _hs256(_request_claims(gateway), public_pem))
    _back_to_client(requests.get(url, allow_redirects=False, timeout=10), rp, "invalid_request_object")


def test_request_object_signed_by_an_embedded_key(gateway: RunningGateway) -> None:
    attacker = RSAKey.generate_key(2048, parameters={"kid": "rp-key-1"})
    token = _signed(_request_claims(gateway), attacker, {"jwk": attacker.as_dict(private=False)})
    rp, url = _request_object_url(gateway, token)
    _back_to_client(requests.get(url, allow_redirects=False, timeout=10), rp, "invalid_request_object")


@pytest.mark.parametrize(
    "changes",
    [{"aud": "https://evil.example"}, {"iss": "post-rp"}, {"exp": int(time.time()) - 3600},
     {"client_id": "post-rp"}, {"request_uri": "urn:x"}],
    ids=["audience", "issuer", "expired", "client-id", "nested"],
)  # fmt: skip
def test_request_object_with_bad_claims(gateway: RunningGateway, changes: dict[str, Any]) -> None:
    key = gateway.clients["jwt-rp"].key
    assert key is not None
    rp, url = _request_object_url(gateway, _signed(_request_claims(gateway, **changes), key))
    _back_to_client(requests.get(url, allow_redirects=False, timeout=10), rp, "invalid_request_object")


def test_signed_request_object_cannot_name_an_unregistered_redirect_uri(gateway: RunningGateway) -> None:
    """A validly signed object is still checked like any request: its redirect_uri must be registered."""
    key = gateway.clients["jwt-rp"].key
    assert key is not None
    _, url = _request_object_url(
        gateway, _signed(_request_claims(gateway, redirect_uri="https://evil.example/cb"), key)
    )
    _page(requests.get(url, allow_redirects=False, timeout=10), "bad_redirect_uri")


def _push(gateway: RunningGateway, client_id: str = "basic-rp") -> tuple[Rp, str]:
    rp = Rp.for_client(gateway, client_id)
    params = query(rp.authorization_url(**{"https://id.oidc.se/param/authnProvider": gateway.peers["idp"].entity_id}))
    client = rp.client
    pushed = requests.post(f"{gateway.url}/par", data=params, auth=(client.client_id, client.secret or ""), timeout=10)
    assert pushed.status_code == 201, pushed.text
    return rp, pushed.json()["request_uri"]


def test_pushed_request_used_twice(gateway: RunningGateway) -> None:
    _, request_uri = _push(gateway)
    url = f"{gateway.url}/authorize?" + urlencode({"client_id": "basic-rp", "request_uri": request_uri})
    assert requests.get(url, allow_redirects=False, timeout=10).status_code == 302
    again = requests.get(url, allow_redirects=False, timeout=10)
    assert again.status_code == 400, "the query names no redirect_uri to return to"
    assert error_code(again) == "bad_redirect_uri"


def test_pushed_request_used_by_another_client(gateway: RunningGateway) -> None:
    """RFC 9126 4: a request_uri is bound to the client that pushed it."""
    _, request_uri = _push(gateway, "basic-rp")
    other = gateway.clients["post-rp"]
    url = f"{gateway.url}/authorize?" + urlencode(
        {"client_id": other.client_id, "request_uri": request_uri, "redirect_uri": other.redirect_uri, "state": "s"}
    )
    response = requests.get(url, allow_redirects=False, timeout=10)
    assert response.status_code == 302
    assert query(response.headers["Location"])["error"] == "invalid_request_uri"
    assert "code" not in query(response.headers["Location"])


def test_guessed_request_uri(gateway: RunningGateway) -> None:
    client = gateway.clients["basic-rp"]
    url = f"{gateway.url}/authorize?" + urlencode(
        {"client_id": client.client_id, "redirect_uri": client.redirect_uri, "state": "s",
         "request_uri": "urn:ietf:params:oauth:request_uri:" + secrets.token_urlsafe(32)}
    )  # fmt: skip
    response = requests.get(url, allow_redirects=False, timeout=10)
    assert query(response.headers["Location"])["error"] == "invalid_request_uri"


def test_push_with_a_wrong_secret(gateway: RunningGateway) -> None:
    client = gateway.clients["basic-rp"]
    pushed = requests.post(f"{gateway.url}/par", data={"response_type": "code"}, auth=(client.client_id, "wrong"),
                           timeout=10)  # fmt: skip
    assert pushed.status_code == 401
    assert pushed.json()["error"] == "invalid_client"


# --- CORS ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "path"), [("OPTIONS", "/token"), ("POST", "/token"), ("GET", "/userinfo"),
                                              ("OPTIONS", "/userinfo")])  # fmt: skip
def test_no_cross_origin_access_to_token_and_userinfo(gateway: RunningGateway, method: str, path: str) -> None:
    """Confidential clients call these from their servers; a browser script on another origin may not read
    them (no Access-Control-Allow-Origin, no credentials)."""
    response = requests.request(method, f"{gateway.url}{path}", timeout=10, headers={
        "Origin": "https://evil.example", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization"})  # fmt: skip
    assert "Access-Control-Allow-Origin" not in response.headers
    assert "Access-Control-Allow-Credentials" not in response.headers
