"""The authorization request, validated once at `/authorize` and carried as a value.

The parameters come from one of three places: the query, a signed request
object (`request`, `gateway.oidc.request_object`), or a pushed request
(`request_uri` from `/par`, RFC 9126). Once resolved they go through one
validation: authlib checks client, redirect URI, response type, scope, PKCE
and prompt; this module adds what it does not (`claims` must be a JSON
object, `max_age` an integer, a bounded size for every parameter, the
userMessage parameter, a personal identity number in `login_hint`) and turns
the result into an `AuthorizationRequest`. Errors are split by RFC 6749
4.1.2.1: an unknown client or a redirect URI that is not registered gets a
page (`CitizenError`), everything else is redirected back to the client.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from authlib.oauth2 import OAuth2Error

from gateway.errors import CitizenError
from gateway.errors import ClientError
from gateway.mapping.personnummer import InvalidNumber
from gateway.mapping.personnummer import validate
from gateway.model import UserMessage
from gateway.oidc.clients import Client
from gateway.oidc.records import PushedRequest
from gateway.oidc.request_object import MAX_REQUEST_OBJECT_LENGTH
from gateway.oidc.request_object import InvalidRequestObject
from gateway.oidc.request_object import verify_request_object
from gateway.oidc.server import GatewayAuthorizationServer
from gateway.oidc.user_message import PARAMETER as USER_MESSAGE
from gateway.oidc.user_message import InvalidUserMessage
from gateway.oidc.user_message import parse_user_message
from gateway.store import keys as store_keys

MAX_PARAM_LENGTH = 4096
REQUEST_URI_PREFIX = "urn:ietf:params:oauth:request_uri:"
PERSONAL_IDENTITY_NUMBER_CLAIM = "https://id.oidc.se/claim/personalIdentityNumber"
_DEFERRED = object()

FORWARDED_PARAMS = (
    "client_id", "redirect_uri", "response_type", "scope", "state", "nonce", "code_challenge",
    "code_challenge_method", "prompt", "max_age", "acr_values", "claims", "ui_locales", "login_hint",
    USER_MESSAGE, "https://id.oidc.se/param/authnProvider",
)  # fmt: skip


class RedirectError(ClientError):
    """An OIDC error that goes back to the client's validated redirect URI (RFC 6749 4.1.2.1)."""

    def __init__(self, error: str, description: str, *, redirect_uri: str, state: str | None) -> None:
        super().__init__(error, description, status=302)
        self.redirect_uri = redirect_uri
        self.state = state


GatewayErrorType = RedirectError | CitizenError
Fail = Callable[[str, str], GatewayErrorType]
"""Makes the error for (OIDC error code, description): a redirect when a redirect URI is known, else a page."""


@dataclass(frozen=True, slots=True)
class AuthorizationRequest:
    """A validated authorization request (OIDC Core 3.1.2.1)."""

    client_id: str
    redirect_uri: str
    scope: str
    state: str | None
    nonce: str | None
    prompt: tuple[str, ...]
    max_age: int | None
    acr_values: tuple[str, ...]
    essential_acr: bool
    claims: str
    ui_locales: tuple[str, ...]
    login_hint: str | None
    authn_provider: str | None
    params: dict[str, str]
    principal_hint: str | None = None
    """A valid personal identity number the client expects to log in (PSC), from `claims` or `login_hint`."""
    principal_required: bool = False
    """The hint is an essential claim value: a login of anyone else must not reach the client."""
    user_message: UserMessage | None = None


def _essential_acr(claims: dict[str, Any]) -> tuple[tuple[str, ...], bool]:
    """acr values asked for through `claims` (OIDC Core 5.5.1.1); essential means a hard requirement."""
    acr = claims.get("id_token", {}).get("acr") if isinstance(claims.get("id_token"), dict) else None
    if not isinstance(acr, dict):
        return (), False
    values = acr.get("values") or ([acr["value"]] if isinstance(acr.get("value"), str) else [])
    values = tuple(v for v in values if isinstance(v, str))
    return values, bool(acr.get("essential")) and bool(values)


def _principal_hint(claims: dict[str, Any], login_hint: str | None) -> tuple[str | None, bool]:
    """The personal identity number the client names, if any, validated (SKV 704/707), and whether it is required.

    OSPROF 2.1.5 asks clients to name an expected claim value through `claims`
    (`{"value": ...}`), so that comes first; a `login_hint` that is a 12-digit
    number (with or without the hyphen) is accepted too, since that is how
    many e-services already say it. Anything else is ignored: a hint is never
    a reason to refuse a request (OIDC Core 3.1.2.1). A value marked
    `"essential": true` is the client's requirement (OIDC Core 5.5.1): the login
    then succeeds only for that person.
    """
    candidates: list[tuple[object, bool]] = []
    for member in ("id_token", "userinfo"):
        requested = claims.get(member)
        if isinstance(requested, dict) and isinstance(requested.get(PERSONAL_IDENTITY_NUMBER_CLAIM), dict):
            wanted = requested[PERSONAL_IDENTITY_NUMBER_CLAIM]
            candidates.append((wanted.get("value"), wanted.get("essential") is True))
    if login_hint:
        candidates.append((login_hint.strip().replace("-", ""), False))
    for candidate, essential in candidates:
        if isinstance(candidate, str) and len(candidate) == 12:
            try:
                validate(candidate)
            except InvalidNumber:
                continue
            return candidate, essential
    return None, False


def _page_language(ui_locales: tuple[str, ...]) -> str:
    """The language of the citizen's pages (sv or en, OIDC Core 3.1.2.1 ui_locales), Swedish by default."""
    for tag in ui_locales:
        base = tag.split("-")[0].lower()
        if base in ("sv", "en"):
            return base
    return "sv"


def _single_valued(args: Any, fail: Fail) -> dict[str, str]:
    """Each parameter once (OAuth 2.0 3.1: "MUST NOT be included more than once"), each bounded in size."""
    params: dict[str, str] = {}
    for name in args:
        if len(args.getlist(name)) > 1:
            raise fail("invalid_request", f"parameter {name[:40]} is repeated")
        limit = MAX_REQUEST_OBJECT_LENGTH if name == "request" else MAX_PARAM_LENGTH
        if len(args[name]) > limit:
            raise fail("invalid_request", f"parameter {name[:40]} is too long")
        params[name] = args[name]
    return params


def parse_authorization(server: GatewayAuthorizationServer, http_request: Any) -> AuthorizationRequest:
    """Validate the `/authorize` request ``http_request``, resolving a request object or a pushed request."""
    args = http_request.args
    client = server.query_client(args.get("client_id"))
    if client is None:
        raise CitizenError("unknown_client", "authorize: unknown client_id")
    query_redirect = args.get("redirect_uri")
    registered = isinstance(query_redirect, str) and client.check_redirect_uri(query_redirect)

    def early_fail(error: str, description: str) -> GatewayErrorType:
        # Before the parameters are known, only a registered query redirect_uri may be used (RFC 9101 6.3).
        if registered:
            return RedirectError(error, description, redirect_uri=query_redirect, state=args.get("state"))
        return CitizenError("bad_redirect_uri", f"authorize: {error}: {description}")

    query = _single_valued(args, early_fail)
    if "request_uri" in query and "request" in query:
        raise early_fail("invalid_request", "request and request_uri cannot be combined (OIDC Core 6.1)")
    if "request_uri" in query:
        params = _redeem_pushed(server, client, query["request_uri"], early_fail)
    elif "request" in query:
        try:
            params = request_object_parameters(server, client, query["request"])
        except InvalidRequestObject as exc:
            raise early_fail("invalid_request_object", str(exc)) from None
        if query.get("response_type", params.get("response_type")) != params.get("response_type"):
            raise early_fail("invalid_request_object", "response_type differs from the request object's")
        params["client_id"] = client.client_id
    else:
        params = query
    return validate_authorization(server, client, params)


def _redeem_pushed(server: GatewayAuthorizationServer, client: Client, request_uri: str, fail: Fail) -> dict[str, str]:
    """RFC 9126 4: the pushed request, once, and only for the client that pushed it."""
    if not request_uri.startswith(REQUEST_URI_PREFIX):
        raise fail("request_uri_not_supported", "only request_uri values from the PAR endpoint are accepted")
    pushed = server.context.records.take(store_keys.par(request_uri), PushedRequest)
    if pushed is None or pushed.client_id != client.client_id:
        raise fail("invalid_request_uri", "request_uri is unknown, expired or already used")
    return dict(pushed.params)


_VSCHAR = re.compile(r"[\x20-\x7e]*")
_VSCHAR_PARAMS = (
    "client_id", "response_type", "scope", "code_challenge", "code_challenge_method", "prompt", "max_age",
    "acr_values", "response_mode",
)  # fmt: skip
"""RFC 6749 Appendix A (and OIDC Core 3.1.2.1 for prompt, max_age, acr_values): printable ASCII only.
authlib echoes some of these in its error descriptions and refuses to build an error with anything else,
so a control character there would otherwise end as a 500 instead of invalid_request."""


def request_object_parameters(server: GatewayAuthorizationServer, client: Client, token: str) -> dict[str, str]:
    """The parameters of ``client``'s request object, decrypted and verified (raises `InvalidRequestObject`)."""
    return verify_request_object(
        token,
        client.settings,
        server.context.client_keys,
        issuer=server.context.issuer,
        decryption_keys=server.context.signing_keys.decryption_keys(),
    )


def validate_authorization(
    server: GatewayAuthorizationServer, client: Client, params: Mapping[str, str]
) -> AuthorizationRequest:
    """Every check of an authorization request whose parameters are resolved (query, object or PAR)."""
    redirect_uri = params.get("redirect_uri")
    if not isinstance(redirect_uri, str) or not client.check_redirect_uri(redirect_uri):
        raise CitizenError("bad_redirect_uri", "authorize: redirect_uri is not registered for the client")
    state = params.get("state")

    def fail(error: str, description: str) -> RedirectError:
        return RedirectError(error, description, redirect_uri=redirect_uri, state=state)

    for name, value in params.items():
        if not isinstance(value, str) or len(value) > MAX_PARAM_LENGTH:
            raise fail("invalid_request", f"parameter {name[:40]} is too long or not a string")
    for name in _VSCHAR_PARAMS:
        given = params.get(name)
        if given is not None and not _VSCHAR.fullmatch(given):
            raise fail("invalid_request", f"parameter {name} has characters outside RFC 6749 Appendix A")
    if "request" in params or "request_uri" in params:
        raise fail("invalid_request", "request and request_uri cannot be combined or nested")
    forwarded = {k: params[k] for k in FORWARDED_PARAMS if k in params}
    try:
        # The end user is not known yet; the login flow decides prompt=none
        # against the SSO session, so authlib must not answer login_required here.
        server.get_consent_grant(request=server.rebuild_request(forwarded), end_user=_DEFERRED)
    except OAuth2Error as error:
        raise fail(error.error, error.description or "") from None
    claims_text = params.get("claims", "")
    claims: dict[str, Any] = {}
    if claims_text:
        try:
            claims = json.loads(claims_text)
        except ValueError:
            raise fail("invalid_request", "claims is not JSON") from None
        if not isinstance(claims, dict):
            raise fail("invalid_request", "claims must be a JSON object")
    max_age_text = params.get("max_age")
    max_age = None
    if max_age_text is not None:
        if not (max_age_text.isascii() and max_age_text.isdigit()):  # str.isdigit alone takes any script's digits
            raise fail("invalid_request", "max_age must be a non-negative integer")
        max_age = int(max_age_text)
    ui_locales = tuple(params.get("ui_locales", "").split())
    user_message = None
    if USER_MESSAGE in params:
        try:
            user_message = parse_user_message(params[USER_MESSAGE], _page_language(ui_locales))
        except InvalidUserMessage as exc:
            raise fail("invalid_request", str(exc)) from None
    claim_acrs, essential = _essential_acr(claims)
    acr_values = tuple(params.get("acr_values", "").split()) or claim_acrs or client.settings.default_acr_values
    if essential and params.get("acr_values"):
        # OSPROF 2.1.6: a client using claims.acr should not also send acr_values; the essential claim rules.
        acr_values = claim_acrs
    principal_hint, principal_required = _principal_hint(claims, params.get("login_hint"))
    return AuthorizationRequest(
        client_id=client.client_id,
        redirect_uri=redirect_uri,
        scope=params.get("scope", ""),
        state=state,
        nonce=params.get("nonce"),
        prompt=tuple(params.get("prompt", "").split()),
        max_age=max_age,
        acr_values=acr_values,
        essential_acr=essential,
        claims=claims_text,
        ui_locales=ui_locales,
        login_hint=params.get("login_hint"),
        authn_provider=params.get("https://id.oidc.se/param/authnProvider"),
        params=forwarded,
        principal_hint=principal_hint,
        principal_required=principal_required,
        user_message=user_message,
    )
