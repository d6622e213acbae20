"""The orchestration of a logout (RP-Initiated Logout 1.0, Back-Channel Logout 1.0): the order of its steps.

1. `start` (`/logout`): the request was parsed once (`gateway.oidc.logout`); here its `id_token_hint`
   is verified and the target decided (client, validated `post_logout_redirect_uri`, `state`). A verified
   hint whose `sid` is this browser's SSO session logs out at once. Anything else (no hint, a hint for
   another session, no session in this browser) asks the citizen first: RP-Initiated Logout 1.0 2 says
   the OP MUST ask then, and without the question any page could log a citizen out by linking here
   (logout CSRF, section 6). The question is a stored `PendingLogout` with a CSRF token, bound to this
   browser by a signed SameSite=Lax cookie, as the chooser's transaction is (`gateway.login.flow`).
2. `confirm` (`/logout/confirm`): the citizen's answer, accepted once, only with the form's token and
   only from the browser that was asked.
3. `end`: the SSO session is taken from the store (of two racing logouts only one goes on), an audit
   event is written, the access tokens the session gave out are revoked (`gateway.oidc.access_tokens`)
   and the e-services the session logged in are told over the back channel; then the
   browser goes to the validated `post_logout_redirect_uri` or sees our page, and its session cookie is
   cleared. Logging out without a session is no error (section 4: logout requests are idempotent).

Each step takes plain values and returns an outcome for the view to render; nothing here touches Flask.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from typing import Final

from gateway.errors import CitizenError
from gateway.login import sso
from gateway.login.binding import SESSION_COOKIE
from gateway.login.binding import CookieSpec
from gateway.login.flow import LoginServices
from gateway.oidc import access_tokens
from gateway.oidc import backchannel
from gateway.oidc.logout import EndSessionRequest
from gateway.oidc.logout import LogoutTarget
from gateway.oidc.logout import logout_target
from gateway.oidc.logout import verify_id_token_hint
from gateway.store import keys as store_keys

LOGOUT_COOKIE: Final = "eidgw_logout"


@dataclass(frozen=True, slots=True)
class PendingLogout:
    """A logout waiting for the citizen's answer; stored under `logout:{id}` for a transaction's lifetime."""

    id: str
    csrf: str
    target: LogoutTarget


@dataclass(frozen=True, slots=True)
class AskCitizen:
    """Show the question "Do you want to log out?" for ``pending``."""

    pending: PendingLogout
    cookies: tuple[CookieSpec, ...] = ()


@dataclass(frozen=True, slots=True)
class LoggedOut:
    """Done: to ``target.url`` if there is one, else our page."""

    target: LogoutTarget
    clear_cookies: tuple[str, ...] = (SESSION_COOKIE, LOGOUT_COOKIE)


@dataclass(frozen=True, slots=True)
class StillLoggedIn:
    """The citizen chose not to log out."""

    target: LogoutTarget
    clear_cookies: tuple[str, ...] = (LOGOUT_COOKIE,)


LogoutOutcome = AskCitizen | LoggedOut | StillLoggedIn


def start(svc: LoginServices, request: EndSessionRequest, session_sid: str | None) -> AskCitizen | LoggedOut:
    """Log out at once when the hint names this browser's session; otherwise ask (module docstring)."""
    context = svc.oidc.context
    hint = None
    if request.id_token_hint is not None:
        hint = verify_id_token_hint(request.id_token_hint, issuer=context.issuer, keys=context.signing_keys)
    target = logout_target(context.clients, request, hint)
    if hint is not None and session_sid is not None and hmac.compare_digest(hint.sid.encode(), session_sid.encode()):
        return end(svc, session_sid, target, via="id_token_hint")
    pending = PendingLogout(id=secrets.token_urlsafe(24), csrf=secrets.token_urlsafe(24), target=target)
    lifetime = svc.settings.lifetimes.transaction
    svc.records.put(store_keys.logout(pending.id), pending, lifetime)
    return AskCitizen(pending, (svc.binder.cookie(LOGOUT_COOKIE, pending.id, lifetime),))


def _pending(svc: LoginServices, logout_id: str | None, cookie_id: str | None) -> PendingLogout:
    """The pending logout this browser was asked about, or a citizen page."""
    if not logout_id or logout_id != cookie_id:
        raise CitizenError("logout_expired", "logout confirmation not bound to this browser")
    pending = svc.records.get(store_keys.logout(logout_id), PendingLogout)
    if pending is None:
        raise CitizenError("logout_expired", "logout confirmation not found or expired")
    return pending


def show(svc: LoginServices, logout_id: str | None, cookie_id: str | None) -> AskCitizen:
    """The question again for this browser's pending logout (the language switch)."""
    return AskCitizen(_pending(svc, logout_id, cookie_id))


def confirm(
    svc: LoginServices,
    logout_id: str | None,
    cookie_id: str | None,
    csrf: str,
    session_sid: str | None,
    *,
    log_out: bool,
) -> LoggedOut | StillLoggedIn:
    """The citizen's answer. The token is checked before anything changes, and the pending logout is taken,
    so a forged answer changes nothing and an answer counts once."""
    pending = _pending(svc, logout_id, cookie_id)
    if not hmac.compare_digest(pending.csrf.encode(), csrf.encode()):
        raise CitizenError("logout_expired", "logout confirmation CSRF token mismatch")
    if svc.records.take(store_keys.logout(pending.id), PendingLogout) is None:
        raise CitizenError("logout_expired", "logout confirmation already answered")
    if not log_out:
        svc.audit.event("logout.declined", client=pending.target.client_id)
        return StillLoggedIn(pending.target)
    return end(svc, session_sid, pending.target, via="confirmed")


def end(svc: LoginServices, session_sid: str | None, target: LogoutTarget, *, via: str) -> LoggedOut:
    """End this browser's SSO session, if it still has one, and tell the e-services it logged in."""
    session = sso.end(svc.records, session_sid) if session_sid else None
    if session is None:
        svc.audit.event("logout", client=target.client_id, via=via, ended=0)
        return LoggedOut(target)
    svc.audit.event(
        "logout", client=target.client_id, via=via, ended=1, citizen=svc.audit.citizen(session.user.identity),
        sid_hash=store_keys.digest(session.sid)[:16], clients=len(session.clients),
    )  # fmt: skip
    access_tokens.revoke(svc.records.store, session.sid, session.clients, svc.settings.lifetimes)
    backchannel.notify(svc.oidc.context, session.user, session.clients)
    return LoggedOut(target)
