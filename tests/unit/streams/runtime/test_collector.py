"""The worker's collector thresholds (streams.runtime.collector)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from streams.runtime.collector import THRESHOLDS, tune_collector


@pytest.fixture
def restored_thresholds() -> Iterator[None]:
    before = gc.get_threshold()
    yield
    gc.set_threshold(*before)


@pytest.mark.usefixtures("restored_thresholds")
def test_a_batch_of_records_is_collected_young() -> None:
    tune_collector()
    assert gc.get_threshold() == THRESHOLDS
    # A fetch's worth of tracked objects (10,000 records) fits in the first generation.
    assert THRESHOLDS[0] > 10_000
