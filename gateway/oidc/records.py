"""What the gateway remembers between the OIDC steps of one login.

An authorization code and an access token each point at the same facts: who
logged in (a sealed `Identity`), for which client, with which scopes and
`claims` request, and in which SSO session. They are frozen records in the
sealed store, keyed by the SHA-256 of the code or token (design: State).
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.model import Identity


@dataclass(frozen=True, slots=True)
class AuthenticatedUser:
    """The citizen a login produced, as handed to authlib's grant at the resume step."""

    identity: Identity
    sid: str
    acr: str
    auth_time: int


@dataclass(frozen=True, slots=True)
class CodeRecord:
    """An issued authorization code (single use, 60 s)."""

    client_id: str
    redirect_uri: str
    scope: str
    nonce: str | None
    code_challenge: str
    code_challenge_method: str
    claims_request: str
    user: AuthenticatedUser

    # authlib's AuthorizationCodeMixin interface
    def get_redirect_uri(self) -> str:
        """The redirect URI the code was issued to; the token request must repeat it."""
        return self.redirect_uri

    def get_scope(self) -> str:
        """The granted scopes."""
        return self.scope

    def get_nonce(self) -> str | None:
        """The nonce to echo in the ID token."""
        return self.nonce

    def get_auth_time(self) -> int:
        """When the citizen really authenticated (the upstream AuthnInstant)."""
        return self.user.auth_time

    def get_acr(self) -> str:
        """The acr the ID token states."""
        return self.user.acr

    def get_amr(self) -> None:
        """No amr: the Swedish profile does not define one."""
        return


@dataclass(frozen=True, slots=True)
class TokenRecord:
    """An issued access token: what `/userinfo` may release for it."""

    client_id: str
    scope: str
    claims_request: str
    user: AuthenticatedUser
    expires_at: int


@dataclass(frozen=True, slots=True)
class RedeemedCode:
    """Left behind by a redeemed code, so its reuse can revoke what it issued (RFC 6749 4.1.2)."""

    access_token_hashes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class PushedRequest:
    """A pushed authorization request (RFC 9126 2.2): the validated parameters, for one client, used once."""

    client_id: str
    params: dict[str, str]
