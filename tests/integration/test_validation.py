"""Every validation rule of a login, each attacked once over real HTTP, each with its exact outcome.

A refused SAML response never yields a code: the ACS records the failure and
the resume step shows the citizen an error page (the e-service gets nothing).
OIDC errors at the token endpoint are RFC 6749 5.2 JSON errors.
"""

from __future__ import annotations

import datetime
import re

import pytest
import requests

from gateway.trust.certs import generate_key_pair
from tests.integration.harness import LoginSteps
from tests.integration.harness import Rp
from tests.integration.harness import RunningGateway
from tests.integration.harness import full_login
from tests.integration.harness import query
from tests.peers.saml_idp import LOA3
from tests.peers.saml_idp import LOA4


def _steps(gateway: RunningGateway, provider_id: str = "idp", client_id: str = "basic-rp", **extra: str) -> LoginSteps:
    steps = LoginSteps(requests.Session(), Rp.for_client(gateway, client_id), gateway.peers[provider_id])
    started = steps.start(**{"https://id.oidc.se/param/authnProvider": steps.peer.entity_id, **extra})
    assert started.status_code == 302, started.text
    return steps


def _error_code(response: requests.Response) -> str:
    match = re.search(r'data-error="([a-z_]+)"', response.text)
    assert match, response.text
    return match.group(1)


def _refused(steps: LoginSteps, expected: str) -> None:
    """The response was refused: no code, an error page with ``expected``, and nothing to resume."""
    acs = steps.post_to_acs()
    assert acs.status_code == 303
    page = steps.resume()
    assert page.status_code == 400, page.text
    assert _error_code(page) == expected
    assert "code=" not in page.headers.get("Location", "")
    again = steps.browser.get(steps.resume_url, allow_redirects=False, timeout=10)
    assert again.status_code == 400
    assert _error_code(again) == "expired"


def test_valid_login_through_the_helper_works(gateway: RunningGateway) -> None:
    """The positive control for every test below: the same steps without tampering succeed."""
    steps = _steps(gateway)
    steps.respond()
    assert steps.post_to_acs().status_code == 303
    assert steps.resume().status_code == 302
    assert "code" in query(steps.callback_url)


def test_response_signed_by_a_key_not_in_metadata_is_refused(gateway: RunningGateway) -> None:
    steps = _steps(gateway)
    steps.respond(signing_key=generate_key_pair("attacker"))
    _refused(steps, "provider_error")


def test_unsigned_response_is_refused(gateway: RunningGateway) -> None:
    steps = _steps(gateway)
    steps.respond(sign_response=False, sign_assertion=True)
    _refused(steps, "provider_error")


def test_tampered_signed_response_is_refused(gateway: RunningGateway) -> None:
    steps = _steps(gateway)
    posted = steps.respond()
    forged = posted.xml.replace(posted.response_id, posted.response_id + "x", 1)
    import base64
    from dataclasses import replace

    steps.posted = replace(posted, saml_response=base64.b64encode(forged.encode()).decode())
    _refused(steps, "provider_error")


def test_assertion_from_another_trusted_provider_is_refused(gateway: RunningGateway) -> None:
    """A response signed by another provider in our metadata, for a request that went elsewhere."""
    steps = _steps(gateway, "idp")
    request = steps.peer.receive(steps.upstream_url)
    steps.posted = gateway.peers["other"].respond(request)
    _refused(steps, "provider_error")


def test_issuer_spoofing_another_provider_is_refused(gateway: RunningGateway) -> None:
    """The other provider claims to be the one we asked: its signature does not match that issuer's keys."""
    steps = _steps(gateway, "idp")
    request = steps.peer.receive(steps.upstream_url)
    steps.posted = gateway.peers["other"].respond(request, issuer=steps.peer.entity_id)
    _refused(steps, "provider_error")


def test_wrong_audience_is_refused(gateway: RunningGateway) -> None:
    steps = _steps(gateway)
    steps.respond(audience="https://another-sp.example/metadata")
    _refused(steps, "provider_error")


def test_missing_audience_restriction_is_refused(gateway: RunningGateway) -> None:
    def drop_audience(assertion):  # type: ignore[no-untyped-def]
        for node in assertion.iter("{urn:oasis:names:tc:SAML:2.0:assertion}AudienceRestriction"):
            node.getparent().remove(node)

    steps = _steps(gateway)
    steps.respond(mutate_assertion=drop_audience)
    _refused(steps, "provider_error")


def test_wrong_recipient_is_refused(gateway: RunningGateway) -> None:
    steps = _steps(gateway)
    steps.respond(recipient="https://evil.example/acs")
    _refused(steps, "provider_error")


def test_wrong_destination_is_refused(gateway: RunningGateway) -> None:
    steps = _steps(gateway)
    steps.respond(destination="https://evil.example/acs")
    _refused(steps, "provider_error")


def test_expired_assertion_is_refused(gateway: RunningGateway) -> None:
    past = datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=5)
    steps = _steps(gateway)
    steps.respond(not_on_or_after=past, confirmation_not_on_or_after=past)
    _refused(steps, "provider_error")


def test_assertion_not_yet_valid_is_refused(gateway: RunningGateway) -> None:
    future = datetime.datetime.now(datetime.UTC) + datetime.timedelta(minutes=10)
    steps = _steps(gateway)
    steps.respond(not_before=future, not_on_or_after=future + datetime.timedelta(minutes=5))
    _refused(steps, "provider_error")


def test_unknown_in_response_to_is_refused(gateway: RunningGateway) -> None:
    steps = _steps(gateway)
    steps.respond(in_response_to="_unknown-request-id")
    _refused(steps, "provider_error")


def test_unsolicited_response_is_refused(gateway: RunningGateway) -> None:
    steps = _steps(gateway)
    steps.respond(in_response_to=None)
    _refused(steps, "provider_error")


def test_unencrypted_assertion_is_refused(gateway: RunningGateway) -> None:
    steps = _steps(gateway)
    steps.respond(encrypt=False)
    _refused(steps, "provider_error")


def test_loa_not_requested_is_refused(gateway: RunningGateway) -> None:
    """A downgrade: the client asked for (at least) loa4; a loa3 answer was not among the requested URIs (DP 6.3.4)."""
    steps = _steps(gateway, acr_values=LOA4)
    steps.respond(loa=LOA3)
    _refused(steps, "loa_not_met")


def test_replayed_response_is_refused(gateway: RunningGateway) -> None:
    steps, _ = full_login(gateway, "basic-rp", "idp")
    replay = steps.browser.post(steps.posted.acs_url, data=steps.posted.form(), allow_redirects=False, timeout=10)
    assert replay.status_code == 400
    assert _error_code(replay) == "expired"


def test_response_completed_in_another_browser_is_refused(gateway: RunningGateway) -> None:
    """The resume step only completes in the browser that started the login (design: the resume hop)."""
    steps = _steps(gateway)
    steps.respond()
    attacker = requests.Session()
    acs = attacker.post(steps.posted.acs_url, data=steps.posted.form(), allow_redirects=False, timeout=10)
    assert acs.status_code == 303
    resume_url = gateway.url + acs.headers["Location"]
    stolen = attacker.get(resume_url, allow_redirects=False, timeout=10)
    assert stolen.status_code == 400
    assert _error_code(stolen) == "session_mismatch"
    # the victim's own browser can still finish its login
    steps.resume_url = resume_url
    assert steps.resume().status_code == 302


def test_provider_cancel_returns_access_denied_to_the_client(gateway: RunningGateway) -> None:
    steps = _steps(gateway)
    steps.respond(status="urn:oasis:names:tc:SAML:2.0:status:Requester",
                  sub_status="http://id.elegnamnden.se/status/1.0/cancel")  # fmt: skip
    assert steps.post_to_acs().status_code == 303
    assert steps.resume().status_code == 302
    callback = query(steps.callback_url)
    assert callback["error"] == "access_denied"
    assert callback["state"] == steps.rp.state
    assert callback["iss"] == gateway.url
    assert "code" not in callback


# --- OIDC: authorization endpoint ---------------------------------------------------------------


@pytest.mark.parametrize(
    "redirect_uri",
    [
        "https://rp.example/callback/",
        "https://rp.example/callbackx",
        "https://RP.example/callback",
        "https://rp.example:443/callback",
        "https://rp.example/callback?x=1",
        "https://rp.example/callback#frag",
        "https://rp.example/%63allback",
        "https://evil.example/callback",
    ],
)
def test_redirect_uri_must_match_exactly_and_gets_a_page_not_a_redirect(
    gateway: RunningGateway, redirect_uri: str
) -> None:
    rp = Rp.for_client(gateway, "basic-rp")
    url = rp.authorization_url().replace(
        requests.utils.quote(rp.client.redirect_uri, safe=""), requests.utils.quote(redirect_uri, safe="")
    )
    response = requests.get(url, allow_redirects=False, timeout=10)
    assert response.status_code == 400
    assert "Location" not in response.headers
    assert _error_code(response) == "bad_redirect_uri"


def test_unknown_client_gets_a_page_not_a_redirect(gateway: RunningGateway) -> None:
    rp = Rp.for_client(gateway, "basic-rp")
    url = rp.authorization_url().replace("client_id=basic-rp", "client_id=nobody")
    response = requests.get(url, allow_redirects=False, timeout=10)
    assert response.status_code == 400
    assert "Location" not in response.headers
    assert _error_code(response) == "unknown_client"


@pytest.mark.parametrize(
    ("change", "error"),
    [
        (lambda url: re.sub(r"&code_challenge=[^&]+", "", url), "invalid_request"),
        (lambda url: url.replace("code_challenge_method=S256", "code_challenge_method=plain"), "invalid_request"),
        (lambda url: re.sub(r"&code_challenge_method=[^&]+", "", url), "invalid_request"),
        (lambda url: url.replace("response_type=code", "response_type=token"), "unsupported_response_type"),
    ],
    ids=["no-challenge", "plain", "no-method", "implicit"],
)
def test_authorization_errors_go_back_to_the_client(gateway: RunningGateway, change, error: str) -> None:  # type: ignore[no-untyped-def]
    rp = Rp.for_client(gateway, "basic-rp")
    response = requests.get(change(rp.authorization_url()), allow_redirects=False, timeout=10)
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith(rp.client.redirect_uri + "?")
    params = query(location)
    assert params["error"] == error
    assert params["state"] == rp.state
    assert params["iss"] == gateway.url


# --- OIDC: token endpoint -----------------------------------------------------------------------


def _code_for(gateway: RunningGateway, client_id: str = "basic-rp") -> LoginSteps:
    steps = _steps(gateway, client_id=client_id)
    steps.respond()
    steps.post_to_acs()
    assert steps.resume().status_code == 302
    return steps


def _token_request(steps: LoginSteps, **overrides: str) -> requests.Response:
    client = steps.rp.client
    data = {
        "grant_type": "authorization_code",
        "code": query(steps.callback_url)["code"],
        "redirect_uri": client.redirect_uri,
        "code_verifier": steps.rp.verifier,
        **overrides,
    }
    data = {k: v for k, v in data.items() if v is not None}
    return requests.post(f"{steps.rp.gateway.url}/token", data=data, auth=(client.client_id, client.secret), timeout=10)


def test_token_response_is_not_cacheable(gateway: RunningGateway) -> None:
    response = _token_request(_code_for(gateway))
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"


def test_missing_code_verifier_is_refused(gateway: RunningGateway) -> None:
    response = _token_request(_code_for(gateway), code_verifier=None)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_wrong_code_verifier_is_refused(gateway: RunningGateway) -> None:
    response = _token_request(_code_for(gateway), code_verifier="x" * 50)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_wrong_redirect_uri_at_token_is_refused(gateway: RunningGateway) -> None:
    response = _token_request(_code_for(gateway), redirect_uri="https://rp.example/other")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_code_used_twice_is_refused_and_revokes_its_tokens(gateway: RunningGateway) -> None:
    steps = _code_for(gateway)
    first = _token_request(steps)
    assert first.status_code == 200
    access_token = first.json()["access_token"]
    bearer = {"Authorization": f"Bearer {access_token}"}
    assert requests.get(f"{gateway.url}/userinfo", headers=bearer, timeout=5).status_code == 200
    second = _token_request(steps)
    assert second.status_code == 400
    assert second.json()["error"] == "invalid_grant"
    revoked = requests.get(f"{gateway.url}/userinfo", headers=bearer, timeout=5)
    assert revoked.status_code == 401
    assert revoked.json()["error"] == "invalid_token"


def test_wrong_client_secret_is_refused(gateway: RunningGateway) -> None:
    steps = _code_for(gateway)
    client = steps.rp.client
    response = requests.post(
        f"{gateway.url}/token",
        data={
            "grant_type": "authorization_code",
            "code": query(steps.callback_url)["code"],
            "redirect_uri": client.redirect_uri,
            "code_verifier": steps.rp.verifier,
        },
        auth=(client.client_id, "wrong-secret"),
        timeout=10,
    )
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    # the code was not consumed by the failed attempt
    assert _token_request(steps).status_code == 200


def test_code_cannot_be_redeemed_by_another_client(gateway: RunningGateway) -> None:
    steps = _code_for(gateway, "basic-rp")
    other = gateway.clients["post-rp"]
    response = requests.post(
        f"{gateway.url}/token",
        data={
            "grant_type": "authorization_code",
            "code": query(steps.callback_url)["code"],
            "redirect_uri": steps.rp.client.redirect_uri,
            "code_verifier": steps.rp.verifier,
            "client_id": other.client_id,
            "client_secret": other.secret,
        },
        timeout=10,
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_userinfo_without_token_is_refused(gateway: RunningGateway) -> None:
    response = requests.get(f"{gateway.url}/userinfo", timeout=5)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
