"""Registered e-services (OIDC clients) and how they are recognised.

Redirect URIs match by exact string comparison only (Swedish OIDC profile
2.1.3, RFC 9700 4.1.3): no prefix, case or normalisation leniency. Client
secrets are compared in constant time. `none` authentication is never offered.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable

from authlib.oauth2.rfc6749 import ClientMixin

from gateway.settings.schema import ClientSettings

PRIVATE_KEY_JWT = "private_key_jwt"


class Client(ClientMixin):  # type: ignore[misc]
    """An e-service as authlib sees it, backed by its immutable settings."""

    def __init__(self, settings: ClientSettings) -> None:
        self.settings = settings
        self.client_id = settings.client_id

    def get_client_id(self) -> str:
        """The registered client_id."""
        return self.client_id

    def get_default_redirect_uri(self) -> str | None:
        """None: every authorization request must name its redirect URI (OIDC Core 3.1.2.1)."""
        return None

    def get_allowed_scope(self, scope: str) -> str:
        """The requested scopes the client is registered for, in request order."""
        allowed = set(self.settings.scopes) | {"openid"}
        return " ".join(s for s in scope.split() if s in allowed)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        """Exact string match against the registered URIs."""
        return redirect_uri in self.settings.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        """Constant-time comparison with the registered secret."""
        expected = self.settings.client_secret
        if not expected or not isinstance(client_secret, str):
            return False
        return hmac.compare_digest(expected.encode(), client_secret.encode())

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        """Only the one method the client registered, at the token and PAR endpoints (RFC 9126 2)."""
        return endpoint in ("token", "par") and method == self.settings.auth_method

    def check_response_type(self, response_type: str) -> bool:
        """Code flow only (Swedish OIDC profile 2)."""
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        """Authorization code only; no refresh tokens are issued."""
        return grant_type == "authorization_code"


class ClientRegistry:
    """Lookup of clients by id; built once from settings."""

    def __init__(self, clients: Iterable[ClientSettings]) -> None:
        self._clients = {c.client_id: Client(c) for c in clients}

    def get(self, client_id: object) -> Client | None:
        """The client, or None for an unknown or malformed id."""
        if not isinstance(client_id, str):
            return None
        return self._clients.get(client_id)

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self._clients.values())
