"""The gateway's own keys: where they live, how they are loaded, and (in development) made.

Layout of ``keys_dir`` (written by `eid-gateway keys generate`):

- ``oidc-signing.pem``: signs ID tokens and UserInfo JWTs (published in JWKS);
- ``saml-signing.pem`` / ``.crt``: signs AuthnRequests and SP metadata;
- ``saml-encryption.pem`` / ``.crt``: providers encrypt assertions to it;
- ``secret.key``: the seed for cookie signing, pairwise subjects and sealing
  when ``secret_key`` is not configured (development only).

A role may also have ``<role>.next.pem`` (published before it becomes active)
and ``<role>.previous.pem`` (still published, and still used to decrypt, during
a grace period), so keys roll over without downtime. Keys are read once at start,
never per request. In development missing keys are generated, written with
mode 0600 and created exclusively, so concurrent workers agree on one key.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from gateway.trust.certs import generate_key_pair

ROLES = ("oidc-signing", "saml-signing", "saml-encryption")
STAGES = ("next", "active", "previous")


@dataclass(frozen=True, slots=True)
class StoredKey:
    """One key of one role at one rollover stage, with the files it lives in."""

    role: str
    stage: str
    key_path: Path
    cert_path: Path
    key_pem: bytes
    cert_pem: bytes

    @property
    def kid(self) -> str:
        """A stable key id: the start of the SHA-256 of the public key."""
        cert = x509.load_pem_x509_certificate(self.cert_pem)
        spki = cert.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return hashlib.sha256(spki).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class KeySet:
    """Every key the gateway holds, by role, in rollover order (next, active, previous)."""

    keys: tuple[StoredKey, ...]
    secret: bytes

    def active(self, role: str) -> StoredKey:
        """The key that signs (or is advertised for encryption) now."""
        for key in self.keys:
            if key.role == role and key.stage == "active":
                return key
        raise LookupError(role)

    def published(self, role: str) -> tuple[StoredKey, ...]:
        """Keys peers must know: the next, the active and the previous one."""
        return tuple(k for k in self.keys if k.role == role)


def _file_name(role: str, stage: str, suffix: str) -> str:
    return f"{role}{'' if stage == 'active' else '.' + stage}{suffix}"


def _write_exclusive(path: Path, data: bytes, mode: int) -> None:
    """Create ``path`` only if absent: the first writer wins, later ones keep its content."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except FileExistsError:
        return
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def generate_keys(keys_dir: Path, *, kind: str = "rsa", stage: str = "active", roles: tuple[str, ...] = ROLES) -> None:
    """Create missing key files (private keys 0600). Existing keys are never overwritten."""
    keys_dir.mkdir(parents=True, exist_ok=True)
    for role in roles:
        key_path = keys_dir / _file_name(role, stage, ".pem")
        if key_path.exists():
            continue
        pair = generate_key_pair(f"eid-gateway {role}", kind="rsa" if role == "saml-encryption" else kind)
        # The certificate first, so a reader never sees a private key without its certificate.
        _write_exclusive(keys_dir / _file_name(role, stage, ".crt"), pair.cert_pem, 0o644)
        _write_exclusive(key_path, pair.key_pem, 0o600)
    _write_exclusive(keys_dir / "secret.key", secrets.token_hex(32).encode(), 0o600)


def load_keys(keys_dir: Path, configured_secret: bytes | None) -> KeySet:
    """Read every key file in ``keys_dir``; raise FileNotFoundError naming a missing one."""
    keys = []
    for role in ROLES:
        for stage in STAGES:
            key_path = keys_dir / _file_name(role, stage, ".pem")
            cert_path = keys_dir / _file_name(role, stage, ".crt")
            if not key_path.exists():
                if stage == "active":
                    raise FileNotFoundError(f"{key_path} is missing: run `eid-gateway keys generate`")
                continue
            keys.append(StoredKey(role, stage, key_path, cert_path, key_path.read_bytes(), cert_path.read_bytes()))
    secret = configured_secret or (keys_dir / "secret.key").read_bytes().strip()
    return KeySet(keys=tuple(keys), secret=secret)


def derive(secret: bytes, purpose: str) -> bytes:
    """A 32-byte key for one purpose, so no two uses of the secret share a key (HKDF-SHA256)."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=f"eid-gateway {purpose}".encode()).derive(secret)
