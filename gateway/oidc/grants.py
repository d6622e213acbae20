"""The authorization code grant (RFC 6749 4.1) on authlib, with our storage rules.

Codes are stored by SHA-256, sealed, for 60 s, and redeemed with an atomic
`take`, so two concurrent redemptions cannot both succeed (authlib's examples
query now and delete later). A redeemed code leaves a marker listing the
access tokens it issued: presenting it again revokes them (RFC 6749 4.1.2,
RFC 9700 4.2). The code is bound to the client it was issued to.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

from authlib.oauth2.rfc6749 import grants

from gateway.oidc.clients import PRIVATE_KEY_JWT
from gateway.oidc.records import CodeRecord
from gateway.oidc.records import RedeemedCode
from gateway.store import keys as store_keys


class CodeGrant(grants.AuthorizationCodeGrant):  # type: ignore[misc]
    """authlib's grant with sealed, single-use storage in the shared store."""

    TOKEN_ENDPOINT_AUTH_METHODS = ("client_secret_basic", "client_secret_post", PRIVATE_KEY_JWT)

    def generate_authorization_code(self) -> str:
        """256 bits from the OS CSPRNG."""
        return secrets.token_urlsafe(32)

    def save_authorization_code(self, code: str, request: Any) -> None:
        """Seal the code's facts under the code's hash for the configured lifetime."""
        payload = request.payload.data
        claims = payload.get("claims") or ""
        record = CodeRecord(
            client_id=request.client.get_client_id(),
            redirect_uri=payload["redirect_uri"],
            scope=request.client.get_allowed_scope(payload.get("scope", "")),
            nonce=payload.get("nonce") or None,
            code_challenge=payload["code_challenge"],
            code_challenge_method=payload["code_challenge_method"],
            claims_request=json.dumps(json.loads(claims)) if claims else "",
            user=request.user,
        )
        context = self.server.context
        context.records.put(store_keys.code(store_keys.digest(code)), record, context.lifetimes.code)

    def query_authorization_code(self, code: str, client: Any) -> CodeRecord | None:
        """Take the code atomically; a reused code revokes the tokens it issued."""
        if not isinstance(code, str) or not code or len(code) > 256:
            return None
        context = self.server.context
        code_hash = store_keys.digest(code)
        record: CodeRecord | None = context.records.take(store_keys.code(code_hash), CodeRecord)
        if record is None:
            redeemed = context.records.take(store_keys.code_used(code_hash), RedeemedCode)
            if redeemed is not None:
                context.store.delete(*(store_keys.access_token(h) for h in redeemed.access_token_hashes))
            return None
        if record.client_id != client.get_client_id():
            return None
        self.request.code_hash = code_hash
        return record

    def delete_authorization_code(self, authorization_code: CodeRecord) -> None:
        """Nothing to do: `query_authorization_code` already took it."""

    def authenticate_user(self, authorization_code: CodeRecord) -> Any:
        """The citizen the code was issued for."""
        return authorization_code.user
