"""What `freeze_long_lived` promises: later collections skip what was alive, and a refreeze frees what died."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from gateway.heap import freeze_long_lived


class _Node:
    """Part of a reference cycle: only the cycle collector can free it."""

    def __init__(self) -> None:
        self.other: _Node | None = None


@pytest.fixture(autouse=True)
def _thawed() -> Iterator[None]:
    yield
    gc.unfreeze()


def _cycle() -> _Node:
    first, second = _Node(), _Node()
    first.other, second.other = second, first
    return first


def test_what_was_alive_is_left_out_of_later_collections_until_the_next_freeze() -> None:
    long_lived = _cycle()
    died = weakref.ref(long_lived)
    freeze_long_lived()
    assert gc.get_freeze_count() > 0
    del long_lived  # now garbage, but frozen
    gc.collect()
    assert died() is not None, "an ordinary collection does not look at frozen objects"
    freeze_long_lived()
    assert died() is None, "handed back to the collector, freed, and not frozen again"


def test_garbage_made_after_the_freeze_is_collected_as_usual() -> None:
    freeze_long_lived()
    died = weakref.ref(_cycle())
    gc.collect()
    assert died() is None
