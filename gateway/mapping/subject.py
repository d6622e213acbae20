"""The OIDC ``sub``: a keyed pseudonym of the identity, public or pairwise.

Responsibility: derive the subject identifier e-services see from
``Identity.subject_key`` (``pnr:...``, ``prid:...`` or ``nameid:...``).
OSPROF 3.2.1.1: ``sub`` MUST NOT be personal data such as a personnummer;
``public`` MUST and ``pairwise`` SHOULD be supported (OIDC Core 8).

Why a secret: a plain hash of a personnummer is no pseudonym. There are at most
about 10^9 candidates (nine free digits after the century, the tenth being the
check digit, and far fewer once dates must be real), so anyone holding a
``sub`` could hash them all in minutes and read the number back. HMAC-SHA256 under a secret
the gateway keeps makes that search impossible without the key. The secret
must therefore never change casually: a new secret gives every citizen a new
``sub`` at every e-service.

Why the sector: pairwise subjects (OIDC Core 8.1) keep two e-services from
joining their users on ``sub``; the sector identifier (the host of the
redirect URIs or of ``sector_identifier_uri``) is mixed into the MAC, and a
NUL byte separates it from the key so no two (sector, key) pairs share input.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Final

PUBLIC_SECTOR: Final = "public"
"""The fixed sector of public subjects; refused as a pairwise sector so the two cannot coincide."""

MIN_SECRET_BYTES: Final = 32
"""RFC 2104 section 3: a key shorter than the hash output (32 bytes) weakens HMAC."""


def pairwise_subject(secret: bytes, sector_identifier: str, subject_key: str) -> str:
    """``base64url(HMAC-SHA256(secret, sector || 0x00 || subject_key))`` without padding.

    Stable for one (secret, sector, subject key), different across sectors.
    """
    if sector_identifier == PUBLIC_SECTOR:
        raise ValueError("the sector identifier 'public' is reserved for public subjects")
    return _derive(secret, sector_identifier, subject_key)


def public_subject(secret: bytes, subject_key: str) -> str:
    """The same derivation with the fixed sector ``"public"``: one ``sub`` for every e-service."""
    return _derive(secret, PUBLIC_SECTOR, subject_key)


def _derive(secret: bytes, sector: str, subject_key: str) -> str:
    if len(secret) < MIN_SECRET_BYTES:
        raise ValueError(f"the subject secret must be at least {MIN_SECRET_BYTES} bytes")
    if not sector or "\x00" in sector:
        raise ValueError("the sector identifier must be non-empty and contain no NUL")
    if not subject_key:
        raise ValueError("the subject key must be non-empty")
    message = sector.encode("utf-8") + b"\x00" + subject_key.encode("utf-8")
    digest = hmac.new(secret, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
