"""OpenID Provider metadata (OIDC Discovery 3, RFC 8414): only what the gateway really supports.

The Swedish OIDC profile 5.2 lists what the document MUST contain; the
Sweden Connect profile 2.1 adds `ui_locales_supported` with sv and en; the
request parameter extensions (OSRPAR 2.1-2.2) are announced with their
`https://id.oidc.se/disco/...` names. `acr_values_supported` are the levels
the configured providers offer, as the relay policy states them; every scope
listed brings its claims into `claims_supported`. Logout: RP-Initiated Logout
1.0 2.1 (`end_session_endpoint`) and Back-Channel Logout 1.0 2.1 (with `sid`
in every logout token); front-channel logout is not offered.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gateway.mapping.claims import SUPPORTED_SCOPES
from gateway.mapping.claims import supported_claims
from gateway.oidc.request_object import CONTENT_ENCRYPTION_ALGS
from gateway.oidc.request_object import ENCRYPTION_ALGS
from gateway.oidc.request_object import SIGNING_ALGS
from gateway.oidc.user_message import MIME_TYPES

DISCO = "https://id.oidc.se/disco/"


def provider_metadata(
    issuer: str,
    acr_values: Sequence[str],
    signing_algs: Sequence[str],
    *,
    sweden_connect: bool = False,
    user_message_supported: bool = False,
) -> dict[str, Any]:
    """The discovery document for ``issuer``."""
    auth_methods = (
        ["private_key_jwt"] if sweden_connect else ["private_key_jwt", "client_secret_basic", "client_secret_post"]
    )
    return {
        "issuer": issuer,
        "authorization_endpoint": f"{issuer}/authorize",
        "token_endpoint": f"{issuer}/token",
        "userinfo_endpoint": f"{issuer}/userinfo",
        "jwks_uri": f"{issuer}/jwks",
        "pushed_authorization_request_endpoint": f"{issuer}/par",
        "end_session_endpoint": f"{issuer}/logout",
        "require_pushed_authorization_requests": False,
        "scopes_supported": list(SUPPORTED_SCOPES),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code"],
        "subject_types_supported": ["pairwise", "public"],
        "id_token_signing_alg_values_supported": list(signing_algs),
        "userinfo_signing_alg_values_supported": list(signing_algs),
        "request_object_signing_alg_values_supported": list(SIGNING_ALGS),
        "request_object_encryption_alg_values_supported": list(ENCRYPTION_ALGS),
        "request_object_encryption_enc_values_supported": list(CONTENT_ENCRYPTION_ALGS),
        "token_endpoint_auth_methods_supported": auth_methods,
        "token_endpoint_auth_signing_alg_values_supported": list(SIGNING_ALGS),
        "code_challenge_methods_supported": ["S256"],
        "acr_values_supported": list(acr_values),
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "acr", "sid",
                             *supported_claims(SUPPORTED_SCOPES)],
        "claims_parameter_supported": True,
        "request_parameter_supported": True,
        "request_uri_parameter_supported": False,
        "prompt_values_supported": ["none", "login"],
        "ui_locales_supported": ["sv", "en"],
        "authorization_response_iss_parameter_supported": True,
        "backchannel_logout_supported": True,
        "backchannel_logout_session_supported": True,
        "frontchannel_logout_supported": False,
        DISCO + "userMessageSupported": user_message_supported,
        DISCO + "userMessageSupportedMimeTypes": list(MIME_TYPES),
        DISCO + "authnProviderSupported": True,
    }  # fmt: skip
