"""What every batched consumer of the worker shares: clients, rebalances, order, retries.

The prediction ingest (``streams.app.worker``) and the label paths
(``streams.labels.batched``) use the same pieces, so both keep the same guarantees:

- ``make_consumer`` / ``make_producer``: clients with the worker's session timeout,
  fetch limits and no idempotent producer (the embedded broker has none).
- ``Listener``: forwards rebalances to a service's ``assign`` / ``release``.
- ``in_sequence``: records are applied in offset order from where a partition's
  state stands. A batch fetched around a rebalance may repeat offsets (dropped)
  or start past a gap (the caller seeks back and refetches); a gap seen again
  after such a rewind is a real one (transaction markers or compaction in Apache
  Kafka) and is accepted.
- ``restarted_from``: a partition whose log restarted below the offset its state
  stands at (topic deleted and recreated, broker reset, an emptied in-memory
  broker) is read again from its new beginning. The sign is the high watermark
  of the partition's last fetch below that offset. Offsets alone cannot see a
  restarted log whose new records already passed the old offset before the
  worker read it; nothing else is dropped without a warning line and
  ``driftline_offset_resets_total``. The open windows are kept: events counted
  before the restart stay counted, and the new log's events are added.
- ``commit``: mirrors stored offsets into Kafka for lag tools, for partitions
  still owned; a failure is logged, never raised (SQL holds the truth).
- ``retrying``: a database write in a thread, retried with capped exponential
  backoff (at most ``MAX_BACKOFF`` apart) until it lands (the worker stops
  progressing, it drops nothing); a failure logs a ``store_retry`` line with the
  error masked: each of the first ``RETRY_LINES`` attempts, then one line per
  ``RETRY_LOG_INTERVAL`` at most, with the attempt count and how many were not
  logged, so a long outage gives two lines a minute, not one per attempt. It
  tells ``streams.runtime.health`` how long the store has been failing and whether the
  error is one a retry can get past (the database cannot be reached: not ready).
  The checkpoints read when partitions are assigned go through it too (in a
  thread, so a database that does not answer never holds up the event loop,
  the health pages included, and an assignment during an outage waits for the
  database instead of failing).
- ``broker_problem``: a cheap metadata request through a consumer's own client,
  with a timeout: why the broker cannot be reached, or None.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from operator import attrgetter
from typing import Any, Protocol, TypeVar

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.cluster import ClusterMetadata
from aiokafka.errors import KafkaConnectionError, KafkaError

from store.engine import describe_error
from store.errors import is_permanent
from streams.config.settings import Settings
from streams.runtime.health import Health
from streams.runtime.metrics import Metrics

log = logging.getLogger(__name__)
T = TypeVar("T")
MAX_BACKOFF = 4.0  # seconds: a database that is back is written to within a few seconds
RETRY_LINES = 5  # store_retry lines logged for every attempt before they are thinned out
RETRY_LOG_INTERVAL = 30.0  # seconds: then at most one store_retry line per interval
FETCH_MAX_BYTES = 64 * 1024 * 1024
PARTITION_FETCH_MAX_BYTES = 16 * 1024 * 1024


class Assignable(Protocol):
    async def assign(self, partitions: list[int]) -> None: ...

    async def release(self, partitions: list[int]) -> None: ...


class Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, service: Assignable) -> None:
        self.service = service

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        await self.service.release([tp.partition for tp in revoked])

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        await self.service.assign([tp.partition for tp in assigned])


def make_consumer(settings: Settings, group_id: str, max_records: int) -> AIOKafkaConsumer:
    worker = settings.worker
    return AIOKafkaConsumer(
        bootstrap_servers=settings.bootstrap_servers, group_id=group_id,
        enable_auto_commit=False, auto_offset_reset="earliest",
        session_timeout_ms=int(worker.session_timeout * 1000),
        heartbeat_interval_ms=int(worker.heartbeat_interval * 1000),
        max_poll_records=max_records, fetch_max_bytes=FETCH_MAX_BYTES,
        max_partition_fetch_bytes=PARTITION_FETCH_MAX_BYTES)


def make_producer(settings: Settings, **options: Any) -> AIOKafkaProducer:
    return AIOKafkaProducer(bootstrap_servers=settings.bootstrap_servers,
                            enable_idempotence=False, linger_ms=10, **options)


def in_sequence(records: list[Any], next_offset: int | None,
                rewound_to: int | None) -> tuple[list[Any], bool]:
    """(the records to apply, whether to seek back to ``next_offset`` and refetch)."""
    if next_offset is None:
        return records, False
    records = [r for r in records if r.offset >= next_offset]
    if records and records[0].offset > next_offset and rewound_to != next_offset:
        return [], True
    return records, False


def owned_in_order(consumer: AIOKafkaConsumer,
                   batches: Mapping[TopicPartition, list[Any]]) -> list[TopicPartition]:
    """Every partition a fetch loop visits: those owned and those fetched, in partition
    order (an owned partition without records may still have restarted)."""
    return sorted(consumer.assignment() | batches.keys(), key=attrgetter("partition"))


async def restarted_from(consumer: AIOKafkaConsumer, tp: TopicPartition, records: list[Any],
                         next_offset: int | None, metrics: Metrics) -> int | None:
    """The offset to read ``tp`` from again when its log restarted below ``next_offset``
    (module docstring); None when it did not. Logged and counted when it did.

    Called for every owned partition on every fetch. The sign is the high watermark the
    partition's last fetch response reported: below ``next_offset``, the log now ends
    before records this worker already read. (The admin API's end offsets are not used:
    the embedded broker reports the base offset of the last record batch there, which can
    be below the true end.) When it returns an offset and ``records`` is empty, the caller
    seeks there (the consumer's position still points past the end).
    """
    if next_offset is None:
        return None
    high = consumer.highwater(tp)
    if high is None or high >= next_offset:
        return None
    if records and records[-1].offset >= next_offset:
        return None  # records this fetch returned prove the log reaches past next_offset
    beginning = (await consumer.beginning_offsets([tp]))[tp]
    log.warning("partition %s of %s restarted: its end offset %d is below offset %d where "
                "this worker stands (topic recreated or broker reset); reading it again from "
                "offset %d, open windows kept", tp.partition, tp.topic, high, next_offset,
                beginning)
    metrics.offset_resets.labels(tp.topic).inc()
    return int(beginning)


START_BACKOFF = (0.5, 10.0)  # seconds: first and largest wait between start attempts


async def start_retrying(client: AIOKafkaConsumer | AIOKafkaProducer, who: str) -> None:
    """``client.start()``, retried while the broker cannot be reached: a worker started
    during a broker outage (or a service of it started then) waits for the broker
    instead of exiting. One warning line per attempt, at most one every 10 s."""
    delay = START_BACKOFF[0]
    while True:
        try:
            await client.start()
            return
        except KafkaConnectionError as exc:
            log.warning("%s: broker unreachable (%s); retrying in %.1f s", who, exc, delay)
        await asyncio.sleep(delay)
        delay = min(2 * delay, START_BACKOFF[1])


async def commit(consumer: AIOKafkaConsumer, offsets: Mapping[TopicPartition, int],
                 who: str) -> None:
    owned = consumer.assignment()
    kept = {tp: offset for tp, offset in offsets.items() if tp in owned}
    if kept:
        try:
            await consumer.commit(kept)
        except Exception as exc:
            log.info("%s: offset commit skipped: %s", who, exc)


async def broker_problem(consumer: AIOKafkaConsumer, topic: str, timeout: float) -> str | None:
    """Why no broker answers ``consumer``'s client, or None when one does.

    One metadata request for ``topic`` (a few hundred bytes), sent through the
    consumer's own connections, into a throw-away ``ClusterMetadata``: the
    consumer's view of the cluster is not touched. It fails when no broker answers
    within ``timeout`` seconds, or every known broker refused or dropped it.
    """
    update = consumer._client._metadata_update  # aiokafka has no public one-topic probe
    try:
        async with asyncio.timeout(timeout):
            answered = await update(ClusterMetadata(), [topic])
    except TimeoutError:
        return f"no answer to a metadata request within {timeout:g} s"
    except (KafkaError, OSError) as exc:
        name = type(exc).__name__  # aiokafka's errors start their text with their name
        return describe_error(exc).replace(f"{name}: {name}: ", f"{name}: ", 1)
    return None if answered else "no broker answered a metadata request"


class RetryLines:
    """Which failed attempts of one store get a ``store_retry`` line (module docstring)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._logged_at: float | None = None
        self.unlogged = 0  # attempts since the last line that got none

    def due(self, attempt: int) -> bool:
        """Whether failed ``attempt`` is logged; counted in ``unlogged`` when not."""
        now = self._clock()
        if (attempt <= RETRY_LINES or self._logged_at is None
                or now - self._logged_at >= RETRY_LOG_INTERVAL):
            self._logged_at = now
            return True
        self.unlogged += 1
        return False


async def retrying(write: Callable[[], T], metrics: Metrics, what: str,
                   health: Health | None = None,
                   clock: Callable[[], float] = time.monotonic, doing: str = "storing") -> T:
    """``write`` in a thread until it lands (its result); failures log ``store_retry`` lines.

    The line names the error by its type and the first line of its message,
    passwords masked (``store.engine.describe_error``); every attempt of the first
    ``RETRY_LINES`` gets one, later ones one per ``RETRY_LOG_INTERVAL`` at most. A
    write that lands after failures logs ``store_recovered``. ``health`` learns how
    long it has failed and whether the database counts as unreachable. ``doing``
    words the lines (``loading`` for the checkpoints read at an assignment).
    """
    delay = 0.5
    attempt = 0
    started = clock()
    lines = RetryLines(clock)
    while True:
        attempt += 1
        try:
            result = await asyncio.to_thread(write)
        except Exception as exc:
            metrics.store_errors.inc()
            error = describe_error(exc)
            failing = clock() - started
            if health is not None:
                failing = health.store_failed(what, None if is_permanent(exc) else error)
            unlogged = lines.unlogged
            if lines.due(attempt):
                lines.unlogged = 0
                skipped = f", {unlogged} attempts not logged" if unlogged else ""
                log.warning("%s %s failed (attempt %d, failing for %.0f s%s): %s; "
                            "retrying in %.1f s", doing, what, attempt, failing, skipped, error,
                            delay, extra={"event": "store_retry", "what": what,
                                          "attempt": attempt,
                                          "failing_seconds": round(failing, 3),
                                          "error": error, "retry_in": delay,
                                          "unlogged": unlogged})
            await asyncio.sleep(delay)
            delay = min(delay * 2, MAX_BACKOFF)
            continue
        if health is not None:
            health.store_ok(what)
        if attempt > 1:
            seconds = clock() - started
            log.info("%s %s succeeded after %d attempts (%.0f s)", doing, what, attempt,
                     seconds, extra={"event": "store_recovered", "what": what,
                                     "attempts": attempt, "seconds": round(seconds, 3)})
        return result
