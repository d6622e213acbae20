"""The citizen-page parts of the app, through Flask's test client (development defaults, sandbox on).

Branding routes, the Content-Security-Policy built from the providers' metadata, the sandbox IdP
page's own policy, and the error-page preview that the accessibility scan uses.
"""

from __future__ import annotations

import os

import pytest
from flask import Flask
from flask.testing import FlaskClient

from gateway.app import create_app
from gateway.settings.load import load_settings
from gateway.web.error_pages import PAGES
from gateway.web.security import SecurityHeaders
from gateway.web.security import allow_form_redirect_to
from gateway.web.security import content_security_policy
from gateway.web.security import origin


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Flask:
    here = os.getcwd()
    os.chdir(tmp_path_factory.mktemp("app"))
    try:
        settings = load_settings(None, bind="127.0.0.1:8123")
    finally:
        os.chdir(here)
    return create_app(settings)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def test_origin_is_scheme_host_and_port_only() -> None:
    assert origin("https://IdP.example:8443/sso?x=1") == "https://idp.example:8443"
    assert origin("javascript:alert(1)") is None
    assert origin("https://user@evil.example/") is None


def test_policy_lists_exactly_the_given_origins() -> None:
    policy = content_security_policy(["https://b.example/sso", "https://a.example/x", "https://a.example/y"])
    assert "form-action 'self' https://a.example https://b.example;" in policy
    assert "https:;" not in policy
    assert "form-action 'self';" in content_security_policy()


def test_a_page_may_add_its_e_service_to_form_action_for_itself_only() -> None:
    app = Flask(__name__)
    app.after_request(SecurityHeaders(["https://idp.example/sso"]))

    @app.get("/back")
    def back() -> str:
        allow_form_redirect_to("https://rp.example/callback?x=1")
        return "form"

    @app.get("/plain")
    def plain() -> str:
        return "page"

    client = app.test_client()
    with_rp = client.get("/back").headers["Content-Security-Policy"]
    assert "form-action 'self' https://idp.example https://rp.example;" in with_rp
    assert "form-action 'self' https://idp.example;" in client.get("/plain").headers["Content-Security-Policy"]


def test_every_page_gets_the_policy_with_the_sandbox_sso_origin(client: FlaskClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert "form-action 'self' http://127.0.0.1:8123;" in response.headers["Content-Security-Policy"]
    assert response.headers["Cache-Control"] == "no-store"


def test_demo_client_theme_and_logos_are_served(client: FlaskClient) -> None:
    css = client.get("/branding/client/sandbox-demo/theme.css")
    assert css.mimetype == "text/css"
    assert "--primary: #00677f;" in css.text
    logo = client.get("/branding/client/sandbox-demo/logo")
    assert logo.mimetype == "image/svg+xml"
    assert "sandbox" in logo.headers["Content-Security-Policy"]
    assert client.get("/branding/provider/sandbox/logo").mimetype == "image/svg+xml"
    assert client.get("/branding/provider/nobody/logo").status_code == 404
    assert client.get("/branding/client/nobody/theme.css").status_code == 404


def test_demo_page_shows_the_theme_and_a_language_switch(client: FlaskClient) -> None:
    page = client.get("/", headers={"Accept-Language": "en"}).text
    assert '<html lang="en">' in page
    assert 'href="/branding/client/sandbox-demo/theme.css"' in page
    assert '<a href="/?lang=sv" lang="sv" hreflang="sv">Svenska</a>' in page


def test_language_switch_sets_a_lasting_cookie(client: FlaskClient) -> None:
    response = client.get("/?lang=en")
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("eidgw_lang=en;")
    assert "Max-Age=31536000" in cookie
    assert "SameSite=Lax" in cookie
    assert "HttpOnly" in cookie
    assert '<html lang="en">' in client.get("/").text


@pytest.mark.parametrize("code", sorted(PAGES))
def test_error_preview_renders_each_page(client: FlaskClient, code: str) -> None:
    response = client.get(f"/sandbox/error-pages/{code}", headers={"Accept-Language": "sv"})
    assert f'data-error="{code}"' in response.text
    assert response.headers["X-Incident-Id"] in response.text
    assert response.status_code in (400, 404, 500, 503)


def test_error_preview_of_an_unknown_code_is_not_found(client: FlaskClient) -> None:
    response = client.get("/sandbox/error-pages/bogus")
    assert response.status_code == 404
    assert 'data-error="not_found"' in response.text
