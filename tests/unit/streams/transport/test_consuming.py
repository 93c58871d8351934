"""Offsets applied in sequence (``streams.transport.consuming.in_sequence``), shared by every
consumer."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

import pytest
from aiokafka import TopicPartition
from aiokafka.errors import KafkaConnectionError
from prometheus_client import CollectorRegistry
from sqlalchemy.exc import OperationalError

from store.engine import describe_error
from streams.runtime.health import Health
from streams.runtime.logs import record_fields
from streams.runtime.metrics import Metrics
from streams.transport.consuming import (
    RETRY_LINES,
    RETRY_LOG_INTERVAL,
    RetryLines,
    broker_problem,
    in_sequence,
    restarted_from,
    retrying,
    start_retrying,
)


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
    caplog.set_level(logging.INFO, logger="streams.transport.consuming")
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
                 "password=*** rejected", "retry_in": 0.5, "unlogged": 0}
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


class Watermarks:
    """What ``restarted_from`` asks of a consumer: the last fetch's high watermark, and
    the log's beginning (asked only once a restart is seen)."""

    def __init__(self, high: int | None, beginning: int = 0) -> None:
        self.high, self.beginning, self.asked = high, beginning, 0

    def highwater(self, tp: TopicPartition) -> int | None:
        return self.high

    async def beginning_offsets(self, tps: list[TopicPartition]) -> dict[TopicPartition, int]:
        self.asked += 1
        return dict.fromkeys(tps, self.beginning)


TP = TopicPartition("driftline.predictions", 3)


def resets(metrics: Metrics) -> float | None:
    return metrics.registry.get_sample_value("driftline_offset_resets_total",
                                             {"topic": TP.topic})


@pytest.mark.asyncio
async def test_a_long_healthy_stream_never_looks_restarted() -> None:
    metrics = Metrics(CollectorRegistry())
    consumer = Watermarks(high=None)
    next_offset = 0
    for fetch in range(2_000):  # batches, repeats around rebalances, empty fetches
        records = [Record(o) for o in range(next_offset - 5 * (fetch % 3 == 0),
                                            next_offset + fetch % 50)]
        consumer.high = next_offset + fetch % 50 + fetch % 7  # at or past what was fetched
        assert await restarted_from(consumer, TP, records, next_offset, metrics) is None
        next_offset += fetch % 50
    assert (consumer.asked, resets(metrics)) == (0, None)


@pytest.mark.asyncio
async def test_a_log_that_ends_below_the_checkpoint_is_read_again_from_its_beginning(
        caplog: pytest.LogCaptureFixture) -> None:
    metrics = Metrics(CollectorRegistry())
    emptied = Watermarks(high=20_000, beginning=0)  # 20,000 new events, checkpoint at 140,000
    assert await restarted_from(emptied, TP, [], 140_000, metrics) == 0
    reset_to_earliest = Watermarks(high=20_000, beginning=0)  # Kafka's own reset: records at 0
    records = [Record(o) for o in range(500)]
    assert await restarted_from(reset_to_earliest, TP, records, 140_000, metrics) == 0
    assert resets(metrics) == 2
    assert "partition 3 of driftline.predictions restarted" in caplog.text


@pytest.mark.asyncio
async def test_records_past_the_checkpoint_prove_the_log_did_not_restart() -> None:
    metrics = Metrics(CollectorRegistry())
    stale = Watermarks(high=100)  # a high watermark older than the records just fetched
    records = [Record(o) for o in range(150, 210)]
    assert await restarted_from(stale, TP, records, 150, metrics) is None
    assert await restarted_from(stale, TP, [], None, metrics) is None  # no checkpoint yet
    assert (stale.asked, resets(metrics)) == (0, None)


class Unreachable:
    """A Kafka client whose broker answers only from the ``fails + 1``-th start on."""

    def __init__(self, fails: int) -> None:
        self.fails, self.starts = fails, 0

    async def start(self) -> None:
        self.starts += 1
        if self.starts <= self.fails:
            raise KafkaConnectionError("Unable to bootstrap from [('127.0.0.1', 9, 2)]")


@pytest.mark.asyncio
async def test_a_client_started_during_a_broker_outage_waits_for_the_broker(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr("streams.transport.consuming.START_BACKOFF", (0.001, 0.004))
    client = Unreachable(fails=5)
    await start_retrying(client, "ingest consumer")
    assert client.starts == 6
    lines = [r.getMessage() for r in caplog.records if r.name == "streams.transport.consuming"]
    assert len(lines) == 5
    assert all(line.startswith("ingest consumer: broker unreachable") for line in lines)


@pytest.mark.asyncio
async def test_other_start_errors_are_not_retried() -> None:
    class Refused(Unreachable):
        async def start(self) -> None:
            self.starts += 1
            raise ValueError("bad option")

    client = Refused(fails=0)
    with pytest.raises(ValueError, match="bad option"):
        await start_retrying(client, "ingest producer")
    assert client.starts == 1


def test_retry_lines_every_attempt_at_first_then_one_per_interval() -> None:
    clock = Clock()
    lines = RetryLines(clock)
    logged = []
    for attempt in range(1, 200):  # a 10-minute outage, one attempt every 4 s at most
        clock.now = 100.0 + min(attempt, 10) * 0.5 + max(attempt - 10, 0) * 4
        if lines.due(attempt):
            logged.append(attempt)
            lines.unlogged = 0
    assert logged[:RETRY_LINES] == list(range(1, RETRY_LINES + 1))
    gaps = [b - a for a, b in zip(logged[RETRY_LINES:], logged[RETRY_LINES + 1:], strict=False)]
    assert gaps
    assert all(gap * 4 >= RETRY_LOG_INTERVAL for gap in gaps)
    assert len(logged) < RETRY_LINES + 200 * 4 / RETRY_LOG_INTERVAL + 2


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.asyncio
async def test_a_long_outage_logs_few_retry_lines_with_the_attempt_count(
        caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock()

    async def sleep(seconds: float) -> None:
        clock.now += seconds

    monkeypatch.setattr("streams.transport.consuming.asyncio.sleep", sleep)
    caplog.set_level(logging.INFO, logger="streams.transport.consuming")
    health = Health(stall_timeout=1e9, store_failure_timeout=1e9, clock=clock)
    health.assigned([0])
    write = FailingWrite(failures=150)  # 150 attempts: about 10 minutes at 4 s apart
    states = []
    original = health.store_failed

    def failed(what: str, transient: str | None = None) -> float:
        seconds = original(what, transient)
        states.append(health.ready()[0])
        return seconds

    monkeypatch.setattr(health, "store_failed", failed)
    await retrying(write, Metrics(CollectorRegistry()), "windows", health, clock=clock)
    retries = [r for r in caplog.records if record_fields(r).get("event") == "store_retry"]
    assert 10 < len(retries) < RETRY_LINES + 600 / RETRY_LOG_INTERVAL + 2
    later = retries[RETRY_LINES + 1]
    assert record_fields(later)["unlogged"] > 0
    assert f"{record_fields(later)['unlogged']} attempts not logged" in later.getMessage()
    counted = sum(record_fields(r)["unlogged"] for r in retries) + len(retries)
    assert 150 - 8 <= counted <= 150  # the attempts after the last line are not reported
    assert not any(states)  # not ready while the database cannot be reached
    assert health.ready()[0]  # the write landed
    assert "hunter2" not in caplog.text


class ProbedClient:
    """What ``broker_problem`` asks of a consumer's client: one metadata update."""

    def __init__(self, outcome: bool | BaseException | None) -> None:
        self.outcome = outcome  # None: never answers
        self.topics: list[list[str]] = []

    async def _metadata_update(self, cluster: object, topics: list[str]) -> bool:
        self.topics.append(topics)
        if self.outcome is None:
            await asyncio.sleep(60)
        if isinstance(self.outcome, BaseException):
            raise self.outcome
        return bool(self.outcome)


@dataclass
class Probed:
    _client: ProbedClient


@pytest.mark.asyncio
async def test_broker_problem_says_why_no_broker_answers() -> None:
    answered = Probed(ProbedClient(True))
    assert await broker_problem(answered, "preds", 1) is None
    assert answered._client.topics == [["preds"]]  # the one topic, not the whole cluster
    refused = Probed(ProbedClient(False))
    assert await broker_problem(refused, "preds", 1) == (
        "no broker answered a metadata request")
    broken = Probed(ProbedClient(KafkaConnectionError("Connection at 127.0.0.1:9 closed")))
    assert await broker_problem(broken, "preds", 1) == (
        "KafkaConnectionError: Connection at 127.0.0.1:9 closed")
    silent = Probed(ProbedClient(None))
    started = time.monotonic()
    assert await broker_problem(silent, "preds", 0.2) == (
        "no answer to a metadata request within 0.2 s")
    assert time.monotonic() - started < 5
