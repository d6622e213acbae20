"""The gateway's own keys: where they live, how they are loaded, and (in development) made.

Layout of ``keys_dir`` (written by `eid-gateway keys generate`):

- ``oidc-signing.pem``: signs ID tokens and UserInfo JWTs (published in JWKS);
- ``saml-signing.pem`` / ``.crt``: signs AuthnRequests and SP metadata;
- ``saml-encryption.pem`` / ``.crt``: providers encrypt assertions to it;
- ``oidc-encryption.pem`` / ``.crt``: e-services may encrypt request objects to it (published in JWKS
  with ``use: enc``; Swedish OIDC profile 2.1.7);
- ``secret.key``: the seed for cookie signing, pairwise subjects and sealing
  when ``secret_key`` is not configured (development only).

A role may also have ``<role>.next.pem`` (published before it becomes active)
and ``<role>.previous.pem`` (still published, and still used to decrypt, during
a grace period), so keys roll over without downtime (`gateway.trust.rollover`
moves them, under ``keys_locked``). Keys are read at start and again when the
directory changes (`gateway.trust.runtime`), never per request. In development
missing keys are generated, written with mode 0600 and created exclusively, so
concurrent workers agree on one key.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from gateway.trust.certs import generate_key_pair
from gateway.trust.certs import self_signed

ROLES = ("oidc-signing", "oidc-signing-ec", "saml-signing", "saml-encryption", "oidc-encryption")
OPTIONAL_ROLES = frozenset({"oidc-signing-ec"})
"""Roles a keys directory may lack: ``oidc-signing-ec`` (a P-256 key for e-services that want ES256 tokens,
REQUIRED by the Swedish OIDC profile 7) came later, and `keys generate` adds it to an existing directory."""
EC_ROLES = frozenset({"oidc-signing-ec"})
"""Roles whose keys are always EC P-256."""
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

    def has(self, role: str) -> bool:
        """Whether ``role`` has an active key (an optional role may have none)."""
        return any(key.role == role and key.stage == "active" for key in self.keys)

    def published(self, role: str) -> tuple[StoredKey, ...]:
        """Keys peers must know: the next, the active and the previous one."""
        return tuple(k for k in self.keys if k.role == role)


def _file_name(role: str, stage: str, suffix: str) -> str:
    return f"{role}{'' if stage == 'active' else '.' + stage}{suffix}"


def key_file(keys_dir: Path, role: str, stage: str) -> Path:
    """Where the private key of ``role`` at ``stage`` lives, whether or not it exists now."""
    return keys_dir / _file_name(role, stage, ".pem")


@contextmanager
def keys_locked(keys_dir: Path, *, exclusive: bool) -> Iterator[None]:
    """Hold ``keys_dir``'s lock: exclusive while keys move between stages, shared while they are read.

    A rollover step renames several files; a reader holding the shared lock sees the directory
    before or after the step, never a key with another key's certificate. Without write access to
    create the lock file (a read-only keys directory, which nothing can roll over), readers go on
    without it.
    """
    path = keys_dir / ".lock"
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CREAT, 0o600)
    except OSError:
        if exclusive:
            raise
        yield
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        yield
    finally:
        os.close(fd)


def _write_exclusive(path: Path, data: bytes, mode: int) -> None:
    """Create ``path`` atomically and only if absent: the first writer wins, readers never see a partial file."""
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.link(temporary, path)
    except FileExistsError:
        pass
    finally:
        temporary.unlink(missing_ok=True)


def ensure_key_pair(keys_dir: Path, name: str, *, kind: str = "rsa") -> tuple[Path, Path]:
    """``<name>.pem`` (0600) and ``<name>.crt`` in ``keys_dir``, created if missing; never overwritten.

    The key is written first and the certificate is always made from the key on
    disk, each file created atomically and exclusively, so processes starting at
    the same time end up with one matching pair.
    """
    keys_dir.mkdir(parents=True, exist_ok=True)
    key_path, cert_path = keys_dir / f"{name}.pem", keys_dir / f"{name}.crt"
    if not key_path.exists():
        _write_exclusive(key_path, generate_key_pair(f"eid-gateway {name}", kind=kind).key_pem, 0o600)
    if not cert_path.exists():
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        cert = self_signed(key, f"eid-gateway {name}")  # type: ignore[arg-type]
        _write_exclusive(cert_path, cert.public_bytes(serialization.Encoding.PEM), 0o644)
    return key_path, cert_path


def generate_keys(keys_dir: Path, *, kind: str = "rsa", stage: str = "active", roles: tuple[str, ...] = ROLES) -> None:
    """Create the missing keys of ``roles`` at ``stage`` and the secret seed.

    ``kind`` applies to the OIDC signing key only: ``oidc-signing-ec`` is always EC P-256, and the other
    keys are always RSA 3072, because assertions and request objects are encrypted to them with RSA-OAEP
    (DP 8.4, Swedish OIDC profile 7) and pysaml2 signs HTTP-Redirect requests with RSA only.
    """
    for role in roles:
        name = _file_name(role, stage, "")
        ensure_key_pair(keys_dir, name, kind=role_kind(role, kind))
    _write_exclusive(keys_dir / "secret.key", secrets.token_hex(32).encode(), 0o600)


def role_kind(role: str, oidc_signing_kind: str = "rsa") -> str:
    """The kind of key ``role`` holds: ``oidc_signing_kind`` for oidc-signing, EC or RSA for the others."""
    if role in EC_ROLES:
        return "ec"
    return oidc_signing_kind if role == "oidc-signing" else "rsa"


def load_keys(keys_dir: Path, configured_secret: bytes | None) -> KeySet:
    """Read every key file in ``keys_dir``; raise FileNotFoundError naming a missing one."""
    keys = []
    with keys_locked(keys_dir, exclusive=False):
        for role in ROLES:
            for stage in STAGES:
                key_path = keys_dir / _file_name(role, stage, ".pem")
                cert_path = keys_dir / _file_name(role, stage, ".crt")
                if not key_path.exists():
                    if stage == "active" and role not in OPTIONAL_ROLES:
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
