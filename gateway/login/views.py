"""Browser routes of a login: authorize, choose, ACS, resume. Each parses, calls the flow, renders."""

from __future__ import annotations

from typing import Any

from flask import Blueprint
from flask import Response
from flask import current_app
from flask import redirect
from flask import render_template
from flask import request

from gateway.login import flow
from gateway.login.binding import SESSION_COOKIE
from gateway.login.binding import TX_COOKIE
from gateway.oidc.requests import parse_authorization
from gateway.web.i18n import negotiate
from gateway.web.i18n import translate

blueprint = Blueprint("login", __name__)


def _services() -> flow.LoginServices:
    return current_app.extensions["eid_gateway"].login  # type: ignore[no-any-return]


def _cookie_value(name: str, max_age: int) -> str | None:
    return _services().binder.read(name, request.cookies.get(name), max_age)


def _render(outcome: flow.Outcome, *, status: int = 302, lang: str = "sv") -> Response:
    services = _services()
    if isinstance(outcome, flow.Chooser):
        client = services.oidc.context.clients.get(outcome.transaction.client_id)
        names = client.settings.display_name if client else {}
        response = Response(
            render_template(
                "chooser.html",
                lang=lang,
                t=lambda key, **values: translate(lang, key, **values),
                client_name=names.get(lang) or names.get("sv") or outcome.transaction.client_id,
                providers=outcome.providers,
                tx=outcome.transaction.id,
                csrf=outcome.transaction.csrf,
            )
        )
    else:
        response = redirect(outcome.url, status)
        for name in outcome.clear_cookies:
            response.delete_cookie(name, path="/")
    for cookie in outcome.cookies:
        response.set_cookie(
            cookie.name,
            cookie.value,
            max_age=cookie.max_age,
            path=cookie.path,
            secure=cookie.secure,
            httponly=True,
            samesite="Lax",
        )
    return response


def _language() -> str:
    return negotiate(request.args.get("ui_locales", "").split(), [lang for lang, _ in request.accept_languages])


@blueprint.get("/authorize")
def authorize() -> Response:
    """OIDC authorization endpoint (OIDC Core 3.1.2)."""
    services = _services()
    auth_request = parse_authorization(services.oidc, request)
    session_sid = _cookie_value(SESSION_COOKIE, services.settings.lifetimes.session_absolute)
    lang = negotiate(auth_request.ui_locales, [lang for lang, _ in request.accept_languages])
    return _render(flow.start(services, auth_request, session_sid), lang=lang)


@blueprint.post("/login/choose")
def choose() -> Response:
    """The chooser form: the citizen picked a provider."""
    services = _services()
    tx_cookie = _cookie_value(TX_COOKIE, services.settings.lifetimes.transaction)
    transaction = flow.load_transaction(services, request.form.get("tx"), tx_cookie)
    outcome = flow.choose(services, transaction, request.form.get("provider", ""), request.form.get("csrf", ""))
    return _render(outcome, status=303)


@blueprint.post("/saml/acs")
def acs() -> Response:
    """Assertion Consumer Service, HTTP-POST binding (cross-site: no cookies are relied on here)."""
    outcome = flow.on_upstream_response(_services(), request.form.get("RelayState"), request.form.get("SAMLResponse"))
    return _render(outcome, status=303)


@blueprint.get(flow.RESUME_PATH)
def resume() -> Any:
    """Same-site step that binds the completed login to the browser that started it."""
    services = _services()
    tx_cookie = _cookie_value(TX_COOKIE, services.settings.lifetimes.transaction)
    return _render(flow.resume(services, request.args.get("tx"), tx_cookie), lang=_language())
