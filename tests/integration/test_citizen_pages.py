"""The citizen's pages over real HTTP: when the chooser appears, its language, its CSRF protection,
cancelling from it, the remembered choice, the security headers, and error pages with incident IDs
that match the log.

The gateway here has two peer IdPs: ``idp`` (LoA 3 and 4) and ``other`` (LoA 3). Browser-level
behaviour (clicking, keyboard, layout, axe) is in tests/browser.
"""

from __future__ import annotations

import html
import re
from urllib.parse import urlsplit

import requests

from tests.integration.harness import LoginSteps
from tests.integration.harness import Rp
from tests.integration.harness import RunningGateway
from tests.integration.harness import query
from tests.peers.saml_idp import LOA4

HINT = "https://id.oidc.se/param/authnProvider"


def _steps(gateway: RunningGateway, **headers: str) -> LoginSteps:
    browser = requests.Session()
    browser.headers.update(headers)
    return LoginSteps(browser, Rp.for_client(gateway, "basic-rp"), gateway.peers["idp"])


def _fields(page: str) -> dict[str, str]:
    return dict(re.findall(r'name="(tx|csrf)" value="([^"]+)"', page))


def _error(response: requests.Response) -> str:
    match = re.search(r'data-error="([a-z_]+)"', response.text)
    assert match, response.text
    return match.group(1)


def _lang(response: requests.Response) -> str:
    match = re.search(r'<html lang="([a-z]+)">', response.text)
    assert match, response.text
    return match.group(1)


# --- when the chooser appears -------------------------------------------------------------------


def test_chooser_lists_the_providers_that_fit(gateway: RunningGateway) -> None:
    chooser = _steps(gateway).start()
    assert chooser.status_code == 200
    assert set(re.findall(r'name="provider"[^>]*value="([^"]+)"', chooser.text)) == {"idp", "other"}
    assert "Logga in på E-tjänst basic-rp" in html.unescape(chooser.text)


def test_only_one_provider_fits_the_acr_so_no_chooser(gateway: RunningGateway) -> None:
    steps = _steps(gateway)
    response = steps.start(acr_values=LOA4)
    assert response.status_code == 302
    assert response.headers["Location"].startswith(gateway.peers["idp"].sso_url + "?")


def test_the_provider_hint_skips_the_chooser(gateway: RunningGateway) -> None:
    steps = _steps(gateway)
    response = steps.start(**{HINT: gateway.peers["other"].entity_id})
    assert response.status_code == 302
    assert response.headers["Location"].startswith(gateway.peers["other"].sso_url + "?")


# --- language -----------------------------------------------------------------------------------


def test_swedish_by_default_english_by_accept_language_and_ui_locales_first(gateway: RunningGateway) -> None:
    assert _lang(_steps(gateway).start()) == "sv"
    english = _steps(gateway, **{"Accept-Language": "en-GB,en;q=0.9"}).start()
    assert _lang(english) == "en"
    assert "Choose your e-ID" in english.text
    assert _lang(_steps(gateway, **{"Accept-Language": "en"}).start(ui_locales="sv")) == "sv"
    assert _lang(_steps(gateway).start(ui_locales="de en")) == "en"


def test_language_switch_shows_the_same_login_and_is_remembered(gateway: RunningGateway) -> None:
    steps = _steps(gateway)
    chooser = steps.start()
    tx = _fields(chooser.text)["tx"]
    link = html.unescape(re.search(r'<a href="([^"]+)" lang="en"', chooser.text).group(1))
    assert link == f"/login/choose?tx={tx}&lang=en"
    english = steps.browser.get(gateway.url + link, timeout=10)
    assert _lang(english) == "en"
    assert _fields(english.text) == _fields(chooser.text)
    assert steps.browser.cookies.get("eidgw_lang") == "en"
    assert steps.choose(english, "idp").status_code == 303


def test_the_chooser_link_is_bound_to_the_browser(gateway: RunningGateway) -> None:
    tx = _fields(_steps(gateway).start().text)["tx"]
    response = requests.get(f"{gateway.url}/login/choose?tx={tx}&lang=en", timeout=10)
    assert response.status_code == 400
    assert _error(response) == "session_mismatch"


# --- CSRF ---------------------------------------------------------------------------------------


def test_chooser_post_needs_the_token_and_the_transaction_cookie(gateway: RunningGateway) -> None:
    steps = _steps(gateway)
    fields = _fields(steps.start().text)
    url = f"{gateway.url}/login/choose"
    wrong_token = steps.browser.post(url, data={**fields, "csrf": "x" * 32, "provider": "idp"}, timeout=10)
    assert wrong_token.status_code == 400
    assert _error(wrong_token) == "session_mismatch"
    # A cross-site form POST carries no SameSite=Lax cookie: the same as another browser.
    cross_site = requests.post(url, data={**fields, "provider": "idp"}, allow_redirects=False, timeout=10)
    assert cross_site.status_code == 400
    assert _error(cross_site) == "session_mismatch"
    assert (
        steps.browser.post(url, data={**fields, "provider": "idp"}, allow_redirects=False, timeout=10).status_code
        == 303
    )


def test_transaction_cookie_is_samesite_lax_and_httponly(gateway: RunningGateway) -> None:
    response = _steps(gateway).start()
    cookie = next(c for c in response.headers["Set-Cookie"].split(", eidgw") if "eidgw_tx=" in c)
    assert "SameSite=Lax" in cookie
    assert "HttpOnly" in cookie


def test_continue_without_a_choice_shows_the_chooser_again(gateway: RunningGateway) -> None:
    steps = _steps(gateway)
    chooser = steps.start()
    again = steps.browser.post(f"{gateway.url}/login/choose", data=_fields(chooser.text), timeout=10)
    assert again.status_code == 400
    assert 'id="choice-error"' in again.text
    assert steps.choose(again, "other").status_code == 303


# --- cancel -------------------------------------------------------------------------------------


def _cancel(steps: LoginSteps, fields: dict[str, str]) -> requests.Response:
    return steps.browser.post(f"{steps.rp.gateway.url}/login/cancel", data=fields, allow_redirects=False, timeout=10)


def _cancel_form(page: str) -> str:
    match = re.search(r'<form class="cancel" method="post" action="/login/cancel">(.*?)</form>', page, re.DOTALL)
    assert match, page
    return match.group(1)


def test_cancel_button_in_both_languages_carries_the_logins_token(gateway: RunningGateway) -> None:
    for headers, label in (({}, "Avbryt"), ({"Accept-Language": "en"}, "Cancel")):
        chooser = _steps(gateway, **headers).start()
        form = _cancel_form(chooser.text)
        assert re.search(rf'<button type="submit" class="button button-link">{label}</button>', form), form
        assert _fields(form) == _fields(chooser.text)


def test_cancel_returns_access_denied_with_state_and_iss(gateway: RunningGateway) -> None:
    steps = _steps(gateway)
    fields = _fields(steps.start().text)
    assert steps.browser.cookies.get("eidgw_tx")
    cancelled = _cancel(steps, fields)
    assert cancelled.status_code == 303
    location = cancelled.headers["Location"]
    assert location.startswith(steps.rp.client.redirect_uri + "?")
    assert query(location) == {"error": "access_denied", "state": steps.rp.state, "iss": gateway.url}
    assert steps.browser.cookies.get("eidgw_tx") is None
    audit = [line for line in gateway.log_text().splitlines() if fields["tx"] in line and "login.failed" in line]
    assert len(audit) == 1
    assert '"error": "cancelled"' in audit[0]


def test_a_cancelled_login_cannot_be_chosen_or_cancelled_again(gateway: RunningGateway) -> None:
    steps = _steps(gateway)
    chooser = steps.start()
    fields = _fields(chooser.text)
    tx_cookie = steps.browser.cookies.get("eidgw_tx")
    assert _cancel(steps, fields).status_code == 303
    # The browser's back button, or a replay: the cookie still names the transaction, which is gone.
    steps.browser.cookies.set("eidgw_tx", tx_cookie)
    chosen = steps.browser.post(
        f"{gateway.url}/login/choose", data={**fields, "provider": "idp"}, allow_redirects=False, timeout=10
    )
    assert chosen.status_code == 400
    assert _error(chosen) == "expired"
    again = _cancel(steps, fields)
    assert again.status_code == 400
    assert _error(again) == "expired"
    assert "Location" not in again.headers


def test_cancel_needs_the_token_and_the_transaction_cookie(gateway: RunningGateway) -> None:
    steps = _steps(gateway)
    chooser = steps.start()
    fields = _fields(chooser.text)
    for forged in ({"tx": fields["tx"]}, {**fields, "csrf": "x" * 32}):
        refused = _cancel(steps, forged)
        assert refused.status_code == 400
        assert _error(refused) == "session_mismatch"
        assert "Location" not in refused.headers
    cross_site = requests.post(f"{gateway.url}/login/cancel", data=fields, allow_redirects=False, timeout=10)
    assert cross_site.status_code == 400
    assert _error(cross_site) == "session_mismatch"
    # The login was left as it was: the citizen can still choose.
    assert steps.choose(chooser, "idp").status_code == 303
    assert steps.upstream_url.startswith(gateway.peers["idp"].sso_url + "?")


# --- remembered choice --------------------------------------------------------------------------


def test_remembered_choice_is_opt_in_preselected_and_can_be_forgotten(gateway: RunningGateway) -> None:
    steps = _steps(gateway)
    fields = _fields(steps.start().text)
    url = f"{gateway.url}/login/choose"
    steps.browser.post(url, data={**fields, "provider": "other", "remember": "1"}, allow_redirects=False, timeout=10)
    assert steps.browser.cookies.get("eidgw_provider")

    chooser = _steps(gateway).start()  # another browser: nothing remembered
    assert "checked" not in chooser.text
    chooser = steps.start()
    assert re.search(r'value="other"[^>]*checked', chooser.text)
    forgotten = steps.browser.post(f"{gateway.url}/login/forget", data=_fields(chooser.text), timeout=10)
    assert forgotten.status_code == 200
    assert forgotten.url.startswith(f"{gateway.url}/login/choose?tx=")
    assert "checked" not in forgotten.text
    assert steps.browser.cookies.get("eidgw_provider") is None


def test_forgetting_needs_the_csrf_token(gateway: RunningGateway) -> None:
    steps = _steps(gateway)
    fields = _fields(steps.start().text)
    response = steps.browser.post(f"{gateway.url}/login/forget", data={**fields, "csrf": "nope"}, timeout=10)
    assert _error(response) == "session_mismatch"


# --- headers ------------------------------------------------------------------------------------


def _assert_headers(response: requests.Response, gateway: RunningGateway, *also: str) -> None:
    """Every page's headers; ``also``: the e-service origins this page's forms may lead back to."""
    csp = response.headers["Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert directives["default-src"] == "'none'"
    assert directives["style-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert sorted(directives["form-action"].split()) == sorted(["'self'", "https://idp.test.example",
                                                                "https://other-idp.test.example", *also])  # fmt: skip
    assert "unsafe-inline" not in csp
    assert "script-src" not in csp  # default-src 'none': no script at all
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["Cache-Control"] == "no-store"


def test_chooser_and_error_pages_carry_the_security_headers(gateway: RunningGateway) -> None:
    steps = _steps(gateway)
    # The chooser's Cancel is answered with a redirect to the e-service: form-action must allow it (CSP 3).
    rp_origin = "{0.scheme}://{0.netloc}".format(urlsplit(steps.rp.client.redirect_uri))
    _assert_headers(steps.start(), gateway, rp_origin)
    _assert_headers(requests.get(f"{gateway.url}/authorize?client_id=nobody", timeout=10), gateway)
    _assert_headers(requests.get(f"{gateway.url}/no/such/page", timeout=10), gateway)


def test_pages_have_no_inline_script_or_style(gateway: RunningGateway) -> None:
    for page in (_steps(gateway).start().text, requests.get(f"{gateway.url}/authorize", timeout=10).text):
        assert "<script" not in page
        assert "<style" not in page
        assert " style=" not in page


# --- error pages --------------------------------------------------------------------------------


def test_error_page_incident_id_matches_the_log_and_hides_the_detail(gateway: RunningGateway) -> None:
    response = requests.get(f"{gateway.url}/authorize?client_id=nobody&redirect_uri=x", timeout=10)
    assert _error(response) == "unknown_client"
    incident = re.search(r"<code>([0-9a-f]{12})</code>", response.text).group(1)
    assert response.headers["X-Incident-Id"] == incident
    assert any(incident in line and "unknown_client" in line for line in gateway.log_text().splitlines())
    assert "authorize: unknown client_id" not in response.text  # the log's detail stays in the log
    assert "Traceback" not in response.text


def test_not_found_page_is_logged_with_its_incident(gateway: RunningGateway) -> None:
    response = requests.get(f"{gateway.url}/no/such/page", timeout=10)
    assert response.status_code == 404
    assert _error(response) == "not_found"
    incident = response.headers["X-Incident-Id"]
    assert any(incident in line for line in gateway.log_text().splitlines())


def test_error_page_in_another_language_keeps_its_incident_and_cannot_be_forged(gateway: RunningGateway) -> None:
    response = requests.get(f"{gateway.url}/authorize?client_id=nobody", timeout=10)
    link = html.unescape(re.search(r'<a href="([^"]+)" lang="en"', response.text).group(1))
    english = requests.get(gateway.url + link, timeout=10)
    assert english.status_code == 400
    assert _lang(english) == "en"
    assert _error(english) == "unknown_client"
    assert english.headers["X-Incident-Id"] == response.headers["X-Incident-Id"]
    forged = requests.get(gateway.url + link.replace("e=", "e=x"), timeout=10)
    assert forged.status_code == 404
    assert _error(forged) == "not_found"
