"""The authorization request, validated once at `/authorize` and carried as a value.

authlib validates client, redirect URI, response type, scope, PKCE and prompt;
this module adds what it does not (`claims` must be a JSON object, `max_age`
an integer, a bounded size for every parameter) and turns the result into an
`AuthorizationRequest`. Errors are split by RFC 6749 4.1.2.1: an unknown
client or a redirect URI that is not registered gets a page (`ClientError`
with no redirect), everything else is redirected back to the client.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from authlib.oauth2 import OAuth2Error

from gateway.errors import CitizenError
from gateway.errors import ClientError
from gateway.oidc.server import GatewayAuthorizationServer

MAX_PARAM_LENGTH = 4096
_DEFERRED = object()

FORWARDED_PARAMS = (
    "client_id", "redirect_uri", "response_type", "scope", "state", "nonce", "code_challenge",
    "code_challenge_method", "prompt", "max_age", "acr_values", "claims", "ui_locales", "login_hint",
    "https://id.oidc.se/param/userMessage", "https://id.oidc.se/param/authnProvider",
)  # fmt: skip


class RedirectError(ClientError):
    """An OIDC error that goes back to the client's validated redirect URI (RFC 6749 4.1.2.1)."""

    def __init__(self, error: str, description: str, *, redirect_uri: str, state: str | None) -> None:
        super().__init__(error, description, status=302)
        self.redirect_uri = redirect_uri
        self.state = state


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


def _essential_acr(claims: dict[str, Any]) -> tuple[tuple[str, ...], bool]:
    """acr values asked for through `claims` (OIDC Core 5.5.1.1); essential means a hard requirement."""
    acr = claims.get("id_token", {}).get("acr") if isinstance(claims.get("id_token"), dict) else None
    if not isinstance(acr, dict):
        return (), False
    values = acr.get("values") or ([acr["value"]] if isinstance(acr.get("value"), str) else [])
    values = tuple(v for v in values if isinstance(v, str))
    return values, bool(acr.get("essential")) and bool(values)


def parse_authorization(server: GatewayAuthorizationServer, http_request: Any) -> AuthorizationRequest:
    """Validate ``http_request`` with authlib and our additional rules."""
    args = http_request.args
    client = server.query_client(args.get("client_id"))
    redirect_uri = args.get("redirect_uri")
    if client is None:
        raise CitizenError("unknown_client", "authorize: unknown client_id")
    if not isinstance(redirect_uri, str) or not client.check_redirect_uri(redirect_uri):
        raise CitizenError("bad_redirect_uri", "authorize: redirect_uri is not registered for the client")
    state = args.get("state")

    def fail(error: str, description: str) -> RedirectError:
        return RedirectError(error, description, redirect_uri=redirect_uri, state=state)

    for name in args:
        if len(args.getlist(name)) > 1:
            raise fail("invalid_request", f"parameter {name} is repeated")
        if len(args[name]) > MAX_PARAM_LENGTH:
            raise fail("invalid_request", f"parameter {name} is too long")
    if "request" in args or "request_uri" in args:
        raise fail("request_not_supported", "request objects are not supported yet")
    try:
        # The end user is not known yet; the login flow decides prompt=none
        # against the SSO session, so authlib must not answer login_required here.
        server.get_consent_grant(request=http_request, end_user=_DEFERRED)
    except OAuth2Error as error:
        raise fail(error.error, error.description or "") from None
    claims_text = args.get("claims", "")
    claims: dict[str, Any] = {}
    if claims_text:
        try:
            claims = json.loads(claims_text)
        except ValueError:
            raise fail("invalid_request", "claims is not JSON") from None
        if not isinstance(claims, dict):
            raise fail("invalid_request", "claims must be a JSON object")
    max_age_text = args.get("max_age")
    max_age = None
    if max_age_text is not None:
        if not max_age_text.isdigit():
            raise fail("invalid_request", "max_age must be a non-negative integer")
        max_age = int(max_age_text)
    claim_acrs, essential = _essential_acr(claims)
    acr_values = tuple(args.get("acr_values", "").split()) or claim_acrs or client.settings.default_acr_values
    return AuthorizationRequest(
        client_id=client.client_id,
        redirect_uri=redirect_uri,
        scope=args.get("scope", ""),
        state=state,
        nonce=args.get("nonce"),
        prompt=tuple(args.get("prompt", "").split()),
        max_age=max_age,
        acr_values=acr_values,
        essential_acr=essential,
        claims=claims_text,
        ui_locales=tuple(args.get("ui_locales", "").split()),
        login_hint=args.get("login_hint"),
        authn_provider=args.get("https://id.oidc.se/param/authnProvider"),
        params={k: args[k] for k in FORWARDED_PARAMS if k in args},
    )
