"""The gateway's JSON Web Keys: the active one signs, all published ones verify.

Published in JWKS in rollover order (next, active, previous), so an e-service
caches the next key before it signs anything and can still verify tokens
signed by the previous one. Every key carries a `kid` (Swedish OIDC profile 7).
"""

from __future__ import annotations

from typing import Any

from joserfc.jwk import ECKey
from joserfc.jwk import RSAKey

from gateway.trust.keystore import KeySet
from gateway.trust.keystore import StoredKey

JwkKey = RSAKey | ECKey


def _import(stored: StoredKey) -> JwkKey:
    params = {"kid": stored.kid, "use": "sig"}
    try:
        key: JwkKey = RSAKey.import_key(stored.key_pem, params)
    except (ValueError, TypeError):
        key = ECKey.import_key(stored.key_pem, params)
    return key


class SigningKeys:
    """Token signing keys, imported once at start."""

    def __init__(self, keys: KeySet) -> None:
        self.active_key = _import(keys.active("oidc-signing"))
        self.published_keys = tuple(_import(k) for k in keys.published("oidc-signing"))

    @property
    def alg(self) -> str:
        """RS256 for RSA keys (the profile's default), ES256 for P-256 keys."""
        return "RS256" if isinstance(self.active_key, RSAKey) else "ES256"

    @property
    def kid(self) -> str:
        """The key id put in the header of every token we sign."""
        return str(self.active_key.kid)

    def jwks(self) -> dict[str, Any]:
        """The public JWK set for `/jwks`."""
        keys = []
        for key in self.published_keys:
            public = key.as_dict(private=False)
            public["alg"] = "RS256" if isinstance(key, RSAKey) else "ES256"
            keys.append(public)
        return {"keys": keys}
