"""Rolling the gateway's own keys over without downtime: next, active, previous (DP 2.1.1.2; OIDC Core 10.1.1).

One role at a time (``oidc-signing``, ``saml-signing``, ``saml-encryption``, ``oidc-encryption``) moves
through three steps, each a command an operator runs (`eid-gateway keys rollover|activate|retire`):

1. ``rollover``: a new key is created as ``next``. It is published at once (JWKS, SP metadata) but
   signs nothing, so e-services and providers learn it before they meet it.
2. ``activate``: after ``publish_before_activate`` seconds, ``next`` becomes ``active`` and the old
   active key becomes ``previous``: still published, so tokens and requests it signed still verify,
   and still used to decrypt, so assertions encrypted to it by a provider that has not refreshed
   the SP metadata still open.
3. ``retire``: after ``grace_period`` seconds, ``previous`` is deleted.

Each step renames files under the keys directory's exclusive lock (`keystore.keys_locked`), so a
process reading keys sees the directory before or after the step. The step's time is written as the
key file's modification time, which `status` reports as "in stage since". Running workers notice the
change themselves (`gateway.trust.runtime`); nothing needs a restart.
"""

from __future__ import annotations

import datetime
import os
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric import rsa

from gateway.trust.keystore import ROLES
from gateway.trust.keystore import STAGES
from gateway.trust.keystore import KeySet
from gateway.trust.keystore import StoredKey
from gateway.trust.keystore import ensure_key_pair
from gateway.trust.keystore import key_file
from gateway.trust.keystore import keys_locked
from gateway.trust.keystore import load_keys
from gateway.trust.keystore import role_kind


class RolloverRefused(Exception):
    """The step would break something or is too early; the message says what to do instead."""


@dataclass(frozen=True, slots=True)
class KeyStatus:
    """One key as `eid-gateway keys status` shows it."""

    role: str
    stage: str
    kid: str
    algorithm: str
    created: float
    since: float
    not_after: float

    def age(self, now: float) -> float:
        """Seconds since the key was made (its certificate's start of validity)."""
        return now - self.created


def _cert_path(keys_dir: Path, role: str, stage: str) -> Path:
    return key_file(keys_dir, role, stage).with_suffix(".crt")


def _describe(stored: StoredKey) -> KeyStatus:
    cert = x509.load_pem_x509_certificate(stored.cert_pem)
    public = cert.public_key()
    if isinstance(public, rsa.RSAPublicKey):
        algorithm = f"RSA {public.key_size}"
    elif isinstance(public, ec.EllipticCurvePublicKey):
        algorithm = f"EC {public.curve.name}"
    else:  # pragma: no cover - the gateway makes RSA and EC keys only
        algorithm = type(public).__name__
    return KeyStatus(
        role=stored.role,
        stage=stored.stage,
        kid=stored.kid,
        algorithm=algorithm,
        created=cert.not_valid_before_utc.timestamp(),
        since=stored.key_path.stat().st_mtime,
        not_after=cert.not_valid_after_utc.timestamp(),
    )


def describe_keys(keys: KeySet) -> list[KeyStatus]:
    """Role, stage, age and validity of each key in ``keys``; a key whose file has gone is left out."""
    statuses = []
    for stored in keys.keys:
        try:
            statuses.append(_describe(stored))
        except OSError:
            continue
    return statuses


def key_status(keys_dir: Path) -> list[KeyStatus]:
    """Every key in ``keys_dir`` by role, in rollover order."""
    return describe_keys(load_keys(keys_dir, b"-"))


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise RolloverRefused(f"unknown role {role!r}: use one of {', '.join(ROLES)}")


def rollover(keys_dir: Path, role: str, *, kind: str = "rsa") -> KeyStatus:
    """Create the ``next`` key of ``role`` (published from now on, not yet used)."""
    _check_role(role)
    if kind != "rsa" and role != "oidc-signing":
        raise RolloverRefused("--kind is for oidc-signing: oidc-signing-ec is always EC, the other keys RSA")
    with keys_locked(keys_dir, exclusive=True):
        if key_file(keys_dir, role, "next").exists():
            raise RolloverRefused(f"{role} already has a next key: activate it first")
        name = key_file(keys_dir, role, "next").stem
        ensure_key_pair(keys_dir, name, kind=role_kind(role, kind))
    return next(s for s in key_status(keys_dir) if s.role == role and s.stage == "next")


def activate(keys_dir: Path, role: str, *, wait: float, force: bool = False, now: float | None = None) -> KeyStatus:
    """Make ``next`` the active key and the active one ``previous``.

    Refused while a previous key still exists (retire it first: only one old key is kept) and,
    unless ``force``, before ``next`` has been published for ``wait`` seconds.
    """
    _check_role(role)
    now = time.time() if now is None else now
    with keys_locked(keys_dir, exclusive=True):
        nxt, active, previous = (key_file(keys_dir, role, stage) for stage in STAGES)
        if not active.exists():
            raise RolloverRefused(f"{role} has no active key yet: `eid-gateway keys generate --dir` adds it")
        if not nxt.exists() or not _cert_path(keys_dir, role, "next").exists():
            raise RolloverRefused(f"{role} has no next key: run `eid-gateway keys rollover --role {role}` first")
        if previous.exists():
            raise RolloverRefused(f"{role} still has a previous key: run `eid-gateway keys retire --role {role}`")
        published_for = now - nxt.stat().st_mtime
        if not force and published_for < wait:
            raise RolloverRefused(
                f"{role}'s next key has been published for {_span(published_for)}; wait until {_span(wait)} "
                "have passed (so every peer has fetched it), or pass --force"
            )
        # Link before replacing: at every moment each stage's file exists and holds a whole key.
        os.link(_cert_path(keys_dir, role, "active"), _cert_path(keys_dir, role, "previous"))
        os.link(active, previous)
        os.replace(_cert_path(keys_dir, role, "next"), _cert_path(keys_dir, role, "active"))
        os.replace(nxt, active)
        os.utime(active, (now, now))
        os.utime(previous, (now, now))
    return next(s for s in key_status(keys_dir) if s.role == role and s.stage == "active")


def retire(keys_dir: Path, role: str, *, grace: float, force: bool = False, now: float | None = None) -> str:
    """Delete the ``previous`` key of ``role``; unless ``force``, only once ``grace`` seconds have passed."""
    _check_role(role)
    now = time.time() if now is None else now
    with keys_locked(keys_dir, exclusive=True):
        previous = key_file(keys_dir, role, "previous")
        if not previous.exists():
            raise RolloverRefused(f"{role} has no previous key to retire")
        kid = next(k.kid for k in load_keys_unlocked(keys_dir) if k.role == role and k.stage == "previous")
        retired_for = now - previous.stat().st_mtime
        if not force and retired_for < grace:
            raise RolloverRefused(
                f"{role}'s previous key was replaced {_span(retired_for)} ago; the grace period is {_span(grace)} "
                "(peers may still use it), or pass --force"
            )
        previous.unlink()
        _cert_path(keys_dir, role, "previous").unlink(missing_ok=True)
    return kid


def load_keys_unlocked(keys_dir: Path) -> tuple[StoredKey, ...]:
    """The stored keys, for a caller that already holds the exclusive lock (flock is per open file)."""
    keys = []
    for role in ROLES:
        for stage in STAGES:
            path = key_file(keys_dir, role, stage)
            if path.exists():
                cert = _cert_path(keys_dir, role, stage)
                keys.append(StoredKey(role, stage, path, cert, path.read_bytes(), cert.read_bytes()))
    return tuple(keys)


def _span(seconds: float) -> str:
    seconds = max(int(seconds), 0)
    if seconds >= 86400:
        return f"{seconds / 86400:.1f} days"
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} hours"
    return f"{seconds} seconds"


def iso(moment: float) -> str:
    """A POSIX time as ISO 8601 UTC, for status output."""
    return datetime.datetime.fromtimestamp(moment, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
