"""The gateway's JSON Web Keys: the active one of each algorithm signs, all published ones verify.

``oidc-signing`` signs with RS256 (or ES256 when it was made with ``--kind ec``), the default for every
e-service; ``oidc-signing-ec``, when present, signs with ES256 for e-services that registered
``id_token_signed_response_alg: ES256`` (the Swedish OIDC profile 7 REQUIRES both RS256 and ES256).

Published in JWKS in rollover order (next, active, previous), so an e-service
caches the next key before it signs anything and can still verify tokens
signed by the previous one. Every key carries a `kid` (Swedish OIDC profile 7).

Keys are replaced while the gateway runs (`install`, called by
`gateway.trust.runtime` when the keys directory changes): the whole set is
swapped by one assignment, and a signer takes `current()` once, so a token's
`kid`, `alg` and signature always come from the same key.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from joserfc.jwk import ECKey
from joserfc.jwk import KeyParameters
from joserfc.jwk import RSAKey

from gateway.trust.keystore import KeySet
from gateway.trust.keystore import StoredKey

JwkKey = RSAKey | ECKey


def _import(stored: StoredKey) -> JwkKey:
    """The key as a JWK of its own type (RSA, or EC P-256 from `keys generate --kind ec`)."""
    params: KeyParameters = {"kid": stored.kid, "use": "sig"}
    private = serialization.load_pem_private_key(stored.key_pem, password=None)
    if isinstance(private, ec.EllipticCurvePrivateKey):
        return ECKey.import_key(stored.key_pem, params)
    return RSAKey.import_key(stored.key_pem, params)


def _alg(key: JwkKey) -> str:
    """RS256 for RSA keys (the profile's default), ES256 for P-256 keys."""
    return "RS256" if isinstance(key, RSAKey) else "ES256"


@dataclass(frozen=True, slots=True)
class ActiveKey:
    """The key that signs now, with its `kid` and algorithm."""

    key: JwkKey
    kid: str
    alg: str


ENCRYPTION_ALG = "RSA-OAEP"
"""What e-services encrypt request objects with (REQUIRED by the Swedish OIDC profile 7)."""


def _import_decryption(stored: StoredKey) -> RSAKey:
    return RSAKey.import_key(stored.key_pem, {"kid": stored.kid, "use": "enc", "alg": ENCRYPTION_ALG})


@dataclass(frozen=True, slots=True)
class _KeySnapshot:
    active: ActiveKey
    signers: dict[str, ActiveKey]
    published: tuple[JwkKey, ...]
    decryption: tuple[RSAKey, ...]
    encryption: tuple[RSAKey, ...]


def _active(stored: StoredKey) -> ActiveKey:
    key = _import(stored)
    return ActiveKey(key=key, kid=str(key.kid), alg=_alg(key))


class SigningKeys:
    """Token signing keys, imported at start and again after a rollover step."""

    def __init__(self, keys: KeySet) -> None:
        self._snapshot = self._import(keys)

    @staticmethod
    def _import(keys: KeySet) -> _KeySnapshot:
        active = _active(keys.active("oidc-signing"))
        signers = {active.alg: active}
        roles = ["oidc-signing"]
        if keys.has("oidc-signing-ec"):  # published whenever present: it may have signed tokens still in use
            roles.append("oidc-signing-ec")
            signers.setdefault("ES256", _active(keys.active("oidc-signing-ec")))  # an EC oidc-signing key first
        decryption = keys.published("oidc-encryption")
        return _KeySnapshot(
            active=active,
            signers=signers,
            published=tuple(_import(k) for role in roles for k in keys.published(role)),
            decryption=tuple(_import_decryption(k) for k in decryption),
            # Clients encrypt to the active key, or already to the next one; never to the previous.
            encryption=tuple(_import_decryption(k) for k in decryption if k.stage != "previous"),
        )

    def install(self, keys: KeySet) -> None:
        """Sign with and publish ``keys`` from now on."""
        self._snapshot = self._import(keys)

    def current(self, alg: str | None = None) -> ActiveKey:
        """The active key for ``alg`` (default: the default algorithm's), taken once per token so its parts
        cannot come from two keys; LookupError for an algorithm no key signs (see `algs`)."""
        snapshot = self._snapshot
        if alg is None:
            return snapshot.active
        try:
            return snapshot.signers[alg]
        except KeyError:
            raise LookupError(f"no active key signs {alg}") from None

    @property
    def algs(self) -> tuple[str, ...]:
        """The algorithms tokens can be signed with, the default first."""
        return tuple(self._snapshot.signers)

    @property
    def active_key(self) -> JwkKey:
        """The key that signs now."""
        return self._snapshot.active.key

    @property
    def alg(self) -> str:
        """The active key's algorithm."""
        return self._snapshot.active.alg

    @property
    def kid(self) -> str:
        """The key id put in the header of every token we sign."""
        return self._snapshot.active.kid

    def verification_key(self, kid: str) -> tuple[JwkKey, str] | None:
        """The published key ``kid`` (next, active or previous) and its algorithm: what verifies a token we
        signed, such as an `id_token_hint` (RP-Initiated Logout 1.0 2); None for a key we do not publish."""
        for key in self._snapshot.published:
            if key.kid == kid:
                return key, _alg(key)
        return None

    def decryption_keys(self) -> tuple[RSAKey, ...]:
        """Every key a request object may have been encrypted to: next, active, previous."""
        return self._snapshot.decryption

    def jwks(self) -> dict[str, Any]:
        """The public JWK set for `/jwks`: signature keys, then request object encryption keys."""
        snapshot = self._snapshot
        keys = []
        for key in snapshot.published:
            public = key.as_dict(private=False)
            public["alg"] = _alg(key)
            keys.append(public)
        for key in snapshot.encryption:
            public = key.as_dict(private=False)
            public["alg"] = ENCRYPTION_ALG
            keys.append(public)
        return {"keys": keys}
