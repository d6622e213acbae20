"""ID tokens and signed UserInfo responses (OIDC Core 2, 5.3.2; Swedish OIDC profile 3.2.1, 4.1).

The ID token states who logged in (`sub`, a pseudonym, never a personal
identity number: profile 3.2.1.1), how (`acr`, `auth_time`) and in which
session (`sid`, for logout). It lives at most five minutes (profile 3.2.1).
Identity claims go where the scope definitions put them (`gateway.mapping.claims`).
"""

from __future__ import annotations

import json
import time
from typing import Any

from joserfc import jwt

from gateway.mapping.claims import Destination
from gateway.mapping.claims import claims_for
from gateway.mapping.subject import pairwise_subject
from gateway.mapping.subject import public_subject
from gateway.oidc.records import AuthenticatedUser
from gateway.settings.schema import ClientSettings
from gateway.trust.signing_keys import SigningKeys


def subject_for(client: ClientSettings, user: AuthenticatedUser, pairwise_key: bytes) -> str:
    """Pairwise per sector identifier by default; public only when the client registered it."""
    if client.subject_type == "public":
        return public_subject(pairwise_key, user.identity.subject_key)
    return pairwise_subject(pairwise_key, client.sector_identifier, user.identity.subject_key)


def requested_claims(claims_request: str, destination: Destination) -> dict[str, Any] | None:
    """The member of the OIDC `claims` parameter (OIDC Core 5.5) for one destination."""
    if not claims_request:
        return None
    parsed = json.loads(claims_request)
    member = parsed.get("id_token" if destination is Destination.ID_TOKEN else "userinfo")
    return member if isinstance(member, dict) else None


def identity_claims(
    client: ClientSettings, user: AuthenticatedUser, scope: str, claims_request: str, destination: Destination
) -> dict[str, Any]:
    """The citizen's claims this client may receive at ``destination``."""
    return claims_for(
        user.identity,
        scope.split(),
        destination,
        requested=requested_claims(claims_request, destination),
        accept_coordination_number=client.accept_coordination_number,
    )


def sign(claims: dict[str, Any], keys: SigningKeys, typ: str = "JWT", alg: str | None = None) -> str:
    """Sign with the active key for ``alg`` (default: the default algorithm's), its `kid` in the header
    (one snapshot: a rollover cannot split them)."""
    active = keys.current(alg)
    header = {"alg": active.alg, "kid": active.kid, "typ": typ}
    return jwt.encode(header, claims, active.key, algorithms=[active.alg])


def id_token(
    *,
    issuer: str,
    client: ClientSettings,
    user: AuthenticatedUser,
    scope: str,
    nonce: str | None,
    claims_request: str,
    lifetime: int,
    pairwise_key: bytes,
    keys: SigningKeys,
) -> str:
    """A signed ID token for one redeemed authorization code."""
    now = int(time.time())
    claims: dict[str, Any] = identity_claims(client, user, scope, claims_request, Destination.ID_TOKEN)
    claims.update(
        {
            "iss": issuer,
            "sub": subject_for(client, user, pairwise_key),
            "aud": client.client_id,
            "exp": now + min(lifetime, 300),
            "iat": now,
            "auth_time": user.auth_time,
            "acr": user.acr,
            "sid": user.sid,
        }
    )
    if nonce:
        claims["nonce"] = nonce
    return sign(claims, keys, alg=client.id_token_signed_response_alg)
