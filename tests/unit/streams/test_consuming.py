"""Offsets applied in sequence (``streams.consuming.in_sequence``), shared by every consumer."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy.exc import OperationalError

from store.engine import describe_error
from streams.consuming import in_sequence, retrying
from streams.health import Health
from streams.logs import record_fields
from streams.metrics import Metrics


@dataclass
class Record:
    offset: int


def offsets(records: list[Record]) -> list[int]:
    return [r.offset for r in records]


def test_a_fresh_partition_takes_what_comes() -> None:
    records, rewind = in_sequence([Record(5), Record(6)], None, None)
    assert (offsets(records), rewind) == ([5, 6], False)


def test_repeated_offsets_are_dropped() -> None:
    records, rewind = in_sequence([Record(3), Record(4), Record(5)], 4, None)
    assert (offsets(records), rewind) == ([4, 5], False)


def test_a_gap_is_refetched_once_then_accepted() -> None:
    assert in_sequence([Record(7), Record(8)], 5, None) == ([], True)
    assert in_sequence([Record(7), Record(8)], 5, 3) == ([], True)
    records, rewind = in_sequence([Record(7), Record(8)], 5, 5)  # seen again after a rewind
    assert (offsets(records), rewind) == ([7, 8], False)


class FailingWrite:
    """A write that fails ``failures`` times with what a driver raises, then lands."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls = 0

    def __call__(self) -> None:
        self.calls += 1
        if self.calls <= self.failures:
            raise OperationalError(
                "INSERT INTO ingest_checkpoints VALUES (%(state)s)", {"state": "BLOB" * 100},
                RuntimeError('connection to "postgresql://app:hunter2@db:5432/drift" failed: '
                             "password=hunter2 rejected\nDETAIL: second line"))


@pytest.mark.asyncio
async def test_a_store_retry_logs_one_masked_line_and_the_recovery(
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="streams.consuming")
    metrics = Metrics(CollectorRegistry())
    health = Health(stall_timeout=60, store_failure_timeout=60)
    write = FailingWrite(failures=1)
    await retrying(write, metrics, "windows", health)
    assert write.calls == 2
    retry, recovered = caplog.records
    assert retry.levelno == logging.WARNING
    assert retry.getMessage() == (
        "storing windows failed (attempt 1, failing for 0 s): RuntimeError: connection to "
        '"postgresql://app:***@db:5432/drift" failed: password=*** rejected; retrying in 0.5 s')
    assert record_fields(retry) == {
        "event": "store_retry", "what": "windows", "attempt": 1, "failing_seconds": 0.0,
        "error": 'RuntimeError: connection to "postgresql://app:***@db:5432/drift" failed: '
                 "password=*** rejected", "retry_in": 0.5}
    assert recovered.getMessage().startswith("storing windows succeeded after 2 attempts")
    assert record_fields(recovered)["event"] == "store_recovered"
    assert "hunter2" not in caplog.text
    assert "BLOB" not in caplog.text  # the statement's parameters stay out
    assert health.live()[1]["stores_failing"] == {}  # cleared by the write that landed
    assert metrics.store_errors._value.get() == 1


def test_describe_error_masks_and_cuts() -> None:
    long = RuntimeError("postgresql://u:pw@h/db " + "x" * 500)
    text = describe_error(long, limit=60)
    assert text.startswith("RuntimeError: postgresql://u:***@h/db xxx")
    assert len(text) == 60
    assert text.endswith("...")
    assert describe_error(ValueError()) == "ValueError"
