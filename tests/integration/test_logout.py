"""Logout over real HTTP: RP-Initiated Logout 1.0 at /logout, Back-Channel Logout 1.0 to the e-services.

The gateway runs under gunicorn on Redis with one peer IdP. Each e-service registers post-logout
redirect URIs; some also a back-channel logout URI, served by a `LogoutReceiver` in this process
(one that answers, one that is slow, one where nothing listens).
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from joserfc import jwt
from joserfc.jwk import KeySet
from joserfc.jwk import RSAKey

from gateway.oidc import id_token as id_tokens
from gateway.trust.keystore import load_keys
from gateway.trust.signing_keys import SigningKeys
from tests.integration.harness import LoginSteps
from tests.integration.harness import Rp
from tests.integration.harness import RunningGateway
from tests.integration.harness import TestClient as RegisteredClient
from tests.integration.harness import full_login
from tests.integration.harness import running_gateway
from tests.peers.logout_receiver import LogoutReceiver
from tests.peers.logout_receiver import down_url
from tests.peers.saml_idp import LOA3
from tests.peers.saml_idp import PeerIdP

pytestmark = pytest.mark.slow

HINT = "https://id.oidc.se/param/authnProvider"
EVENT = "http://schemas.openid.net/event/backchannel-logout"
SLOW_SECONDS = 8


def _bye(client_id: str) -> str:
    return f"https://{client_id}.example/logged-out"


def _client(client_id: str, backchannel: str | None = None) -> RegisteredClient:
    options: dict[str, Any] = {"post_logout_redirect_uris": [_bye(client_id)]}
    if backchannel is not None:
        options["backchannel_logout_uri"] = backchannel
    return RegisteredClient(
        client_id, f"https://{client_id}.example/cb", secret=secrets.token_urlsafe(32), options=options
    )


@pytest.fixture(scope="module")
def receiver() -> Iterator[LogoutReceiver]:
    """basic-rp's back-channel logout endpoint."""
    with LogoutReceiver() as running:
        yield running


@pytest.fixture(scope="module")
def slow_receiver() -> Iterator[LogoutReceiver]:
    """slow-rp's endpoint: it answers only after `SLOW_SECONDS`."""
    with LogoutReceiver(delay=SLOW_SECONDS) as running:
        yield running


@pytest.fixture(scope="module")
def gateway(
    tmp_path_factory: pytest.TempPathFactory, redis_url: str, receiver: LogoutReceiver, slow_receiver: LogoutReceiver
) -> Iterator[RunningGateway]:
    tmp = tmp_path_factory.mktemp("logout")
    peers = {"idp": PeerIdP(tmp / "idp", entity_id="https://idp.test.example/idp",
                            sso_url="https://idp.test.example/sso", loas=(LOA3,))}  # fmt: skip
    clients = {
        "basic-rp": _client("basic-rp", receiver.url),
        "post-rp": _client("post-rp"),
        "down-rp": _client("down-rp", down_url()),
        "slow-rp": _client("slow-rp", slow_receiver.url),
    }
    with running_gateway(tmp / "gateway", redis_url=redis_url, peers=peers, clients=clients) as running:
        yield running


def _logout(browser: requests.Session, gateway: RunningGateway, **params: str) -> requests.Response:
    return browser.get(f"{gateway.url}/logout", params=params, allow_redirects=False, timeout=15)


def _sso_answers(browser: requests.Session, gateway: RunningGateway, client_id: str) -> bool:
    """Whether a new login for ``client_id`` in ``browser`` is answered from the SSO session (else: the IdP)."""
    rp = Rp.for_client(gateway, client_id)
    response = browser.get(
        rp.authorization_url(**{HINT: gateway.peers["idp"].entity_id}), allow_redirects=False, timeout=10
    )
    assert response.status_code == 302, response.text
    location = response.headers["Location"]
    if location.startswith(rp.client.redirect_uri):
        assert "code=" in location
        return True
    assert location.startswith(gateway.peers["idp"].sso_url), location
    return False


def _second_login(steps: LoginSteps, gateway: RunningGateway, client_id: str) -> dict[str, Any]:
    """``client_id`` logs in through the SSO session of ``steps``' browser; its verified ID token claims."""
    rp = Rp.for_client(gateway, client_id)
    response = steps.browser.get(rp.authorization_url(), allow_redirects=False, timeout=10)
    assert response.headers["Location"].startswith(rp.client.redirect_uri)
    return rp.verify_id_token(rp.fetch_token(response.headers["Location"])["id_token"])


def _page_marker(response: requests.Response) -> str:
    """The page's data-logout (confirm, done, stayed) or data-error value."""
    found = re.search(r'data-(?:logout|error)="([a-z_]+)"', response.text)
    assert found, response.text
    return found.group(1)


def _form(response: requests.Response) -> dict[str, str]:
    return dict(re.findall(r'name="(l|csrf)" value="([^"]+)"', response.text))


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


# --- discovery ----------------------------------------------------------------------------------------


def _form_action(response: requests.Response) -> list[str]:
    """The sources of the page's CSP ``form-action``."""
    directives = dict(d.strip().split(" ", 1) for d in response.headers["Content-Security-Policy"].split(";"))
    return directives["form-action"].split()


def test_discovery_lists_the_end_session_endpoint_and_back_channel_logout(gateway: RunningGateway) -> None:
    document = requests.get(f"{gateway.url}/.well-known/openid-configuration", timeout=5).json()
    assert document["end_session_endpoint"] == f"{gateway.url}/logout"
    assert document["backchannel_logout_supported"] is True
    assert document["backchannel_logout_session_supported"] is True
    assert document.get("frontchannel_logout_supported", False) is False


# --- RP-initiated logout ------------------------------------------------------------------------------


def test_a_hint_for_this_session_logs_out_at_once_and_redirects_with_state(gateway: RunningGateway) -> None:
    steps, token = full_login(gateway, "post-rp", "idp")
    session_cookie = steps.browser.cookies.get("eidgw_sid")
    assert session_cookie
    response = _logout(
        steps.browser, gateway, id_token_hint=token["id_token"], post_logout_redirect_uri=_bye("post-rp"),
        state="st-42",
    )  # fmt: skip
    assert response.status_code == 302
    assert response.headers["Location"] == f"{_bye('post-rp')}?state=st-42"
    assert re.search(r"eidgw_sid=;.*Max-Age=0", response.headers["Set-Cookie"])
    assert steps.browser.cookies.get("eidgw_sid") is None
    assert _sso_answers(steps.browser, gateway, "post-rp") is False  # to the e-ID provider again
    # Ended in the store too, not only forgotten by this browser: the old cookie brings nothing back.
    replayed = requests.Session()
    replayed.cookies.set("eidgw_sid", session_cookie)
    assert _sso_answers(replayed, gateway, "post-rp") is False
    audit = [json.loads(line) for line in gateway.log_text().splitlines() if '"event": "logout"' in line]
    assert any(entry.get("via") == "id_token_hint" and entry.get("ended") == 1 for entry in audit)


def _userinfo(gateway: RunningGateway, token: dict[str, Any]) -> requests.Response:
    headers = {"Authorization": f"Bearer {token['access_token']}"}
    return requests.get(f"{gateway.url}/userinfo", headers=headers, timeout=5)


def test_logging_out_revokes_the_access_tokens_the_session_gave_each_e_service(gateway: RunningGateway) -> None:
    steps, first = full_login(gateway, "post-rp", "idp")
    basic = Rp.for_client(gateway, "basic-rp")
    answered = steps.browser.get(basic.authorization_url(), allow_redirects=False, timeout=10)
    second = basic.fetch_token(answered.headers["Location"])  # the same SSO session, another e-service
    _, elsewhere = full_login(gateway, "post-rp", "idp")  # another citizen's session
    assert [_userinfo(gateway, token).status_code for token in (first, second, elsewhere)] == [200, 200, 200]

    assert _page_marker(_logout(steps.browser, gateway, id_token_hint=first["id_token"])) == "done"

    for token in (first, second):
        refused = _userinfo(gateway, token)
        assert refused.status_code == 401
        assert 'error="invalid_token"' in refused.headers["WWW-Authenticate"]
    assert _userinfo(gateway, elsewhere).status_code == 200


def test_a_post_works_like_a_get(gateway: RunningGateway) -> None:
    steps, token = full_login(gateway, "post-rp", "idp")
    response = steps.browser.post(
        f"{gateway.url}/logout",
        data={"id_token_hint": token["id_token"], "post_logout_redirect_uri": _bye("post-rp"), "state": "s"},
        allow_redirects=False, timeout=15,
    )  # fmt: skip
    assert (response.status_code, response.headers["Location"]) == (303, f"{_bye('post-rp')}?state=s")
    assert _sso_answers(steps.browser, gateway, "post-rp") is False


@pytest.mark.parametrize("uri", ["https://post-rp.example/elsewhere", _bye("basic-rp"), _bye("post-rp") + "/"])
def test_an_unregistered_post_logout_redirect_uri_gets_a_page_never_a_redirect(
    gateway: RunningGateway, uri: str
) -> None:
    steps, token = full_login(gateway, "post-rp", "idp")
    response = _logout(steps.browser, gateway, id_token_hint=token["id_token"], post_logout_redirect_uri=uri, state="s")
    assert response.status_code == 200
    assert "Location" not in response.headers
    assert _page_marker(response) == "done"
    assert uri not in response.text


def test_without_a_hint_the_citizen_is_asked_and_only_the_right_token_logs_out(gateway: RunningGateway) -> None:
    steps, _ = full_login(gateway, "post-rp", "idp")
    asked = _logout(steps.browser, gateway, client_id="post-rp", post_logout_redirect_uri=_bye("post-rp"), state="x")
    assert asked.status_code == 200
    assert _page_marker(asked) == "confirm"
    # The answer is redirected to the e-service, and browsers check form-action along that redirect.
    assert "https://post-rp.example" in _form_action(asked)
    assert _sso_answers(steps.browser, gateway, "post-rp") is True  # nothing happened yet
    form = _form(asked)
    assert set(form) == {"l", "csrf"}
    confirm = f"{gateway.url}/logout/confirm"

    for forged in ({"l": form["l"], "csrf": "wrong", "action": "logout"}, {"l": form["l"], "action": "logout"}):
        refused = steps.browser.post(confirm, data=forged, allow_redirects=False, timeout=10)
        assert (refused.status_code, _page_marker(refused)) == (400, "logout_expired")
        assert _sso_answers(steps.browser, gateway, "post-rp") is True
    # The right token from another browser (a cross-site POST carries no SameSite=Lax cookie either).
    elsewhere = requests.post(confirm, data={**form, "action": "logout"}, allow_redirects=False, timeout=10)
    assert (elsewhere.status_code, _page_marker(elsewhere)) == (400, "logout_expired")
    assert _sso_answers(steps.browser, gateway, "post-rp") is True

    done = steps.browser.post(confirm, data={**form, "action": "logout"}, allow_redirects=False, timeout=15)
    assert done.status_code == 303
    assert done.headers["Location"] == f"{_bye('post-rp')}?state=x"
    assert steps.browser.cookies.get("eidgw_sid") is None
    assert _sso_answers(steps.browser, gateway, "post-rp") is False
    again = steps.browser.post(confirm, data={**form, "action": "logout"}, allow_redirects=False, timeout=10)
    assert (again.status_code, _page_marker(again)) == (400, "logout_expired")  # an answer counts once


def test_the_citizen_may_choose_to_stay_logged_in(gateway: RunningGateway) -> None:
    steps, _ = full_login(gateway, "post-rp", "idp")
    asked = _logout(steps.browser, gateway)
    assert "https://post-rp.example" not in _form_action(asked)  # nowhere to redirect to: nothing added
    stayed = steps.browser.post(
        f"{gateway.url}/logout/confirm", data={**_form(asked), "action": "stay"}, allow_redirects=False, timeout=10
    )
    assert (stayed.status_code, _page_marker(stayed)) == (200, "stayed")
    assert _sso_answers(steps.browser, gateway, "post-rp") is True


def test_a_hint_for_another_session_asks_first(gateway: RunningGateway) -> None:
    victim, _ = full_login(gateway, "post-rp", "idp")
    attacker, attackers_token = full_login(gateway, "post-rp", "idp")
    # An attacker's page sends the victim's browser to /logout with the attacker's own ID token.
    response = _logout(victim.browser, gateway, id_token_hint=attackers_token["id_token"])
    assert (response.status_code, _page_marker(response)) == (200, "confirm")
    assert _sso_answers(victim.browser, gateway, "post-rp") is True
    assert _sso_answers(attacker.browser, gateway, "post-rp") is True
    # And in a browser with no session at all: asked as well (there is nothing of its own to end).
    fresh = _logout(requests.Session(), gateway, id_token_hint=attackers_token["id_token"])
    assert _page_marker(fresh) == "confirm"


def _forged_hints(gateway: RunningGateway, token: str) -> dict[str, str]:
    jwks = KeySet.import_key_set(requests.get(f"{gateway.url}/jwks", timeout=5).json())
    decoded = jwt.decode(token, jwks)
    claims, kid = decoded.claims, decoded.header["kid"]
    ours = SigningKeys(load_keys(gateway.workdir / "keys", None))  # the gateway's own key files
    return {
        "another key": jwt.encode({"alg": "RS256", "kid": kid}, claims, RSAKey.generate_key(2048)),
        "alg none": f"{_b64({'alg': 'none', 'kid': kid, 'typ': 'JWT'})}.{_b64(claims)}.",
        "another issuer": id_tokens.sign({**claims, "iss": "https://evil.example"}, ours),
        "not a JWT": "not-a-jwt",
    }


def test_hints_that_are_not_our_id_tokens_are_refused_and_the_session_stays(gateway: RunningGateway) -> None:
    steps, token = full_login(gateway, "post-rp", "idp")
    for what, hint in _forged_hints(gateway, token["id_token"]).items():
        response = _logout(steps.browser, gateway, id_token_hint=hint, post_logout_redirect_uri=_bye("post-rp"))
        assert response.status_code == 400, what
        assert _page_marker(response) == "logout_refused", what
        assert "Location" not in response.headers
        assert steps.browser.cookies.get("eidgw_sid"), what
        assert _sso_answers(steps.browser, gateway, "post-rp") is True, what
    # The check can fail: our own key with our issuer is accepted.
    accepted = _logout(steps.browser, gateway, id_token_hint=token["id_token"])
    assert _page_marker(accepted) == "done"


def test_a_client_id_that_is_not_the_hints_audience_is_refused(gateway: RunningGateway) -> None:
    steps, token = full_login(gateway, "post-rp", "idp")
    response = _logout(
        steps.browser, gateway, id_token_hint=token["id_token"], client_id="basic-rp",
        post_logout_redirect_uri=_bye("basic-rp"),
    )  # fmt: skip
    assert (response.status_code, _page_marker(response)) == (400, "logout_refused")
    assert _sso_answers(steps.browser, gateway, "post-rp") is True


# --- back-channel logout -------------------------------------------------------------------------------


def test_back_channel_logout_tells_exactly_the_client_that_registered_for_it(
    gateway: RunningGateway, receiver: LogoutReceiver
) -> None:
    steps, token = full_login(gateway, "basic-rp", "idp")
    basic_claims = steps.rp.verify_id_token(token["id_token"])
    post_claims = _second_login(steps, gateway, "post-rp")  # the same SSO session, no back-channel URI
    assert post_claims["sid"] == basic_claims["sid"]
    before = len(receiver.posts)

    response = _logout(
        steps.browser, gateway, id_token_hint=token["id_token"], post_logout_redirect_uri=_bye("basic-rp")
    )
    assert response.status_code == 302

    posts = receiver.posts[before:]
    assert len(posts) == 1
    assert posts[0].content_type == "application/x-www-form-urlencoded"
    assert list(posts[0].form) == ["logout_token"]
    jwks = KeySet.import_key_set(requests.get(f"{gateway.url}/jwks", timeout=5).json())
    logout_token = jwt.decode(posts[0].form["logout_token"][0], jwks, algorithms=["RS256"])
    assert logout_token.header["typ"] == "logout+jwt"
    assert logout_token.header["kid"] == jwt.decode(token["id_token"], jwks).header["kid"]
    claims = logout_token.claims
    assert claims["iss"] == gateway.url
    assert claims["aud"] == "basic-rp"
    assert claims["sid"] == basic_claims["sid"]
    assert claims["sub"] == basic_claims["sub"] != post_claims["sub"]  # the pairwise sub basic-rp knows
    assert claims["events"] == {EVENT: {}}
    assert "nonce" not in claims
    assert claims["jti"]
    assert claims["iat"] <= time.time() + 5 < claims["exp"] <= claims["iat"] + 300


def test_e_services_that_are_down_or_slow_do_not_hold_up_the_logout(
    gateway: RunningGateway, slow_receiver: LogoutReceiver
) -> None:
    steps, token = full_login(gateway, "down-rp", "idp")
    _second_login(steps, gateway, "slow-rp")
    began = time.monotonic()
    response = _logout(
        steps.browser, gateway, id_token_hint=token["id_token"], post_logout_redirect_uri=_bye("down-rp")
    )
    elapsed = time.monotonic() - began
    assert response.status_code == 302
    assert response.headers["Location"] == _bye("down-rp")
    assert elapsed < SLOW_SECONDS - 2, elapsed  # bounded: the slow e-service was not waited for
    assert len(slow_receiver.posts) == 1
    assert _sso_answers(steps.browser, gateway, "down-rp") is False
    # Both may come back: they are retried in the background (the final outcomes, and their counts on
    # /metrics, come after the retries: tests/unit/oidc/test_backchannel.py).
    attempt = r'"event": "back-channel logout attempt failed".*"client": "{}", "error": "{}", "attempt": 1'
    _wait_for_log(gateway, attempt.format("down-rp", "ConnectionError"))
    _wait_for_log(gateway, attempt.format("slow-rp", "ReadTimeout"))


def _wait_for_log(gateway: RunningGateway, pattern: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not re.search(pattern, gateway.log_text()):
        assert time.monotonic() < deadline, pattern
        time.sleep(0.1)
