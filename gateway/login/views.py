"""Browser routes of a login and a logout: authorize, choose, cancel, ACS, resume, logout. Each parses, calls
the flow (`gateway.login.flow`, `gateway.login.logout`), renders.

The chooser is one form (radio buttons, a submit button; no JavaScript) protected against CSRF by a
per-transaction token and the SameSite=Lax transaction cookie. It can be shown again by GET for the
same transaction (the language switch), and it can remember the citizen's choice on this device in
a signed cookie, only when the citizen ticks the box; the page offers to forget it. A second form,
with the same token, cancels the login and returns the citizen to the e-service.

The logout question is a form of the same kind (a token, a SameSite=Lax cookie). Both pages let their
forms lead to the e-service's validated redirect URI (`allow_form_redirect_to`): a cancel or a logout
is answered with a redirect there, and browsers check `form-action` along that redirect too.
"""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Mapping
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any
from typing import Final

from flask import Blueprint
from flask import Response
from flask import current_app
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask_babel import force_locale
from werkzeug.wrappers import Response as BaseResponse

from gateway.login import flow
from gateway.login import logout as logout_flow
from gateway.login.binding import SESSION_COOKIE
from gateway.login.binding import TX_COOKIE
from gateway.login.binding import CookieSpec
from gateway.login.transaction import LoginTransaction
from gateway.oidc.logout import parse_end_session
from gateway.oidc.requests import parse_authorization
from gateway.settings.schema import ProviderSettings
from gateway.web.branding import branding
from gateway.web.i18n import negotiate
from gateway.web.i18n import page_language
from gateway.web.i18n import set_switch_target
from gateway.web.security import allow_form_redirect_to

blueprint = Blueprint("login", __name__)

REMEMBER_COOKIE: Final = "eidgw_provider"
REMEMBER_MAX_AGE: Final = 365 * 24 * 3600


@dataclass(frozen=True, slots=True)
class ChooserEntry:
    """One provider as the chooser shows it, in the page's language."""

    id: str
    name: str
    help: str
    logo_url: str | None


def _localized(texts: Mapping[str, str], language: str) -> str:
    return texts.get(language) or texts.get("sv") or next(iter(texts.values()), "")


def _entry(provider: ProviderSettings, language: str) -> ChooserEntry:
    return ChooserEntry(
        id=provider.id,
        name=_localized(provider.display_name, language) or provider.id,
        help=_localized(provider.description, language) if provider.description else "",
        logo_url=branding().provider_logo_url(provider.id),
    )


def _chooser_page(outcome: flow.Chooser, *, missing_choice: bool = False) -> BaseResponse:
    """The chooser for ``outcome``; its language switch shows it again for the same transaction."""
    language = page_language()
    transaction = outcome.transaction
    brand = branding().client(transaction.client_id)
    offered = {p.id for p in outcome.providers}
    remembered = _cookie_value(REMEMBER_COOKIE, REMEMBER_MAX_AGE)
    remembered = remembered if remembered in offered else None
    set_switch_target(url_for("login.show_chooser", tx=transaction.id))
    allow_form_redirect_to(transaction.params["redirect_uri"])  # Cancel goes back to the e-service
    html = render_template(
        "chooser.html",
        brand_name=brand.name(language),
        brand_logo=brand.logo_url,
        theme_css=brand.css_url,
        client_name=brand.name(language),
        providers=[_entry(p, language) for p in outcome.providers],
        tx=transaction.id,
        csrf=transaction.csrf,
        remembered=remembered,
        selected=remembered,
        missing_choice=missing_choice,
    )
    return Response(html, status=400 if missing_choice else 200)


def _services() -> flow.LoginServices:
    return current_app.extensions["eid_gateway"].login  # type: ignore[no-any-return]


def _cookie_value(name: str, max_age: int) -> str | None:
    binder = _services().binder
    return binder.read(name, request.cookies.get(binder.wire_name(name)), max_age)


def _set_cookies(response: BaseResponse, cookies: tuple[CookieSpec, ...]) -> None:
    for cookie in cookies:
        response.set_cookie(
            cookie.name,
            cookie.value,
            max_age=cookie.max_age,
            path=cookie.path,
            secure=cookie.secure,
            httponly=True,
            samesite="Lax",
        )


def _clear_cookies(response: BaseResponse, names: Iterable[str]) -> None:
    """Delete the gateway's cookies ``names`` (with the attributes a ``__Host-`` cookie must be deleted with)."""
    binder = _services().binder
    for name in names:
        response.delete_cookie(binder.wire_name(name), path="/", secure=binder.secure, httponly=True, samesite="Lax")


def _render(outcome: flow.Outcome, *, status: int = 302) -> BaseResponse:
    response: BaseResponse
    if isinstance(outcome, flow.Chooser):
        response = _chooser_page(outcome)
    else:
        response = redirect(outcome.url, status)
        _clear_cookies(response, outcome.clear_cookies)
    _set_cookies(response, outcome.cookies)
    return response


@blueprint.get("/authorize")
def authorize() -> BaseResponse:
    """OIDC authorization endpoint (OIDC Core 3.1.2)."""
    services = _services()
    auth_request = parse_authorization(services.oidc, request)
    session_sid = _cookie_value(SESSION_COOKIE, services.settings.lifetimes.session_absolute)
    page_language()  # settles this login's language now (ui_locales), for the pages after the provider's
    return _render(flow.start(services, auth_request, session_sid))


def _transaction(tx_id: str | None) -> LoginTransaction:
    services = _services()
    tx_cookie = _cookie_value(TX_COOKIE, services.settings.lifetimes.transaction)
    return flow.load_transaction(services, tx_id, tx_cookie)


@blueprint.get("/login/choose")
def show_chooser() -> BaseResponse:
    """The chooser again for this browser's login (the language switch links here)."""
    return _chooser_page(flow.chooser_for(_services(), _transaction(request.args.get("tx"))))


@blueprint.post("/login/choose")
def choose() -> BaseResponse:
    """The chooser form: the citizen picked a provider (or pressed Continue without one)."""
    services = _services()
    transaction = _transaction(request.form.get("tx"))
    provider_id = request.form.get("provider", "")
    csrf = request.form.get("csrf", "")
    if not provider_id:
        return _chooser_page(flow.chooser_for(services, transaction, csrf), missing_choice=True)
    response = _render(flow.choose(services, transaction, provider_id, csrf), status=303)
    if request.form.get("remember"):
        _set_cookies(response, (services.binder.cookie(REMEMBER_COOKIE, provider_id, REMEMBER_MAX_AGE),))
    else:
        _clear_cookies(response, (REMEMBER_COOKIE,))
    return response


@blueprint.post("/login/cancel")
def cancel() -> BaseResponse:
    """The chooser's Cancel: back to the e-service without logging in."""
    services = _services()
    transaction = _transaction(request.form.get("tx"))
    return _render(flow.cancel(services, transaction, request.form.get("csrf", "")), status=303)


@blueprint.post("/login/forget")
def forget() -> Any:
    """Forget the remembered choice, then show the chooser again."""
    transaction = _transaction(request.form.get("tx"))
    flow.chooser_for(_services(), transaction, request.form.get("csrf", ""))
    response = redirect(url_for("login.show_chooser", tx=transaction.id), 303)
    _clear_cookies(response, (REMEMBER_COOKIE,))
    return response


@blueprint.post("/saml/acs")
def acs() -> BaseResponse:
    """Assertion Consumer Service, HTTP-POST binding (cross-site: no cookies are relied on here)."""
    outcome = flow.on_upstream_response(_services(), request.form.get("RelayState"), request.form.get("SAMLResponse"))
    return _render(outcome, status=303)


@blueprint.get(flow.RESUME_PATH)
def resume() -> Any:
    """Same-site step that binds the completed login to the browser that started it."""
    services = _services()
    tx_cookie = _cookie_value(TX_COOKIE, services.settings.lifetimes.transaction)
    return _render(flow.resume(services, request.args.get("tx"), tx_cookie))


def _brand(client_id: str | None) -> dict[str, Any]:
    """The e-service's name, logo and theme on a logout page, when the request named a known one."""
    if client_id is None:
        return {}
    brand = branding().client(client_id)
    name = brand.name(page_language())
    return {"brand_name": name, "brand_logo": brand.logo_url, "theme_css": brand.css_url}


def _logout_done_page(client_id: str | None, *, stayed: bool) -> BaseResponse:
    """The page saying "You are logged out" (or "still logged in"); its language switch shows it again by GET."""
    set_switch_target(url_for("login.logout_done", c=client_id, stayed="1" if stayed else None))
    return Response(render_template("logout_done.html", stayed=stayed, **_brand(client_id)))


def _render_logout(outcome: logout_flow.LogoutOutcome, *, status: int) -> BaseResponse:
    response: BaseResponse
    if isinstance(outcome, logout_flow.AskCitizen):
        pending = outcome.pending
        set_switch_target(url_for("login.show_logout", l=pending.id))
        html = render_template(
            "logout_confirm.html", logout_id=pending.id, csrf=pending.csrf, **_brand(pending.target.client_id)
        )
        if pending.target.redirect_uri:
            allow_form_redirect_to(pending.target.redirect_uri)
        response = Response(html)
        _set_cookies(response, outcome.cookies)
        return response
    url = outcome.target.url if isinstance(outcome, logout_flow.LoggedOut) else None
    if url is not None:
        response = redirect(url, status)
    else:
        response = _logout_done_page(outcome.target.client_id, stayed=isinstance(outcome, logout_flow.StillLoggedIn))
    _clear_cookies(response, outcome.clear_cookies)
    return response


@blueprint.route("/logout", methods=["GET", "POST"])
def logout() -> BaseResponse:
    """OIDC end_session_endpoint (RP-Initiated Logout 1.0 2: GET and form POST)."""
    services = _services()
    params = request.args if request.method == "GET" else request.form
    end_session = parse_end_session(params.to_dict(flat=False))
    session_sid = _cookie_value(SESSION_COOKIE, services.settings.lifetimes.session_absolute)
    # A GET's ui_locales is the page language already (`gateway.web.i18n`); a POST carries it in the form.
    language = negotiate(end_session.ui_locales) if request.method == "POST" else None
    with force_locale(language) if language else nullcontext():
        outcome = logout_flow.start(services, end_session, session_sid)
        return _render_logout(outcome, status=302 if request.method == "GET" else 303)


@blueprint.get("/logout/confirm")
def show_logout() -> BaseResponse:
    """The logout question again for this browser (the language switch links here)."""
    services = _services()
    cookie = _cookie_value(logout_flow.LOGOUT_COOKIE, services.settings.lifetimes.transaction)
    return _render_logout(logout_flow.show(services, request.args.get("l"), cookie), status=303)


@blueprint.post("/logout/confirm")
def confirm_logout() -> BaseResponse:
    """The citizen's answer to "Do you want to log out?"."""
    services = _services()
    cookie = _cookie_value(logout_flow.LOGOUT_COOKIE, services.settings.lifetimes.transaction)
    session_sid = _cookie_value(SESSION_COOKIE, services.settings.lifetimes.session_absolute)
    outcome = logout_flow.confirm(
        services, request.form.get("l"), cookie, request.form.get("csrf", ""), session_sid,
        log_out=request.form.get("action") == "logout",
    )  # fmt: skip
    return _render_logout(outcome, status=303)


@blueprint.get("/logout/done")
def logout_done() -> BaseResponse:
    """The logged-out page again, e.g. in another language. It holds no state: it only says what it says."""
    client_id = request.args.get("c")
    known = client_id if _services().oidc.context.clients.get(client_id) is not None else None
    return _logout_done_page(known, stayed=request.args.get("stayed") == "1")
