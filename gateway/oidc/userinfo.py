"""The UserInfo endpoint (OIDC Core 5.3): claims for a valid access token.

Access tokens are opaque (Sweden Connect OIDC profile 2.3.2); the store holds
only their SHA-256, so the lookup hashes what the client presents. The
response is JSON, or a signed JWT when the client registered
`userinfo_signed_response_alg` (OIDC Core 5.3.2) and always in Sweden
Connect mode (the Swedish profile 4.1 says UserInfo responses MUST be signed;
outside that mode plain JSON stays available for e-services that expect it).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from gateway.errors import ClientError
from gateway.mapping.claims import Destination
from gateway.oidc import access_tokens
from gateway.oidc import id_token
from gateway.oidc.records import TokenRecord
from gateway.oidc.server import OidcContext
from gateway.store import keys as store_keys


class BearerError(ClientError):
    """A UserInfo request without a valid token (RFC 6750 3.1): answered with WWW-Authenticate."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(error, description, status=401 if error == "invalid_token" else 400)


@dataclass(frozen=True, slots=True)
class UserInfo:
    """What to send: a JSON object, or a signed JWT."""

    claims: dict[str, Any]
    jwt: str | None = None


def bearer_token(authorization: str | None) -> str:
    """The token from an `Authorization: Bearer` header."""
    if not authorization:
        raise BearerError("invalid_token", "no access token")
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > 512:
        raise BearerError("invalid_request", "malformed Authorization header")
    return token


def userinfo(context: OidcContext, token: str) -> UserInfo:
    """The claims for ``token``, or `BearerError`."""
    key = store_keys.access_token(store_keys.digest(token))
    marker = access_tokens.revocation_marker(token)
    record, revoked = context.records.get_with_markers(key, TokenRecord, [marker] if marker else [])
    if record is None or record.expires_at <= time.time():
        raise BearerError("invalid_token", "access token unknown or expired")
    if any(revoked):
        raise BearerError("invalid_token", "the session this access token belongs to has ended")
    client = context.clients.get(record.client_id)
    if client is None:
        raise BearerError("invalid_token", "client no longer registered")
    claims = id_token.identity_claims(
        client.settings, record.user, record.scope, record.claims_request, Destination.USERINFO
    )
    claims["sub"] = id_token.subject_for(client.settings, record.user, context.pairwise_key)
    # OIDC Core 5.3.2 when the client registered an alg; always in Sweden Connect mode (OSPROF 4.1: MUST be signed).
    if client.settings.userinfo_signed_response_alg or context.sweden_connect:
        signed = dict(claims, iss=context.issuer, aud=client.client_id, iat=int(time.time()))
        alg = client.settings.userinfo_signed_response_alg or client.settings.id_token_signed_response_alg
        return UserInfo(claims, id_token.sign(signed, context.signing_keys, alg=alg))
    return UserInfo(claims)
