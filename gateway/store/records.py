"""Value objects in the store, sealed: the one way state with personal data is kept.

Every record is encoded with `codec` and sealed with AES-GCM bound to its key
(the key is the associated data), so a copy of Redis reveals nothing and a
value moved to another key does not open. A record that does not open or
decode is treated as absent: the caller then fails closed.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
from collections.abc import Iterator
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from typing import TypeVar

from gateway.store import codec
from gateway.store.base import Store
from gateway.store.sealed import Sealer
from gateway.store.sealed import SealError

_T = TypeVar("_T")
log = logging.getLogger(__name__)


@dataclass(slots=True)
class _Held:
    """The writes of one `RecordStore.batch`, made when it ends."""

    puts: list[tuple[str, bytes, float]] = field(default_factory=list)
    deletes: list[str] = field(default_factory=list)


class RecordStore:
    """Sealed, typed records over a `Store`."""

    def __init__(self, store: Store, sealer: Sealer) -> None:
        self.store = store
        self.sealer = sealer
        self._held: contextvars.ContextVar[_Held | None] = contextvars.ContextVar(
            f"held writes of {id(self):x}", default=None
        )

    def put(self, key: str, record: object, ttl: float) -> None:
        """Seal and store ``record`` under ``key`` for ``ttl`` seconds (at the end of a `batch`, if in one)."""
        sealed = self.sealer.seal(codec.encode(record), key.encode())
        held = self._held.get()
        if held is not None:
            held.puts.append((key, sealed, ttl))
            return
        self.store.put(key, sealed, ttl)

    def delete(self, *keys: str) -> None:
        """Remove ``keys`` (at the end of a `batch`, after its puts, if in one)."""
        held = self._held.get()
        if held is not None:
            held.deletes.extend(keys)
            return
        self.store.delete(*keys)

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """Hold back the puts and deletes made in the block and make them together, in one round trip, when it ends.

        A step that writes several records (an SSO session and its
        transaction, a code and the session) then costs one round trip to the
        store instead of one per record. A block that raises writes nothing,
        so a failed step leaves no half-made state behind. Reads in the block
        do not see its held writes: use it only where nothing is read back.
        A block inside another joins the outer one. Held writes belong to the
        thread (context) that made them.
        """
        if self._held.get() is not None:
            yield
            return
        held = _Held()
        token = self._held.set(held)
        try:
            yield
        finally:
            self._held.reset(token)
        if held.puts or held.deletes:
            self.store.put_many(held.puts, delete=held.deletes)

    def add_if_absent(self, key: str, record: object, ttl: float) -> bool:
        """Store ``record`` only when ``key`` is free."""
        return self.store.add_if_absent(key, self.sealer.seal(codec.encode(record), key.encode()), ttl)

    def get(self, key: str, cls: type[_T]) -> _T | None:
        """The record under ``key``, or None when absent or unreadable."""
        return self._open(key, cls, self.store.get(key))

    def get_with_markers(self, key: str, cls: type[_T], markers: Sequence[str]) -> tuple[_T | None, list[bool]]:
        """The record under ``key`` and whether each of the plain keys ``markers`` exists, in one round trip.

        Markers hold no data, only their presence counts (a revocation, say), so they are not sealed.
        """
        data, *flags = self.store.get_many([key, *markers])
        return self._open(key, cls, data), [flag is not None for flag in flags]

    def take(self, key: str, cls: type[_T]) -> _T | None:
        """Atomically remove and return the record: only one caller ever gets it."""
        return self._open(key, cls, self.store.take(key))

    def _open(self, key: str, cls: type[_T], data: bytes | None) -> _T | None:
        if data is None:
            return None
        try:
            return codec.decode(cls, self.sealer.open(data, key.encode()))
        except (SealError, codec.CodecError):
            log.warning("store record unreadable", extra={"record": cls.__name__})
            return None
