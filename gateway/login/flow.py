"""The orchestration of one login: the only place that knows the order of steps.

1. `start`: a validated authorization request becomes a stored transaction;
   an SSO session that fits skips to the code; otherwise the providers that
   can satisfy the request are offered (or the only one is used).
2. `choose`: the citizen's choice sends a signed AuthnRequest upstream.
3. `on_upstream_response`: the provider's POST is verified, mapped to an
   `Identity`, and the SSO session created; the browser is sent to resume.
4. `resume`: in the browser that started the login, the transaction is
   consumed and the client gets its code (or its error).

`cancel` ends a login at the chooser instead of step 2: the citizen goes
back to the client with `access_denied`.

Each step takes plain values and returns an outcome for the view to render;
nothing here touches Flask.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from dataclasses import replace
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
from gateway.mapping.loa import acceptable_upstream
from gateway.mapping.loa import relay_acr
from gateway.model import Identity
from gateway.observability.audit import Audit
from gateway.oidc.records import AuthenticatedUser
from gateway.oidc.requests import AuthorizationRequest
from gateway.oidc.requests import RedirectError
from gateway.oidc.server import GatewayAuthorizationServer
from gateway.providers.registry import PERSONAL_IDENTITY_NUMBER
from gateway.providers.registry import Candidate
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
    service_providers: Mapping[str, ServiceProvider] = field(default_factory=dict)
    """Further SP entities by id (`saml.service_providers`); `sp` is the default one."""


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


def _error_to_client(svc: LoginServices, params: Mapping[str, str], error: str) -> str:
    """Where a stored login's error goes: its own redirect URI and state (RFC 6749 4.1.2.1), with iss."""
    return _error_redirect(params["redirect_uri"], error, params.get("state"), svc.settings.issuer)


def _candidates(svc: LoginServices, transaction: LoginTransaction) -> tuple[list[Candidate], str | None]:
    """The providers that can serve ``transaction``, narrowed by its authnProvider hint, and a hinted country."""
    return svc.providers.hinted(svc.providers.serving(transaction.acceptable_loas), transaction.provider_hint)


def start(svc: LoginServices, request: AuthorizationRequest, session_sid: str | None) -> Outcome:
    """Store the login and decide its next step.

    - acr: the client's values become the upstream LoAs it accepts
      (`acceptable_upstream`: a voluntary value is a minimum within its family,
      an essential one is exact; the relay policy is undone);
    - prompt: Sweden Connect mode treats a missing prompt as `login` (SCOIDC
      2.2.1); `login`, or any `max_age` when the provider must be asked,
      sends ForceAuthn (OSPROF 2.1.4; OIDC Core 3.1.2.1: re-authenticate
      when max_age may be exceeded, and the provider's own SSO age is
      unknown here); `none` sends IsPassive, and only when one provider can
      serve, since no chooser may be shown (OIDC Core 3.1.2.1), and never in
      Sweden Connect mode, where only a session of the same client counts
      (SCOIDC 2.2.1).
    """

    def fail(error: str, description: str) -> RedirectError:
        return RedirectError(error, description, redirect_uri=request.redirect_uri, state=request.state)

    now = time.time()
    settings = svc.settings
    prompt = request.prompt or (("login",) if settings.sweden_connect else ())
    acceptable = acceptable_upstream(request.acr_values, essential=request.essential_acr, policy=settings.acr_policy)
    if request.acr_values and not acceptable:
        raise fail("unmet_authentication_requirements", "no level of assurance the gateway can state is requested")
    session = sso.find(svc.records, session_sid)
    if (
        session is not None
        and sso.fits(
            session,
            prompt=prompt,
            max_age=request.max_age,
            acceptable_loas=acceptable or svc.providers.loas_offered(),
            now=now,
            same_client=request.client_id if settings.sweden_connect else None,
        )
        and _is_required_principal(session.user.identity, request.principal_hint, request.principal_required)
    ):
        return _issue_code(svc, request.params, session, now)
    passive = "none" in prompt
    client = svc.oidc.context.clients.get(request.client_id)
    transaction = LoginTransaction(
        id=secrets.token_urlsafe(24),
        client_id=request.client_id,
        params=request.params,
        acr_values=request.acr_values,
        essential_acr=request.essential_acr,
        force_authn=not passive and ("login" in prompt or request.max_age is not None),
        created_at=int(now),
        csrf=secrets.token_urlsafe(24),
        acceptable_loas=acceptable,
        provider_hint=request.authn_provider,
        is_passive=passive,
        principal_hint=request.principal_hint,
        principal_required=request.principal_required,
        user_message=request.user_message,
        sp_id=client.settings.sp if client is not None else None,
    )
    candidates, country = _candidates(svc, transaction)
    if not candidates:
        raise fail("unmet_authentication_requirements", "no e-ID provider offers the requested acr")
    if passive and (settings.sweden_connect or len(candidates) != 1):
        # SCOIDC 2.2.1 answers login_required when no session of this client fits; elsewhere a
        # passive request needs a single provider, since no chooser may be shown.
        raise fail("login_required", "no session satisfies the request")
    transaction = replace(transaction, country=country)
    lifetime = svc.settings.lifetimes.transaction
    cookie = svc.binder.cookie(TX_COOKIE, transaction.id, lifetime)
    if len(candidates) == 1:
        provider, loas = candidates[0]
        return _send_upstream(svc, transaction, provider, loas, (cookie,))
    svc.records.put(store_keys.transaction(transaction.id), transaction, lifetime)
    return Chooser(transaction, tuple(p for p, _ in candidates), (cookie,))


def _bound_transaction_id(tx_id: str | None, cookie_tx: str | None) -> str:
    """``tx_id`` if this browser's signed transaction cookie names it, else a citizen error page."""
    if not tx_id or tx_id != cookie_tx:
        raise CitizenError("session_mismatch", "transaction does not belong to this browser")
    return tx_id


def _stored_transaction(svc: LoginServices, tx_id: str, *, consume: bool = False) -> LoginTransaction | None:
    """The stored transaction (taken when ``consume``), or None: absent, expired, unreadable, or an
    id that cannot name a key at all (`store.keys` refuses it with ValueError)."""
    read = svc.records.take if consume else svc.records.get
    try:
        return read(store_keys.transaction(tx_id), LoginTransaction)
    except ValueError:
        return None


def load_transaction(svc: LoginServices, tx_id: str | None, cookie_tx: str | None) -> LoginTransaction:
    """The transaction this browser started, or a citizen error page."""
    transaction = _stored_transaction(svc, _bound_transaction_id(tx_id, cookie_tx))
    if transaction is None:
        raise CitizenError("expired", "transaction not found or expired")
    return transaction


def _check_waiting_for_choice(transaction: LoginTransaction, csrf: str | None) -> None:
    """Refuse a chooser request that is forged (login CSRF) or comes after the choice was made.

    ``csrf`` None means a GET that only shows the page; every chooser POST passes the form's token.
    """
    if csrf is not None and not secrets.compare_digest(transaction.csrf, csrf):
        raise CitizenError("session_mismatch", "chooser CSRF token mismatch")
    if transaction.status is not Status.STARTED:
        raise CitizenError("expired", "transaction is not waiting for a choice")


def chooser_for(svc: LoginServices, transaction: LoginTransaction, csrf: str | None = None) -> Chooser:
    """The chooser again, for a login still waiting for a choice (language switch, missing choice, forget).

    ``csrf`` is checked when the request is a POST (a GET that only shows the page carries none).
    The providers are those `choose` accepts for this transaction.
    """
    _check_waiting_for_choice(transaction, csrf)
    return Chooser(transaction, tuple(p for p, _ in _candidates(svc, transaction)[0]))


def choose(svc: LoginServices, transaction: LoginTransaction, provider_id: str, csrf: str) -> Outcome:
    """The citizen picked ``provider_id`` on the chooser."""
    _check_waiting_for_choice(transaction, csrf or "")
    for provider, loas in _candidates(svc, transaction)[0]:
        if provider.id == provider_id:
            return _send_upstream(svc, transaction, provider, loas, ())
    raise CitizenError("unknown_provider", "chosen provider does not serve this request")


def cancel(svc: LoginServices, transaction: LoginTransaction, csrf: str) -> Redirect:
    """The citizen cancelled on the chooser: the client gets `access_denied` (RFC 6749 4.1.2.1).

    Straight back, without an error page: the citizen knows (OSPROF 2.3, as for a cancel at the
    provider). The token is checked before anything changes, so a forged cancel cannot end someone's
    login. The transaction is taken, so the login can neither be chosen nor cancelled again, and of
    two racing requests only one wins.
    """
    _check_waiting_for_choice(transaction, csrf)
    if _stored_transaction(svc, transaction.id, consume=True) is None:
        raise CitizenError("expired", "cancel: transaction already consumed")
    svc.audit.event("login.failed", tx=transaction.id, client=transaction.client_id, error="cancelled")
    return Redirect(_error_to_client(svc, transaction.params, "access_denied"), clear_cookies=(TX_COOKIE,))


def _send_upstream(
    svc: LoginServices,
    transaction: LoginTransaction,
    provider: ProviderSettings,
    loas: tuple[str, ...],
    cookies: tuple[CookieSpec, ...],
) -> Redirect:
    # PSC 3, UMSG 3: the extensions go only to providers that declare support.
    principal: tuple[tuple[str, str], ...] = ()
    if transaction.principal_hint and PERSONAL_IDENTITY_NUMBER in svc.providers.principal_selection(provider):
        principal = ((PERSONAL_IDENTITY_NUMBER, transaction.principal_hint),)
    user_message = transaction.user_message if svc.providers.user_message(provider) else None
    countries = (transaction.country,) if transaction.country and provider.country_hint else provider.countries
    outgoing = build_authn_request(
        _service_provider(svc, transaction.sp_id),
        provider.entity_id,
        loas=loas,
        relay_state=transaction.id,
        force_authn=transaction.force_authn,
        is_passive=transaction.is_passive,
        principal=principal,
        user_message=user_message,
        countries=countries,
    )
    updated = transaction.upstream(provider.id, outgoing.request_id, loas)
    svc.records.put(store_keys.transaction(transaction.id), updated, svc.settings.lifetimes.transaction)
    svc.audit.event("login.upstream", tx=transaction.id, client=transaction.client_id, provider=provider.id)
    return Redirect(outgoing.url, cookies)


def _service_provider(svc: LoginServices, sp_id: str | None) -> ServiceProvider:
    """The SP entity a client logs in through (TAR 3.4: one per attribute profile); the default when none."""
    if sp_id is None:
        return svc.sp
    sp = svc.service_providers.get(sp_id)
    if sp is None:
        raise CitizenError("expired", "the client's SP entity is no longer configured")
    return sp


def _is_required_principal(identity: Identity, hint: str | None, required: bool) -> bool:
    """Whether ``identity`` may answer a login that requires the person ``hint`` (when ``required``)."""
    return not required or identity.attributes.get("personalIdentityNumber", ())[:1] == (hint,)


def _attribute_set(svc: LoginServices, sp_id: str | None, provider: ProviderSettings) -> str:
    """What the response must contain: the SP entity's attribute set if it has one, else the provider's."""
    for sp in svc.settings.saml.service_providers:
        if sp.id == sp_id and sp.attribute_set:
            return sp.attribute_set
    return provider.attribute_set


def on_upstream_response(svc: LoginServices, relay_state: str | None, saml_response: str | None) -> Redirect:
    """Verify the provider's POST and record the outcome; the browser then resumes."""
    if not relay_state or not saml_response or len(relay_state) > 80:
        raise CitizenError("expired", "ACS: missing SAMLResponse or RelayState")
    # One response per login, whichever worker gets it: the first POST takes the transaction out of the
    # store (atomically), so a replayed or double-submitted response finds nothing and can neither race
    # the first one nor overwrite its outcome. The outcome, good or bad, puts the transaction back.
    transaction = _stored_transaction(svc, relay_state, consume=True)
    if transaction is None:
        raise CitizenError("expired", "ACS: no transaction waits for this response, or one was already received")
    lifetime = svc.settings.lifetimes.transaction
    key = store_keys.transaction(transaction.id)
    if transaction.status is not Status.UPSTREAM or transaction.request_id is None:
        svc.records.put(key, transaction, lifetime)  # not waiting for a response: leave it as it was
        raise CitizenError("expired", "ACS: no transaction waits for this response")
    provider = svc.providers.get(transaction.provider_id or "")
    if provider is None:
        raise CitizenError("expired", "ACS: the provider is no longer configured")
    expectation = Expectation(
        request_id=transaction.request_id,
        provider_entity_id=provider.entity_id,
        requested_loas=transaction.requested_loas,
        require_encryption=provider.require_encryption,
        authn_not_before=transaction.created_at if transaction.force_authn else None,
    )
    client = svc.oidc.context.clients.get(transaction.client_id)
    try:
        sp = _service_provider(svc, transaction.sp_id)
        result = verify_response(sp, saml_response, expectation, svc.replay)
        identity = to_identity(
            result,
            provider_id=provider.id,
            attribute_set=_attribute_set(svc, transaction.sp_id, provider),
            accept_coordination_number=bool(client and client.settings.accept_coordination_number),
        )
        if not _is_required_principal(identity, transaction.principal_hint, transaction.principal_required):
            # The provider MAY answer UnknownPrincipal itself (PSC 1); when it does not, the gateway does.
            raise UpstreamError("unknown_principal", "another person than the client requires logged in")
    except UpstreamError as error:
        # Reported at the resume step, in the browser that started the login.
        log.warning("upstream response refused", extra={"reason": error.detail, "tx": transaction.id})
        svc.audit.event(
            "login.failed", tx=transaction.id, client=transaction.client_id, provider=provider.id, error=error.code
        )
        svc.records.put(key, transaction.failed(error.code, error.oidc_error), lifetime)
        return Redirect(f"{RESUME_PATH}?{urlencode({'tx': transaction.id})}")
    sid = secrets.token_urlsafe(24)
    user = AuthenticatedUser(
        identity=identity,
        sid=sid,
        acr=relay_acr(identity.loa, svc.settings.acr_policy),
        auth_time=identity.authn_instant,
    )
    # The outcome is this one write. The SSO session is made at resume, in the browser that started the
    # login (with the code, in one batch), so a response completed nowhere, or a store failing here,
    # leaves no session behind.
    svc.records.put(key, transaction.authenticated(user), lifetime)
    svc.audit.event(
        "login.authenticated", tx=transaction.id, client=transaction.client_id, provider=provider.id,
        citizen=svc.audit.citizen(identity), loa=identity.loa, sid_hash=store_keys.digest(sid)[:16],
    )  # fmt: skip
    return Redirect(f"{RESUME_PATH}?{urlencode({'tx': transaction.id})}")


def resume(svc: LoginServices, tx_id: str | None, cookie_tx: str | None) -> Redirect:
    """Complete the login in the browser that started it: code (or error) to the client."""
    transaction = _stored_transaction(svc, _bound_transaction_id(tx_id, cookie_tx), consume=True)
    if transaction is None:
        raise CitizenError("expired", "resume: transaction not found, expired or already consumed")
    params = transaction.params
    if transaction.status is Status.FAILED:
        url = _error_to_client(svc, params, transaction.oidc_error or "access_denied")
        if _straight_back(transaction):
            return Redirect(url, clear_cookies=(TX_COOKIE,))
        raise UpstreamError(transaction.error or "provider_error", "resume: login failed", continue_url=url)
    if transaction.status is not Status.AUTHENTICATED or transaction.user is None:
        raise CitizenError("expired", "resume: login not finished")
    now = time.time()
    user = transaction.user
    session = sso.SsoSession(
        sid=user.sid, user=user, provider_id=transaction.provider_id or "", loa=user.identity.loa, created_at=int(now)
    )
    outcome = _issue_code(svc, params, session, now)
    return Redirect(outcome.url, outcome.cookies, clear_cookies=(TX_COOKIE,))


def _straight_back(transaction: LoginTransaction) -> bool:
    """Whether a failed login goes back to the client without an error page first.

    The citizen who cancelled knows (OSPROF 2.3); `prompt=none` must show no
    page at all (OIDC Core 3.1.2.1); an essential acr that was not met is the
    client's hard requirement, answered with `unmet_authentication_requirements`
    (OSPROF 2.1.6). Every other failure shows the citizen a page first, with a
    link that returns the error to the e-service (OSPROF 2.3).
    """
    if transaction.error == "cancelled" or transaction.is_passive:
        return True
    return transaction.essential_acr and transaction.oidc_error == "unmet_authentication_requirements"


def _issue_code(svc: LoginServices, params: dict[str, str], session: sso.SsoSession, now: float) -> Redirect:
    request = svc.oidc.rebuild_request(params)
    try:
        grant = svc.oidc.get_consent_grant(request=request, end_user=session.user)
    except OAuth2Error as error:
        return Redirect(_error_to_client(svc, params, error.error))
    with svc.records.batch():  # the code and the session: one round trip to the store
        response = svc.oidc.create_authorization_response(request=request, grant_user=session.user, grant=grant)
        location = response.headers.get("Location")
        if not location:
            raise ClientError("server_error", "no authorization response was produced", status=500)
        sso.save(svc.records, sso.with_client(session, params["client_id"]), svc.settings.lifetimes, now=now)
    svc.audit.event(
        "login.code_issued", client=params["client_id"], citizen=svc.audit.citizen(session.user.identity),
        provider=session.provider_id,
    )  # fmt: skip
    cookie = svc.binder.cookie(SESSION_COOKIE, session.sid, svc.settings.lifetimes.session_absolute)
    return Redirect(location, (cookie,))
