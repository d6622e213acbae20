"""The orchestration of one login: the only place that knows the order of steps.

1. `start`: a validated authorization request becomes a stored transaction;
   an SSO session that fits skips to the code; otherwise the providers that
   can satisfy the request are offered (or the only one is used).
2. `choose`: the citizen's choice sends a signed AuthnRequest upstream.
3. `on_upstream_response`: the provider's POST is verified, mapped to an
   `Identity`, and the SSO session created; the browser is sent to resume.
4. `resume`: in the browser that started the login, the transaction is
   consumed and the client gets its code (or its error).

Each step takes plain values and returns an outcome for the view to render;
nothing here touches Flask.
"""

from __future__ import annotations

import logging
import secrets
import time
from dataclasses import dataclass
from urllib.parse import urlencode

from authlib.oauth2 import OAuth2Error

from gateway.errors import CitizenError
from gateway.errors import ClientError
from gateway.errors import UpstreamError
from gateway.login import sso
from gateway.login.binding import SESSION_COOKIE
from gateway.login.binding import TX_COOKIE
from gateway.login.binding import Binder
from gateway.login.binding import CookieSpec
from gateway.login.transaction import LoginTransaction
from gateway.login.transaction import Status
from gateway.mapping.attributes import to_identity
from gateway.mapping.loa import relay_acr
from gateway.observability.audit import Audit
from gateway.oidc.records import AuthenticatedUser
from gateway.oidc.requests import AuthorizationRequest
from gateway.oidc.requests import RedirectError
from gateway.oidc.server import GatewayAuthorizationServer
from gateway.providers.registry import ProviderRegistry
from gateway.saml.acs import Expectation
from gateway.saml.acs import verify_response
from gateway.saml.authn_request import build_authn_request
from gateway.saml.replay import ReplayGuard
from gateway.saml.sp import ServiceProvider
from gateway.settings.schema import ProviderSettings
from gateway.settings.schema import Settings
from gateway.store import keys as store_keys
from gateway.store.records import RecordStore

RESUME_PATH = "/login/resume"
log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class LoginServices:
    """Everything the flow needs, built once by `create_app`."""

    settings: Settings
    records: RecordStore
    oidc: GatewayAuthorizationServer
    sp: ServiceProvider
    providers: ProviderRegistry
    replay: ReplayGuard
    binder: Binder
    audit: Audit


@dataclass(frozen=True, slots=True)
class Redirect:
    """Send the browser to ``url`` (303 after a POST, 302 otherwise)."""

    url: str
    cookies: tuple[CookieSpec, ...] = ()
    clear_cookies: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Chooser:
    """Let the citizen pick one of ``providers``."""

    transaction: LoginTransaction
    providers: tuple[ProviderSettings, ...]
    cookies: tuple[CookieSpec, ...] = ()


Outcome = Redirect | Chooser


def _error_redirect(redirect_uri: str, error: str, state: str | None, issuer: str, description: str = "") -> str:
    params = {"error": error}
    if description:
        params["error_description"] = description
    if state is not None:
        params["state"] = state
    params["iss"] = issuer
    separator = "&" if "?" in redirect_uri else "?"
    return f"{redirect_uri}{separator}{urlencode(params)}"


def redirect_for(error: RedirectError, issuer: str) -> str:
    """Where an OIDC error goes: the client's redirect URI, with state and iss (RFC 9207)."""
    return _error_redirect(error.redirect_uri, error.error, error.state, issuer, error.description)


def _acceptable_loas(svc: LoginServices, request: AuthorizationRequest) -> tuple[str, ...]:
    return tuple(request.acr_values) or tuple(svc.providers.acr_values_supported())


def start(svc: LoginServices, request: AuthorizationRequest, session_sid: str | None) -> Outcome:
    """Store the login and decide its next step."""

    def fail(error: str, description: str) -> RedirectError:
        return RedirectError(error, description, redirect_uri=request.redirect_uri, state=request.state)

    now = time.time()
    acceptable = _acceptable_loas(svc, request)
    session = sso.find(svc.records, session_sid)
    if session is not None and sso.fits(
        session, prompt=request.prompt, max_age=request.max_age, acceptable_loas=acceptable, now=now
    ):
        return _issue_code(svc, request.params, session, now)
    if "none" in request.prompt:
        raise fail("login_required", "no session satisfies the request")
    candidates = svc.providers.serving(request.acr_values)
    if request.authn_provider:
        candidates = [(p, loas) for p, loas in candidates if p.entity_id == request.authn_provider]
    if not candidates:
        raise fail("unmet_authentication_requirements", "no e-ID provider offers the requested acr")
    force = "login" in request.prompt or (
        request.max_age is not None and session is not None and now - session.user.auth_time > request.max_age
    )
    transaction = LoginTransaction(
        id=secrets.token_urlsafe(24),
        client_id=request.client_id,
        params=request.params,
        acr_values=request.acr_values,
        essential_acr=request.essential_acr,
        force_authn=force,
        created_at=int(now),
        csrf=secrets.token_urlsafe(24),
    )
    lifetime = svc.settings.lifetimes.transaction
    cookie = svc.binder.cookie(TX_COOKIE, transaction.id, lifetime)
    if len(candidates) == 1:
        provider, loas = candidates[0]
        return _send_upstream(svc, transaction, provider, loas, (cookie,))
    svc.records.put(store_keys.transaction(transaction.id), transaction, lifetime)
    return Chooser(transaction, tuple(p for p, _ in candidates), (cookie,))


def load_transaction(svc: LoginServices, tx_id: str | None, cookie_tx: str | None) -> LoginTransaction:
    """The transaction this browser started, or a citizen error page."""
    if not tx_id or tx_id != cookie_tx:
        raise CitizenError("session_mismatch", "transaction does not belong to this browser")
    try:
        transaction = svc.records.get(store_keys.transaction(tx_id), LoginTransaction)
    except ValueError:
        transaction = None
    if transaction is None:
        raise CitizenError("expired", "transaction not found or expired")
    return transaction


def choose(svc: LoginServices, transaction: LoginTransaction, provider_id: str, csrf: str) -> Outcome:
    """The citizen picked ``provider_id`` on the chooser."""
    if not secrets.compare_digest(transaction.csrf, csrf or ""):
        raise CitizenError("session_mismatch", "chooser CSRF token mismatch")
    if transaction.status is not Status.STARTED:
        raise CitizenError("expired", "transaction is not waiting for a choice")
    for provider, loas in svc.providers.serving(transaction.acr_values):
        if provider.id == provider_id:
            return _send_upstream(svc, transaction, provider, loas, ())
    raise CitizenError("unknown_provider", "chosen provider does not serve this request")


def _send_upstream(
    svc: LoginServices,
    transaction: LoginTransaction,
    provider: ProviderSettings,
    loas: tuple[str, ...],
    cookies: tuple[CookieSpec, ...],
) -> Redirect:
    outgoing = build_authn_request(
        svc.sp,
        provider.entity_id,
        loas=loas,
        relay_state=transaction.id,
        force_authn=transaction.force_authn,
    )
    updated = transaction.upstream(provider.id, outgoing.request_id, loas)
    svc.records.put(store_keys.transaction(transaction.id), updated, svc.settings.lifetimes.transaction)
    svc.audit.event("login.upstream", tx=transaction.id, client=transaction.client_id, provider=provider.id)
    return Redirect(outgoing.url, cookies)


def on_upstream_response(svc: LoginServices, relay_state: str | None, saml_response: str | None) -> Redirect:
    """Verify the provider's POST and record the outcome; the browser then resumes."""
    if not relay_state or not saml_response or len(relay_state) > 80:
        raise CitizenError("expired", "ACS: missing SAMLResponse or RelayState")
    try:
        transaction = svc.records.get(store_keys.transaction(relay_state), LoginTransaction)
    except ValueError:
        transaction = None
    if transaction is None or transaction.status is not Status.UPSTREAM or transaction.request_id is None:
        raise CitizenError("expired", "ACS: no transaction waits for this response")
    provider = svc.providers.get(transaction.provider_id or "")
    if provider is None:
        raise CitizenError("expired", "ACS: the provider is no longer configured")
    expectation = Expectation(
        request_id=transaction.request_id,
        provider_entity_id=provider.entity_id,
        requested_loas=transaction.requested_loas,
        require_encryption=provider.require_encryption,
    )
    client = svc.oidc.context.clients.get(transaction.client_id)
    lifetime = svc.settings.lifetimes.transaction
    key = store_keys.transaction(transaction.id)
    try:
        result = verify_response(svc.sp, saml_response, expectation, svc.replay)
        identity = to_identity(
            result,
            provider_id=provider.id,
            attribute_set=provider.attribute_set,
            accept_coordination_number=bool(client and client.settings.accept_coordination_number),
        )
    except UpstreamError as error:
        # Reported at the resume step, in the browser that started the login.
        log.warning("upstream response refused", extra={"reason": error.detail, "tx": transaction.id})
        svc.audit.event(
            "login.failed", tx=transaction.id, client=transaction.client_id, provider=provider.id, error=error.code
        )
        svc.records.put(key, transaction.failed(error.code, error.oidc_error), lifetime)
        return Redirect(f"{RESUME_PATH}?{urlencode({'tx': transaction.id})}")
    now = time.time()
    sid = secrets.token_urlsafe(24)
    user = AuthenticatedUser(
        identity=identity,
        sid=sid,
        acr=relay_acr(identity.loa, svc.settings.acr_policy),
        auth_time=identity.authn_instant,
    )
    session = sso.SsoSession(sid=sid, user=user, provider_id=provider.id, loa=identity.loa, created_at=int(now))
    sso.save(svc.records, session, svc.settings.lifetimes, now=now)
    svc.records.put(key, transaction.authenticated(user), lifetime)
    svc.audit.event(
        "login.authenticated", tx=transaction.id, client=transaction.client_id, provider=provider.id,
        citizen=svc.audit.citizen(identity), loa=identity.loa, sid_hash=store_keys.digest(sid)[:16],
    )  # fmt: skip
    return Redirect(f"{RESUME_PATH}?{urlencode({'tx': transaction.id})}")


def resume(svc: LoginServices, tx_id: str | None, cookie_tx: str | None) -> Redirect:
    """Complete the login in the browser that started it: code (or error) to the client."""
    load_transaction(svc, tx_id, cookie_tx)
    transaction = svc.records.take(store_keys.transaction(tx_id or ""), LoginTransaction)
    if transaction is None:
        raise CitizenError("expired", "resume: transaction already consumed")
    params = transaction.params
    if transaction.status is Status.FAILED:
        url = _error_redirect(
            params["redirect_uri"], transaction.oidc_error or "access_denied", params.get("state"),
            svc.settings.issuer,
        )  # fmt: skip
        if transaction.error == "cancelled":
            return Redirect(url, clear_cookies=(TX_COOKIE,))
        raise UpstreamError(transaction.error or "provider_error", "resume: login failed", continue_url=url)
    if transaction.status is not Status.AUTHENTICATED or transaction.user is None:
        raise CitizenError("expired", "resume: login not finished")
    session = sso.find(svc.records, transaction.user.sid)
    if session is None:
        raise CitizenError("expired", "resume: session expired")
    outcome = _issue_code(svc, params, session, time.time())
    return Redirect(outcome.url, outcome.cookies, clear_cookies=(TX_COOKIE,))


def _issue_code(svc: LoginServices, params: dict[str, str], session: sso.SsoSession, now: float) -> Redirect:
    request = svc.oidc.rebuild_request(params)
    try:
        grant = svc.oidc.get_consent_grant(request=request, end_user=session.user)
    except OAuth2Error as error:
        url = _error_redirect(params["redirect_uri"], error.error, params.get("state"), svc.settings.issuer)
        return Redirect(url)
    response = svc.oidc.create_authorization_response(request=request, grant_user=session.user, grant=grant)
    location = response.headers.get("Location")
    if not location:
        raise ClientError("server_error", "no authorization response was produced", status=500)
    updated = sso.with_client(session, params["client_id"])
    svc.audit.event(
        "login.code_issued", client=params["client_id"], citizen=svc.audit.citizen(session.user.identity),
        provider=session.provider_id,
    )  # fmt: skip
    sso.save(svc.records, updated, svc.settings.lifetimes, now=now)
    cookie = svc.binder.cookie(SESSION_COOKIE, session.sid, svc.settings.lifetimes.session_absolute)
    return Redirect(location, (cookie,))
