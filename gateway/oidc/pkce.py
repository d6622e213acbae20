"""PKCE, tightened: S256 only and mandatory for every client (RFC 7636, RFC 9700 2.1.1).

authlib's `CodeChallenge` defaults to `plain` and lets confidential clients
skip PKCE; the Swedish OIDC profile (2.1.8) forbids `plain`, and we require
PKCE of every client so a stolen code is useless without the verifier.
"""

from __future__ import annotations

from typing import Any

from authlib.oauth2.rfc6749 import InvalidRequestError
from authlib.oauth2.rfc7636 import CodeChallenge


class RequiredS256(CodeChallenge):  # type: ignore[misc]
    """Every authorization request must carry an S256 code challenge; every token request its verifier."""

    SUPPORTED_CODE_CHALLENGE_METHOD = ("S256",)
    DEFAULT_CODE_CHALLENGE_METHOD = "S256"

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        """Refuse a request without a challenge or with any method but S256."""
        data = grant.request.payload.data
        if not data.get("code_challenge"):
            raise InvalidRequestError("PKCE is required: missing 'code_challenge'", redirect_uri=redirect_uri)
        if data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("'code_challenge_method' must be S256", redirect_uri=redirect_uri)
        super().validate_code_challenge(grant, redirect_uri)

    def validate_code_verifier(self, grant: Any, result: Any) -> None:
        """Refuse a token request without a verifier, whatever the client type."""
        if not grant.request.form.get("code_verifier"):
            raise InvalidRequestError("Missing 'code_verifier'")
        super().validate_code_verifier(grant, result)
