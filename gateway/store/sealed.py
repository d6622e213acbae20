"""AES-256-GCM envelope for personal data at rest in the store (design: State).

Attributes and personal identity numbers are sealed before they reach Redis,
so a copy of Redis (a dump, a replica, a debugging session) does not disclose
who logged in. GCM authenticates as well as encrypts, unlike the unauthenticated
AES-CBC state cookie SATOSA and pyop carry; the caller's ``aad`` binds a sealed
value to its place (e.g. the key it is stored under), so a value cannot be
moved to another record and still open.

Layout, all lengths in bytes::

    version (1) | key-id length (1) | key-id (ASCII) | nonce (12) | ciphertext + tag (16)

The key id selects the key on open, so a new key can become active while
values sealed under the old one still open until they expire (rotation). The
version byte and key id are authenticated too (they are part of the GCM
associated data), so they cannot be swapped. Nonces are random; NIST SP
800-38D section 8.3 limits one key to about 2**32 such messages, far above the
number of logins between two rotations.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_VERSION = 1
_NONCE_LEN = 12
_TAG_LEN = 16
_KEY_LEN = 32
_MIN_SECRET_LEN = 32
_HKDF_INFO = b"eid-gateway store seal v1"


class SealError(ValueError):
    """A sealed value cannot be opened: tampered, truncated, wrong ``aad`` or an unknown key.

    The causes are deliberately not told apart in the message; to the caller
    they all mean the same thing: this value is not trustworthy.
    """


class Sealer:
    """Seals with the active key; opens with any key it was given (old ones during rotation)."""

    def __init__(self, keys: Mapping[str, bytes], active: str) -> None:
        if active not in keys:
            raise ValueError("the active key id is not among the keys")
        for kid, key in keys.items():
            _check_key(kid, key)
        self._ciphers = {kid: AESGCM(bytes(key)) for kid, key in keys.items()}
        self._active = active

    @classmethod
    def from_secret(cls, secret: bytes, *, previous: Sequence[bytes] = ()) -> Sealer:
        """Build a Sealer from a configured secret; ``previous`` secrets still open old values.

        HKDF (RFC 5869) turns the secret into an AES-256 key with a purpose
        label, so the same secret used elsewhere yields an unrelated key. The
        key id is derived from the key, so every process configured with the
        same secret agrees on it without extra configuration.
        """
        keys: dict[str, bytes] = {}
        for item in (*previous, secret):
            kid, key = _derive(item)
            keys[kid] = key
        return cls(keys, active=_derive(secret)[0])

    @property
    def active(self) -> str:
        """The key id new values are sealed under."""
        return self._active

    def seal(self, plaintext: bytes, aad: bytes) -> bytes:
        """Encrypt and authenticate ``plaintext``, bound to ``aad``, under the active key."""
        header = _header(self._active)
        nonce = os.urandom(_NONCE_LEN)
        ciphertext = self._ciphers[self._active].encrypt(nonce, plaintext, header + aad)
        return header + nonce + ciphertext

    def open(self, sealed: bytes, aad: bytes) -> bytes:
        """Return the plaintext, or raise `SealError` unless ``sealed`` is intact and bound to ``aad``."""
        kid, header_len = _parse_header(sealed)
        cipher = self._ciphers.get(kid)
        if cipher is None:
            raise SealError("sealed value uses an unknown key")
        body = sealed[header_len:]
        if len(body) < _NONCE_LEN + _TAG_LEN:
            raise SealError("sealed value is truncated")
        nonce, ciphertext = body[:_NONCE_LEN], body[_NONCE_LEN:]
        try:
            return cipher.decrypt(nonce, ciphertext, sealed[:header_len] + aad)
        except InvalidTag:
            raise SealError("sealed value failed authentication") from None


def _derive(secret: bytes) -> tuple[str, bytes]:
    """Secret -> (key id, 32-byte key): HKDF-SHA256, id = first 8 hex digits of sha256(key)."""
    if len(secret) < _MIN_SECRET_LEN:
        raise ValueError(f"the seal secret must be at least {_MIN_SECRET_LEN} bytes")
    key = HKDF(algorithm=hashes.SHA256(), length=_KEY_LEN, salt=None, info=_HKDF_INFO).derive(secret)
    return hashlib.sha256(key).hexdigest()[:8], key


def _check_key(kid: str, key: bytes) -> None:
    """Refuse key ids that do not fit the header and keys that are not AES-256."""
    if not kid or not kid.isascii() or len(kid) > 255:
        raise ValueError("a seal key id must be 1-255 ASCII characters")
    if len(key) != _KEY_LEN:
        raise ValueError("a seal key must be 32 bytes (AES-256)")


def _header(kid: str) -> bytes:
    encoded = kid.encode("ascii")
    return bytes((_VERSION, len(encoded))) + encoded


def _parse_header(sealed: bytes) -> tuple[str, int]:
    """Return (key id, header length), refusing unknown versions and truncated headers."""
    if len(sealed) < 2 or sealed[0] != _VERSION:
        raise SealError("sealed value has an unknown format")
    end = 2 + sealed[1]
    if sealed[1] == 0 or len(sealed) < end:
        raise SealError("sealed value has an unknown format")
    try:
        return sealed[2:end].decode("ascii"), end
    except UnicodeDecodeError:
        raise SealError("sealed value has an unknown format") from None
