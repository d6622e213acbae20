"""In-process implementation of the store contract, for a single-process development run.

It lets ``eid-gateway serve`` work with no Redis at all. It is correct only
inside one process: a second gunicorn worker has its own dictionary, so a
login started in one worker could not be finished in another, a code could be
redeemed once per worker, and a replay guard would hold once per worker. That
is why production refuses it (design: Configuration) and why nothing here
tries to be shared.

Atomicity comes from one lock around every operation. Expiry is checked on
every read (so an expired value is never returned) and a sweep at most every
few seconds drops expired entries, so abandoned logins do not pile up.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from collections.abc import Sequence

_SWEEP_INTERVAL = 5.0


class MemoryStore:
    """A dict of ``key -> (value, expires_at)`` behind a lock; see the module docstring for limits."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        # A monotonic clock, so a wall-clock step never revives or kills entries.
        self._clock = clock
        self._lock = threading.Lock()
        self._data: dict[str, tuple[bytes, float]] = {}
        self._next_sweep = clock() + _SWEEP_INTERVAL

    def put(self, key: str, value: bytes, ttl: float) -> None:
        """Set ``key`` to ``value`` for ``ttl`` seconds, replacing any value."""
        expires = self._expiry(ttl)
        with self._lock:
            self._sweep_if_due()
            self._data[key] = (bytes(value), expires)

    def put_many(self, items: Sequence[tuple[str, bytes, float]], delete: Sequence[str] = ()) -> None:
        """`put` each ``(key, value, ttl)`` in order, then delete ``delete``; TTLs are checked before any write."""
        entries = [(key, bytes(value), self._expiry(ttl)) for key, value, ttl in items]
        with self._lock:
            self._sweep_if_due()
            for key, value, expires in entries:
                self._data[key] = (value, expires)
            for key in delete:
                self._data.pop(key, None)

    def get(self, key: str) -> bytes | None:
        """Return the value, or None when absent or expired."""
        with self._lock:
            entry = self._live(key)
            return None if entry is None else entry[0]

    def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        """`get` each key; the values in the order of ``keys``."""
        return [self.get(key) for key in keys]

    def take(self, key: str) -> bytes | None:
        """Atomically return and delete the value: at most one caller ever gets it."""
        with self._lock:
            entry = self._live(key)
            if entry is None:
                return None
            del self._data[key]
            return entry[0]

    def add_if_absent(self, key: str, value: bytes, ttl: float) -> bool:
        """Set ``key`` only if it does not exist; True when this call set it."""
        expires = self._expiry(ttl)
        with self._lock:
            self._sweep_if_due()
            if self._live(key) is not None:
                return False
            self._data[key] = (bytes(value), expires)
            return True

    def incr(self, key: str, ttl: float) -> int:
        """Increment a counter, starting its TTL on the first increment; return the new count.

        The count is stored as decimal bytes, as Redis does, so `get` reads the
        same value from either store.
        """
        expires = self._expiry(ttl)
        with self._lock:
            self._sweep_if_due()
            entry = self._live(key)
            if entry is None:
                count = 1
            else:
                count = int(entry[0]) + 1
                expires = entry[1]
            self._data[key] = (str(count).encode("ascii"), expires)
            return count

    def incr_and_get(self, key: str, ttl: float, other: str) -> tuple[int, bytes | None]:
        """`incr` ``key``, then `get` ``other`` (no round trip to save in process)."""
        return self.incr(key, ttl), self.get(other)

    def delete(self, *keys: str) -> None:
        """Remove keys; absent keys are ignored."""
        with self._lock:
            for key in keys:
                self._data.pop(key, None)

    def ping(self) -> bool:
        """Always True: the store lives in this process, so it answers whenever the process does."""
        return True

    def _expiry(self, ttl: float) -> float:
        """Turn a TTL into a deadline, refusing TTLs Redis would refuse, so both stores agree."""
        if not (math.isfinite(ttl) and ttl > 0):
            raise ValueError("ttl must be a positive, finite number of seconds")
        return self._clock() + ttl

    def _live(self, key: str) -> tuple[bytes, float] | None:
        """Return the entry if present and unexpired, dropping it when expired. Caller holds the lock."""
        entry = self._data.get(key)
        if entry is None:
            return None
        if entry[1] <= self._clock():
            del self._data[key]
            return None
        return entry

    def _sweep_if_due(self) -> None:
        """Drop expired entries at most once per interval, so writes stay cheap. Caller holds the lock."""
        now = self._clock()
        if now < self._next_sweep:
            return
        self._next_sweep = now + _SWEEP_INTERVAL
        expired = [key for key, (_, expires) in self._data.items() if expires <= now]
        for key in expired:
            del self._data[key]
