"""The serving process's garbage-collection settings (app/gc_tuning.py)."""

import gc
from collections.abc import Iterator

import pytest

from app.config import Settings
from app.gc_tuning import tune_gc


@pytest.fixture
def restore_gc() -> Iterator[None]:
    threshold = gc.get_threshold()
    yield
    gc.set_threshold(*threshold)
    gc.unfreeze()


def test_start_up_objects_are_frozen_and_the_first_generation_is_larger(restore_gc: None) -> None:
    before = gc.get_freeze_count()
    alive = [object() for _ in range(10)] + [[] for _ in range(1000)]
    tune_gc(Settings(gc_freeze=True, gc_gen0_threshold=12_345))
    assert gc.get_freeze_count() >= before + 1000
    assert gc.get_threshold()[0] == 12_345
    assert alive


def test_both_can_be_turned_off(restore_gc: None) -> None:
    gc.set_threshold(700, 10, 10)
    before = gc.get_freeze_count()
    tune_gc(Settings(gc_freeze=False, gc_gen0_threshold=0))
    assert gc.get_freeze_count() == before
    assert gc.get_threshold() == (700, 10, 10)
