"""Sealed records: a batch holds its puts back and writes them in one round trip, or not at all."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

import pytest

from gateway.store.memory_store import MemoryStore
from gateway.store.records import RecordStore
from gateway.store.sealed import Sealer


@dataclass(frozen=True, slots=True)
class Note:
    text: str


class CountingStore(MemoryStore):
    """The in-process store, counting round trips."""

    def __init__(self) -> None:
        super().__init__()
        self.puts = 0
        self.put_manys: list[int] = []
        self.deletes = 0

    def put(self, key: str, value: bytes, ttl: float) -> None:
        self.puts += 1
        super().put(key, value, ttl)

    def put_many(self, items: Sequence[tuple[str, bytes, float]], delete: Sequence[str] = ()) -> None:
        self.put_manys.append(len(items) + len(delete))
        super().put_many(items, delete)

    def delete(self, *keys: str) -> None:
        self.deletes += 1
        super().delete(*keys)


@pytest.fixture
def store() -> CountingStore:
    return CountingStore()


@pytest.fixture
def records(store: CountingStore) -> RecordStore:
    return RecordStore(store, Sealer({"k1": os.urandom(32)}, active="k1"))


def test_put_outside_a_batch_writes_at_once(records: RecordStore, store: CountingStore) -> None:
    records.put("tx:{a}", Note("a"), 10)
    assert store.puts == 1
    assert records.get("tx:{a}", Note) == Note("a")


def test_batch_writes_its_puts_in_one_round_trip_at_the_end(records: RecordStore, store: CountingStore) -> None:
    with records.batch():
        records.put("tx:{a}", Note("a"), 10)
        records.put("sess:{b}", Note("b"), 10)
        assert records.get("tx:{a}", Note) is None
    assert (store.puts, store.put_manys) == (0, [2])
    assert records.get("tx:{a}", Note) == Note("a")
    assert records.get("sess:{b}", Note) == Note("b")


def test_a_delete_in_a_batch_joins_its_round_trip(records: RecordStore, store: CountingStore) -> None:
    records.put("lock:{a}", Note("claim"), 10)
    with records.batch():
        records.put("code:{b}", Note("b"), 10)
        records.delete("lock:{a}")
        assert records.get("lock:{a}", Note) == Note("claim"), "held until the batch ends"
    assert (store.deletes, store.put_manys) == (0, [2])
    assert records.get("lock:{a}", Note) is None
    assert records.get("code:{b}", Note) == Note("b")


def test_a_delete_outside_a_batch_happens_at_once(records: RecordStore, store: CountingStore) -> None:
    records.put("lock:{a}", Note("claim"), 10)
    records.delete("lock:{a}")
    assert store.deletes == 1
    assert records.get("lock:{a}", Note) is None


def _failing_step(records: RecordStore) -> None:
    with records.batch():
        records.put("tx:{a}", Note("a"), 10)
        raise RuntimeError("step failed")


def test_a_batch_that_raises_writes_nothing(records: RecordStore, store: CountingStore) -> None:
    with pytest.raises(RuntimeError, match="step failed"):
        _failing_step(records)
    assert store.put_manys == []
    assert records.get("tx:{a}", Note) is None


def test_a_nested_batch_joins_the_outer_one(records: RecordStore, store: CountingStore) -> None:
    with records.batch():
        records.put("tx:{a}", Note("a"), 10)
        with records.batch():
            records.put("tx:{b}", Note("b"), 10)
        assert records.get("tx:{b}", Note) is None
    assert store.put_manys == [2]


def test_batched_records_are_sealed_to_their_keys(records: RecordStore, store: CountingStore) -> None:
    with records.batch():
        records.put("tx:{a}", Note("personal"), 10)
    raw = store.get("tx:{a}")
    assert raw is not None
    assert b"personal" not in raw
    store.put("tx:{b}", raw, 10)
    assert records.get("tx:{b}", Note) is None
