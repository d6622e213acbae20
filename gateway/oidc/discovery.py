"""OpenID Provider metadata (OIDC Discovery 3, RFC 8414): only what the gateway really supports."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gateway.mapping.claims import SUPPORTED_SCOPES
from gateway.mapping.claims import supported_claims


def provider_metadata(issuer: str, acr_values: Sequence[str], signing_alg: str) -> dict[str, Any]:
    """The discovery document for ``issuer``."""
    return {
        "issuer": issuer,
        "authorization_endpoint": f"{issuer}/authorize",
        "token_endpoint": f"{issuer}/token",
        "userinfo_endpoint": f"{issuer}/userinfo",
        "jwks_uri": f"{issuer}/jwks",
        "scopes_supported": list(SUPPORTED_SCOPES),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code"],
        "subject_types_supported": ["pairwise", "public"],
        "id_token_signing_alg_values_supported": [signing_alg],
        "userinfo_signing_alg_values_supported": [signing_alg],
        "token_endpoint_auth_methods_supported": ["private_key_jwt", "client_secret_basic", "client_secret_post"],
        "token_endpoint_auth_signing_alg_values_supported": ["RS256", "PS256", "ES256"],
        "code_challenge_methods_supported": ["S256"],
        "acr_values_supported": list(acr_values),
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "acr", "sid",
                             *supported_claims(SUPPORTED_SCOPES)],
        "claims_parameter_supported": True,
        "request_parameter_supported": False,
        "request_uri_parameter_supported": False,
        "prompt_values_supported": ["none", "login"],
        "ui_locales_supported": ["sv", "en"],
        "authorization_response_iss_parameter_supported": True,
    }  # fmt: skip
