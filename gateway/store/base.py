"""The one contract every piece of shared state goes through.

Every operation is atomic and named by intent (`take`, `add_if_absent`), so no
caller ever writes get-then-delete or check-then-set. Values are bytes; callers
encode their value objects with `gateway.store.codec`. Every key has a TTL: the
store never holds state forever. Implementations raise `StoreUnavailable` when
the backend cannot be reached, never a library exception.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol


class Store(Protocol):
    """Shared, expiring key-value state for every gateway process."""

    def put(self, key: str, value: bytes, ttl: float) -> None:
        """Set ``key`` to ``value`` for ``ttl`` seconds, replacing any value."""

    def put_many(self, items: Sequence[tuple[str, bytes, float]], delete: Sequence[str] = ()) -> None:
        """`put` each ``(key, value, ttl)``, in order, then delete the keys in ``delete``, in one round trip.

        The writes are as independent as separate calls: if the backend fails
        part way, some may have been made (so callers never rely on all or none).
        """

    def get(self, key: str) -> bytes | None:
        """Return the value, or None when absent or expired."""

    def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        """`get` each key, in one round trip; the values in the order of ``keys``."""

    def take(self, key: str) -> bytes | None:
        """Atomically return and delete the value: at most one caller ever gets it."""

    def add_if_absent(self, key: str, value: bytes, ttl: float) -> bool:
        """Set ``key`` only if it does not exist; True when this call set it."""

    def incr(self, key: str, ttl: float) -> int:
        """Increment a counter, starting its TTL on the first increment; return the new count."""

    def incr_and_get(self, key: str, ttl: float, other: str) -> tuple[int, bytes | None]:
        """`incr` ``key`` and `get` ``other``, in one round trip; the new count and the value read."""

    def delete(self, *keys: str) -> None:
        """Remove keys; absent keys are ignored."""

    def ping(self) -> bool:
        """True when the backend answers (readiness)."""
