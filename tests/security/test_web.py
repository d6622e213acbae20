"""Web attacks on the citizen's side: session fixation, cookies, CSRF, framing, CSP, Host header, logs.

Most tests use the development-mode gateway of this module; the cookie flags, proxy headers and /metrics
access that differ outside development are checked on a second gateway configured for production (https
issuer behind a TLS-terminating proxy, as README describes), and default-deny /metrics on a third.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from http.cookiejar import Cookie
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.integration.conftest import make_clients
from tests.integration.harness import LoginSteps
from tests.integration.harness import Rp
from tests.integration.harness import RunningGateway
from tests.integration.harness import query
from tests.integration.harness import running_gateway
from tests.peers.federation import FederationCA
from tests.peers.federation import aggregate
from tests.peers.federation import sign
from tests.peers.saml_idp import LOA3
from tests.peers.saml_idp import PeerIdP
from tests.security.attack import ATTACKER_PNR
from tests.security.attack import PNR_CLAIM
from tests.security.attack import StoreWatch
from tests.security.attack import begin
from tests.security.attack import error_code
from tests.security.attack import logged_in

pytestmark = pytest.mark.slow

PUBLIC_ISSUER = "https://login.gateway.test"
PROXY = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.7"}


@contextmanager
def _production_gateway(tmp: Path, redis_url: str, **extra: Any) -> Iterator[RunningGateway]:
    """A gateway with ``environment: production`` behind a (simulated) TLS proxy; ``extra`` adds settings."""
    peers = {"idp": PeerIdP(tmp / "idp", entity_id="https://idp.test.example/idp",
                            sso_url="https://idp.test.example/sso", loas=(LOA3,))}  # fmt: skip
    workdir = tmp / "gateway"
    (workdir / "metadata").mkdir(parents=True)
    signer = FederationCA.create().issue_signer()
    (workdir / "metadata" / "signer.crt").write_bytes(signer.cert_pem)
    (workdir / "metadata" / "federation.xml").write_bytes(sign(aggregate([peers["idp"].metadata_xml()]), signer))
    saml = {
        "metadata": [{"file": "metadata/federation.xml", "signing_cert": "metadata/signer.crt"}],
        "sp_metadata": {
            "service_type": "public-sector-sp",
            "display_name": {"sv": "Testkommunen", "en": "Test municipality"},
            "logos": [{"url": f"{PUBLIC_ISSUER}/static/logo.png", "width": 80, "height": 80}],
            "organization": {
                "name": {"sv": "Testkommunen"},
                "display_name": {"sv": "Testkommunen"},
                "url": {"sv": PUBLIC_ISSUER},
                "number": "2120001234",
            },
        },
    }
    with running_gateway(
        workdir, redis_url=redis_url, peers=peers, clients=make_clients(),
        extra={"environment": "production", "issuer": PUBLIC_ISSUER, "secret_key": secrets.token_urlsafe(40),
               "saml": saml, **extra},
    ) as running:  # fmt: skip
        yield running


@pytest.fixture(scope="module")
def production(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[RunningGateway]:
    """The production gateway, with the `metrics.token` the harness gives it."""
    with _production_gateway(tmp_path_factory.mktemp("production"), redis_url) as running:
        yield running


def _cookie(jar: requests.cookies.RequestsCookieJar, name: str) -> Cookie:
    found = [cookie for cookie in jar if cookie.name == name]
    assert len(found) == 1, [c.name for c in jar]
    return found[0]


def _set_cookie_headers(response: requests.Response) -> dict[str, str]:
    """The Set-Cookie header of each cookie, by name (requests merges them; raw headers keep the flags)."""
    headers = response.raw.headers.getlist("Set-Cookie")
    return {header.split("=", 1)[0]: header for header in headers}


# --- cookies and sessions ---------------------------------------------------------------------------


def test_login_cookies_are_httponly_and_samesite_lax(gateway: RunningGateway) -> None:
    """HttpOnly: no script reads them; SameSite=Lax: no cross-site POST carries them (the resume hop relies
    on that); Path=/. In development (plain http) they cannot be Secure."""
    steps = LoginSteps(requests.Session(), Rp.for_client(gateway, "basic-rp"), gateway.peers["idp"])
    tx_header = _set_cookie_headers(steps.start(**{"https://id.oidc.se/param/authnProvider": steps.peer.entity_id}))
    steps.respond()
    assert steps.post_to_acs().status_code == 303
    sid_header = _set_cookie_headers(steps.resume())
    for header in (tx_header["eidgw_tx"], sid_header["eidgw_sid"]):
        flags = {flag.strip().lower() for flag in header.split(";")[1:]}
        assert {"httponly", "samesite=lax", "path=/"} <= flags, header
        assert "secure" not in flags


def test_cookies_are_secure_and_host_only_outside_development(production: RunningGateway) -> None:
    """Secure, and named ``__Host-``: browsers then keep them only as set by this host for Path=/, with no
    Domain, so a sibling subdomain can neither plant nor shadow them (RFC 6265bis 4.1.3.2)."""
    rp = Rp.for_client(production, "basic-rp")
    url = rp.authorization_url(**{"https://id.oidc.se/param/authnProvider": production.peers["idp"].entity_id})
    response = requests.get(url, headers=PROXY, allow_redirects=False, timeout=10)
    assert response.status_code == 302, response.text
    cookies = _set_cookie_headers(response)
    assert "eidgw_tx" not in cookies
    flags = {flag.strip().lower() for flag in cookies["__Host-eidgw_tx"].split(";")[1:]}
    assert {"secure", "httponly", "samesite=lax", "path=/"} <= flags
    assert not any(flag.startswith("domain=") for flag in flags)


def _production_browser(production: RunningGateway) -> LoginSteps:
    """A login that reached the resume step on the production gateway, its transaction cookie in the jar."""
    browser = requests.Session()
    browser.headers.update(PROXY)
    steps = LoginSteps(browser, Rp.for_client(production, "basic-rp"), production.peers["idp"])
    assert steps.start(**{"https://id.oidc.se/param/authnProvider": steps.peer.entity_id}).status_code == 302
    assert [(c.name, c.secure) for c in browser.cookies] == [("__Host-eidgw_tx", True)]
    for cookie in browser.cookies:
        cookie.secure = False  # the test speaks plain http on the proxy's inner side, where a browser had TLS
    posted = steps.respond()
    # The provider posts to the public ACS URL; the test reaches it through the proxy's inner side.
    assert steps.post_to_acs(replace(posted, acs_url=f"{production.url}/saml/acs")).status_code == 303
    return steps


def test_a_login_completes_with_host_prefixed_cookies_outside_development(production: RunningGateway) -> None:
    steps = _production_browser(production)
    resumed = steps.resume()
    assert resumed.status_code == 302, resumed.text
    assert "code" in query(steps.callback_url)
    assert "__Host-eidgw_sid" in steps.browser.cookies


def test_an_unprefixed_cookie_is_not_read_outside_development(production: RunningGateway) -> None:
    """What a sibling subdomain could set (no ``__Host-``) is not the gateway's cookie."""
    steps = _production_browser(production)
    value = steps.browser.cookies.get("__Host-eidgw_tx")
    steps.browser.cookies.clear()
    steps.browser.cookies.set("eidgw_tx", value)
    refused = steps.resume()
    assert refused.status_code == 400
    assert error_code(refused) in ("session_mismatch", "expired")


def test_planted_session_id_is_never_adopted(gateway: RunningGateway) -> None:
    """Session fixation: a session id chosen by the attacker (unsigned, or signed by nobody) is ignored;
    the login makes a new one, and nothing is ever stored under the planted value."""
    planted = secrets.token_urlsafe(24)
    steps = begin(gateway)
    steps.browser.cookies.set("eidgw_sid", planted, domain="127.0.0.1")
    steps.respond()
    logged_in(steps)
    issued = _cookie(steps.browser.cookies, "eidgw_sid").value
    assert issued != planted
    assert not any(planted in key for key in StoreWatch(gateway).current())


def test_attackers_own_session_planted_in_the_victims_browser_does_not_survive_a_login(
    gateway: RunningGateway,
) -> None:
    """The attacker's valid session cookie in the victim's browser: a login with prompt=login makes a new
    session for the victim, whose id differs from the attacker's."""
    attacker = begin(gateway)
    attacker.respond()
    logged_in(attacker)
    attackers_cookie = _cookie(attacker.browser.cookies, "eidgw_sid").value
    victim = begin(gateway, prompt="login")
    victim.browser.cookies.set("eidgw_sid", attackers_cookie, domain="127.0.0.1")
    victim.respond()
    logged_in(victim)
    assert _cookie(victim.browser.cookies, "eidgw_sid").value != attackers_cookie


def test_every_login_gets_a_new_session_id(gateway: RunningGateway) -> None:
    first = begin(gateway)
    first.respond()
    logged_in(first)
    before = _cookie(first.browser.cookies, "eidgw_sid").value
    again = begin(gateway, prompt="login")
    again.browser = first.browser
    assert (
        again.start(prompt="login", **{"https://id.oidc.se/param/authnProvider": again.peer.entity_id}).status_code
        == 302
    )
    again.respond()
    logged_in(again)
    assert _cookie(first.browser.cookies, "eidgw_sid").value != before


# --- CSRF on the chooser's forms ----------------------------------------------------------------------


def _chooser(gateway: RunningGateway) -> tuple[requests.Session, dict[str, str]]:
    """A browser on the chooser page, and the form's hidden fields."""
    rp = Rp.for_client(gateway, "basic-rp")
    browser = requests.Session()
    page = browser.get(rp.authorization_url(), allow_redirects=False, timeout=10)
    assert page.status_code == 200, page.text
    fields = dict(re.findall(r'name="(tx|csrf)" value="([^"]+)"', page.text))
    assert set(fields) == {"tx", "csrf"}
    return browser, fields


@pytest.mark.parametrize("path", ["/login/choose", "/login/forget", "/login/cancel"])
@pytest.mark.parametrize("forgery", ["no-token", "wrong-token", "other-logins-token", "no-cookie"])
def test_chooser_forms_refuse_cross_site_requests(gateway: RunningGateway, path: str, forgery: str) -> None:
    """Login CSRF: a form posted from another site (no transaction cookie) or without this login's token is
    refused with session_mismatch, sends nobody upstream, and leaves the real login usable."""
    browser, fields = _chooser(gateway)
    data = {"tx": fields["tx"], "provider": "idp", "csrf": fields["csrf"]}
    sender: requests.Session = browser
    if forgery == "no-token":
        del data["csrf"]
    elif forgery == "wrong-token":
        data["csrf"] = secrets.token_urlsafe(24)
    elif forgery == "other-logins-token":
        data["csrf"] = _chooser(gateway)[1]["csrf"]
    else:
        sender = requests.Session()
    refused = sender.post(f"{gateway.url}{path}", data=data, allow_redirects=False, timeout=10)
    assert refused.status_code == 400
    assert error_code(refused) == "session_mismatch"
    assert "Location" not in refused.headers
    real = browser.post(f"{gateway.url}/login/choose", data={**fields, "provider": "idp"}, allow_redirects=False,
                        timeout=10)  # fmt: skip
    assert real.status_code == 303
    assert real.headers["Location"].startswith(gateway.peers["idp"].sso_url)


def test_choice_cannot_be_made_with_a_get(gateway: RunningGateway) -> None:
    """A GET (a link or an image on another site) never submits a choice."""
    browser, fields = _chooser(gateway)
    response = browser.get(f"{gateway.url}/login/choose", params={**fields, "provider": "idp"}, allow_redirects=False,
                           timeout=10)  # fmt: skip
    assert response.status_code == 200
    assert "Location" not in response.headers


# --- framing, CSP, reflected input ---------------------------------------------------------------------------


def _pages(gateway: RunningGateway) -> dict[str, requests.Response]:
    rp = Rp.for_client(gateway, "basic-rp")
    return {
        "chooser": requests.get(rp.authorization_url(), timeout=10),
        "error": requests.get(f"{gateway.url}/authorize?client_id=nobody", timeout=10),
        "not-found": requests.get(f"{gateway.url}/nothing-here", timeout=10),
    }


def test_pages_cannot_be_framed(gateway: RunningGateway) -> None:
    """Clickjacking on the chooser (RFC 9700 4.16): no framing by anyone, by both mechanisms."""
    for name, response in _pages(gateway).items():
        assert response.headers.get("X-Frame-Options") == "DENY", name
        assert "frame-ancestors 'none'" in response.headers.get("Content-Security-Policy", ""), name


def test_content_security_policy_allows_no_script(gateway: RunningGateway) -> None:
    """The pages need no script: nothing inline, nothing evaluated, nothing from elsewhere."""
    for name, response in _pages(gateway).items():
        policy = response.headers.get("Content-Security-Policy", "")
        directives = {d.strip().split(" ", 1)[0]: d.strip() for d in policy.split(";") if d.strip()}
        assert directives.get("default-src") == "default-src 'none'", (name, policy)
        assert "script-src" not in directives or directives["script-src"] in ("script-src 'none'", "script-src 'self'")
        assert "unsafe-inline" not in policy, (name, policy)
        assert "unsafe-eval" not in policy, (name, policy)
        assert directives.get("base-uri") == "base-uri 'none'", (name, policy)
        assert response.headers.get("X-Content-Type-Options") == "nosniff"


def test_reflected_markup_is_escaped(gateway: RunningGateway) -> None:
    """state, ui_locales and login_hint travel through the pages; markup in them is never live."""
    payload = '"><script>alert(1)</script><img src=x onerror=alert(1)>'
    rp = Rp.for_client(gateway, "basic-rp")
    url = rp.authorization_url(ui_locales=payload, login_hint=payload).replace(
        f"state={rp.state}", "state=" + requests.utils.quote(payload)
    )
    page = requests.get(url, timeout=10)
    assert page.status_code == 200
    assert "<script>" not in page.text
    assert "onerror=alert" not in page.text


# --- Host header ---------------------------------------------------------------------------------------


def test_host_header_never_reaches_issuer_or_urls(gateway: RunningGateway) -> None:
    """Discovery, the upstream AuthnRequest and every redirect keep the configured issuer, whatever Host says."""
    evil = {"Host": "evil.example", "X-Forwarded-Host": "evil.example"}
    discovery = requests.get(f"{gateway.url}/.well-known/openid-configuration", headers=evil, timeout=10)
    assert discovery.json()["issuer"] == gateway.url
    assert "evil.example" not in discovery.text
    steps = begin(gateway)
    steps.browser.headers.update(evil)
    started = steps.start(**{"https://id.oidc.se/param/authnProvider": steps.peer.entity_id})
    assert "evil.example" not in started.headers["Location"]
    request = steps.peer.receive(started.headers["Location"])
    assert "evil.example" not in request.raw_xml
    steps.respond()
    acs = steps.post_to_acs()
    assert "evil.example" not in acs.headers["Location"]
    resumed = steps.resume()
    assert resumed.status_code == 302
    assert "evil.example" not in resumed.headers["Location"]
    assert query(steps.callback_url)["iss"] == gateway.url


def test_client_assertion_audience_is_not_taken_from_the_host_header(gateway: RunningGateway) -> None:
    """An assertion made for https://evil.example/token, sent with Host: evil.example, is still refused."""
    from tests.security.test_oidc import _assertion_token_request
    from tests.security.test_oidc import _claims
    from tests.security.test_oidc import _signed

    key = gateway.clients["jwt-rp"].key
    assert key is not None
    assertion = _signed(_claims(gateway, aud="http://evil.example/token"), key)
    original = requests.post

    def with_host(*args: object, **kwargs: object) -> requests.Response:
        kwargs["headers"] = {"Host": "evil.example"}
        return original(*args, **kwargs)  # type: ignore[arg-type]

    from unittest import mock

    with mock.patch("tests.security.attack.requests.post", with_host):
        response = _assertion_token_request(gateway, assertion)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_client"


def test_forwarded_host_is_ignored_behind_the_proxy(production: RunningGateway) -> None:
    """Only X-Forwarded-For and -Proto are trusted from the one proxy hop; never X-Forwarded-Host."""
    headers = {**PROXY, "X-Forwarded-Host": "evil.example", "Host": "evil.example"}
    discovery = requests.get(f"{production.url}/.well-known/openid-configuration", headers=headers, timeout=10)
    assert discovery.json()["authorization_endpoint"] == f"{PUBLIC_ISSUER}/authorize"
    rp = Rp.for_client(production, "basic-rp")
    url = rp.authorization_url().replace("code_challenge_method=S256", "code_challenge_method=plain")
    error = requests.get(url, headers=headers, allow_redirects=False, timeout=10)
    assert error.status_code == 302
    assert query(error.headers["Location"])["iss"] == PUBLIC_ISSUER
    assert "evil.example" not in error.headers["Location"]


# --- /metrics: trust facts are reconnaissance ------------------------------------------------------------


def _scrape(gateway: RunningGateway, authorization: str | None = None) -> requests.Response:
    headers = {"Authorization": authorization} if authorization is not None else {}
    return requests.get(f"{gateway.url}/metrics", headers=headers, timeout=10)


def test_metrics_need_the_bearer_token_in_production(production: RunningGateway) -> None:
    """Without the configured token, or with a wrong one, 401 and nothing of the metrics; with it, the metrics.
    The probes stay open, and neither the token nor a wrong guess reaches the log."""
    token = production.metrics_token
    assert token
    wrong = secrets.token_urlsafe(32)
    for authorization in (None, "", f"Bearer {wrong}", f"Bearer {token[:-1]}", f"Bearer {token}x",
                          f"Basic {token}", token):  # fmt: skip
        refused = _scrape(production, authorization)
        assert refused.status_code == 401, authorization
        assert refused.headers["WWW-Authenticate"] == 'Bearer realm="metrics"'
        assert "eid_gateway_" not in refused.text
    scraped = _scrape(production, f"Bearer {token}")
    assert scraped.status_code == 200
    assert re.search(r'^eid_gateway_metadata_valid\{source="[^"]+"\} 1\.0$', scraped.text, re.MULTILINE)
    assert _scrape(production, f"bearer {token}").status_code == 200  # the auth-scheme is case-insensitive
    for probe in ("/healthz", "/readyz"):
        assert requests.get(f"{production.url}{probe}", timeout=10).status_code == 200
    log = production.log_text()
    assert "metrics request refused" in log
    assert token not in log
    assert wrong not in log


def test_metrics_are_not_there_in_production_without_a_token(
    tmp_path_factory: pytest.TempPathFactory, redis_url: str
) -> None:
    """Default deny: production with neither `metrics.token` nor `metrics.public` answers 404, token or not."""
    with _production_gateway(tmp_path_factory.mktemp("closed"), redis_url, metrics={}) as closed:
        assert closed.metrics_token is None
        for authorization in (None, f"Bearer {secrets.token_urlsafe(32)}"):
            response = _scrape(closed, authorization)
            assert response.status_code == 404
            assert "eid_gateway_" not in response.text
        assert requests.get(f"{closed.url}/readyz", timeout=10).status_code == 200


# --- logs ------------------------------------------------------------------------------------------------


def test_log_injection_cannot_forge_a_log_line(gateway: RunningGateway) -> None:
    """Request values with newlines and JSON end up inside one JSON string, never as a line of their own."""
    marker = f"forged-{secrets.token_hex(4)}"
    forged = f'\n{{"event": "{marker}"}}\n'
    rp = Rp.for_client(gateway, "basic-rp")
    url = rp.authorization_url() + "&" + requests.utils.quote(forged) + "=1&" + requests.utils.quote(forged) + "=2"
    assert requests.get(url, allow_redirects=False, timeout=10).status_code == 302
    requests.post(f"{gateway.url}/saml/acs", data={"RelayState": forged, "SAMLResponse": forged}, timeout=10)
    lines = [line for line in gateway.log_text().splitlines() if marker in line]
    assert lines, "the attempt should have been logged"
    for line in lines:
        entry = json.loads(line)
        assert entry.get("event") != marker


def test_no_personal_data_or_secrets_in_the_log(gateway: RunningGateway) -> None:
    """After logins, token redemptions and refused responses in this module: the log holds no personal
    identity number, name, client secret, code, token, assertion or key (style rule 5)."""
    steps = begin(gateway)
    posted = steps.respond()
    claims = logged_in(steps)
    assert claims[PNR_CLAIM] == ATTACKER_PNR
    code = query(steps.callback_url)["code"]
    log = gateway.log_text()
    forbidden = {
        "personal identity number": ATTACKER_PNR,
        "given name": "Testa",
        "family name": "Testsson",
        "date of birth": "1992-03-10",
        "code": code,
        "SAMLResponse": posted.saml_response[:40],
        "private key": "PRIVATE KEY",
        **{f"secret of {c.client_id}": c.secret for c in make_clients().values() if c.secret},
        **{f"secret of running {c.client_id}": c.secret for c in gateway.clients.values() if c.secret},
    }
    for what, value in forbidden.items():
        assert value not in log, f"{what} found in the gateway log"
