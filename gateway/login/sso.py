"""The citizen's SSO session at the gateway: when a new login may skip the e-ID provider.

A session fits a new authorization request only when the client did not ask
for a fresh login (`prompt=login`, OIDC Core 3.1.2.1), `max_age` is not
exceeded, and the session's level of assurance is one the client accepts. It
expires after an idle period and, at the latest, an absolute lifetime
(Sweden Connect caps SSO at 60 minutes, TAR 2.2). It lists the e-services it
logged in to, for logout.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import replace

from gateway.oidc.records import AuthenticatedUser
from gateway.settings.schema import Lifetimes
from gateway.store import keys as store_keys
from gateway.store.records import RecordStore


@dataclass(frozen=True, slots=True)
class SsoSession:
    """One citizen's session at the gateway."""

    sid: str
    user: AuthenticatedUser
    provider_id: str
    loa: str
    created_at: int
    clients: tuple[str, ...] = ()


def find(records: RecordStore, sid: str | None) -> SsoSession | None:
    """The live session named by the session cookie, or None."""
    if not sid:
        return None
    return records.get(store_keys.session(sid), SsoSession)


def fits(
    session: SsoSession,
    *,
    prompt: Sequence[str],
    max_age: int | None,
    acceptable_loas: Sequence[str],
    now: float,
    same_client: str | None = None,
) -> bool:
    """Whether ``session`` may answer a new authorization request without the provider.

    ``same_client`` restricts SSO to a session that already logged that client
    in: Sweden Connect mode, where a session of another e-service does not count
    (SCOIDC 2.2.1).
    """
    if "login" in prompt:
        return False
    if max_age is not None and now - session.user.auth_time > max_age:
        return False
    if same_client is not None and same_client not in session.clients:
        return False
    return session.loa in acceptable_loas


def save(records: RecordStore, session: SsoSession, lifetimes: Lifetimes, *, now: float) -> None:
    """Store or extend the session: idle timeout, never beyond the absolute lifetime."""
    remaining = session.created_at + lifetimes.session_absolute - now
    ttl = min(lifetimes.session_idle, remaining)
    if ttl > 0:
        records.put(store_keys.session(session.sid), session, ttl)


def end(records: RecordStore, sid: str) -> SsoSession | None:
    """Remove the session and return what it was (None: already gone); of two racing logouts one gets it."""
    return records.take(store_keys.session(sid), SsoSession)


def with_client(session: SsoSession, client_id: str) -> SsoSession:
    """The session, recording that it logged ``client_id`` in."""
    if client_id in session.clients:
        return session
    return replace(session, clients=(*session.clients, client_id))


def now() -> float:
    """The clock sessions are measured with."""
    return time.time()
