"""Start-up objects leave the collector's scans; collections are spaced out."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from bot.ops.memory import THRESHOLDS, settle_after_start


class Node:
    other: object = None


@pytest.fixture
def restored_collector() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


@pytest.mark.usefixtures("restored_collector")
def test_start_up_objects_are_frozen_and_garbage_collected_first() -> None:
    kept = [Node() for _ in range(1000)]
    cycle = Node()
    cycle.other = cycle  # garbage that only a collection finds
    gone = weakref.ref(cycle)
    del cycle
    gc.unfreeze()

    settle_after_start()

    assert gone() is None  # collected first, not frozen for ever
    assert gc.get_freeze_count() >= len(kept)
    assert gc.get_threshold() == THRESHOLDS
