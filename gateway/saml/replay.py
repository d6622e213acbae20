"""Assertion replay guard (DP 6.3.5): each assertion is consumed at most once.

pysaml2 keeps no replay cache. The guard lives in the shared store with
`add_if_absent`, so a replay is refused whichever worker or host it reaches,
and it is kept until the assertion could no longer be accepted anyway.
"""

from __future__ import annotations

import time

from gateway.errors import UpstreamError
from gateway.store import keys
from gateway.store.base import Store


class ReplayGuard:
    """Refuses the second use of an (issuer, assertion ID) pair."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def register(self, issuer: str, assertion_id: str, *, until: float) -> None:
        """Record the assertion as used until ``until`` (epoch seconds); refuse a repeat."""
        ttl = max(1.0, until - time.time())
        if not self.store.add_if_absent(keys.replay(issuer, assertion_id), b"1", ttl):
            raise UpstreamError("replayed", "assertion already used", oidc_error="access_denied")
