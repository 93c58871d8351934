"""Past prediction events of one model from the predictions topic, as a bounded row sample.

The store keeps per-window statistics, not rows; the events themselves live in the
predictions topic for as long as its retention keeps them. ``read_range`` reads the
events of a model (and version) whose ``event_time`` is in ``[start, end)`` and
returns them as the worker would have them: a ``RowSample`` of the decoded columns.

Decisions:

- Where to read: per partition, from ``offsets_for_times(start - grace)``, the
  first record written at or after that moment (a record is written after its
  event, by at most the model's ``window.grace`` for the worker to count it in its
  window), until the end offsets taken at the beginning (``streams.transport.reading.Stop``),
  or until a record written after ``end + grace``: what is written later is history
  replayed (``driftline backfill``), not the traffic of the range. Records written
  with a broker timestamp of their own (``CreateTime`` set by the producer) are
  judged by it.
- Decoding is the worker's: ``validate_prediction`` of each record against the
  ingest limits as they were when the record was written (``limits_for`` at its
  broker timestamp; ``ingest.backfill_max_past`` for records carrying the backfill
  header), then ``to_model_batches`` for the columns. A record the worker would
  have dead-lettered is skipped and counted (``invalid``), never raised: whatever
  model it was meant for, since an invalid record's model cannot always be told.
- Feature names are capped per model version as the worker caps them
  (``ingest.max_features_per_model``, first come in the order read): the other
  names' columns are not built and their values are counted (``features_dropped``).
- Memory is bounded: at most ``max_rows`` rows are kept, the bottom-k sample of
  ``RowSample`` under the worker's priorities (``row_priorities`` of the row keys
  ``partition << 40 | offset``, with the model's seed). The sample depends on the
  set of records only, not on the order they are read in, so two reads of the same
  range keep the same rows. Records are decoded ``CHUNK`` at a time.
- ``timeout`` bounds the whole read: ``TimeoutError`` when it is spent.
  ``ConnectionError`` (no broker) and ``LookupError`` (no such topic) come from
  ``streams.transport.reading``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from detectors._sampling import row_priorities
from detectors.rowsample import RowSample
from streams.config.settings import IngestSettings
from streams.decoding.backfill import backfill_ingest, is_backfill
from streams.decoding.columns import ModelBatch, NameBudget, to_model_batches
from streams.decoding.events import Limits, PredictionEvent, limits_for, validate_prediction
from streams.transport.reading import Stop, open_consumer, topic_partitions

CHUNK = 2_000  # records decoded at once
POLL_MS = 200
POLL_RECORDS = 500
CLIENT_ID = "driftline-range-reference"


@dataclass(frozen=True)
class RangeQuery:
    """Which events to read (``model_version`` None: every version) and within what."""

    bootstrap: str
    topic: str
    model_id: str
    model_version: str | None
    start: datetime
    end: datetime
    grace: float  # seconds: how long after its event time a record may be written
    max_rows: int
    timeout: float  # seconds for the whole read
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("start", "end"):
            moment: datetime = getattr(self, name)
            if moment.tzinfo is None or moment.utcoffset() is None:
                raise ValueError(f"{name} must have a timezone, got {moment.isoformat()}")
        if self.end <= self.start:
            raise ValueError(f"end ({self.end.isoformat()}) must be after start "
                             f"({self.start.isoformat()})")
        if self.max_rows < 1:
            raise ValueError(f"max_rows must be at least 1, got {self.max_rows}")


@dataclass
class RangeRows:
    """What was read: the row sample of the matching events, and the counts."""

    rows: RowSample
    records_read: int = 0  # records of the topic read (any model)
    invalid: int = 0  # of those, records the worker would have dead-lettered
    features_dropped: int = 0  # values of feature names past the cap
    admitted: dict[str, set[str]] = field(default_factory=dict)  # columns per version

    @property
    def matched(self) -> int:
        """Valid events of the model (and version) with event_time in the range."""
        return self.rows.n_seen

    @property
    def kept(self) -> int:
        return self.rows.size

    @property
    def sampled(self) -> bool:
        return self.matched > self.kept

    def counts(self) -> dict[str, int | bool]:
        return {"records_read": self.records_read, "events_in_range": self.matched,
                "rows_kept": self.kept, "skipped_invalid": self.invalid,
                "features_dropped": self.features_dropped, "sampled": self.sampled}


ConsumerFactory = Callable[[str, float], Any]  # (bootstrap, timeout) -> a KafkaConsumer


def _open(bootstrap: str, timeout: float) -> Any:
    return open_consumer(bootstrap, timeout, CLIENT_ID)


def read_range(query: RangeQuery, ingest: IngestSettings,
               known_models: Collection[str] | None = None,
               consumer_factory: ConsumerFactory | None = None) -> RangeRows:
    """The events of ``query`` as a row sample (module docstring); never raises on bad events.

    Raises ``ConnectionError``, ``LookupError`` and ``TimeoutError`` (module docstring).
    """
    deadline = time.monotonic() + query.timeout
    found = RangeRows(RowSample(query.max_rows))
    decoder = _Decoder(query, ingest, known_models, found)
    consumer = (consumer_factory or _open)(query.bootstrap, query.timeout)
    try:
        partitions = topic_partitions(consumer, query.topic)
        ends = consumer.end_offsets(partitions, timeout_ms=_left_ms(deadline))
        since_ms = _ms(query.start) - int(query.grace * 1000)
        located = consumer.offsets_for_times(dict.fromkeys(partitions, max(0, since_ms)),
                                             timeout_ms=_left_ms(deadline))
        last_ms = _ms(query.end) + int(query.grace * 1000)
        for tp in partitions:
            at = located.get(tp)
            # None (or -1): no record written that late; the end may still hide one.
            start = ends[tp] if at is None or at.offset < 0 else at.offset
            consumer.assign([tp])
            consumer.seek(tp, start)
            chunk: list[Any] = []
            for record in _records(consumer, tp, start, Stop(ends[tp]), last_ms, deadline):
                chunk.append(record)
                if len(chunk) >= CHUNK:
                    decoder.add(chunk)
                    chunk = []
            decoder.add(chunk)
        return found
    finally:
        consumer.close(autocommit=False)


def _left_ms(deadline: float) -> int:
    """Milliseconds left until ``deadline`` (at least 1: kafka-python's calls need some)."""
    return max(1, int((deadline - time.monotonic()) * 1000))


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _records(consumer: Any, tp: Any, start: int, stop: Stop, last_ms: int,
             deadline: float) -> Iterator[Any]:
    """The records of ``tp`` from offset ``start`` to ``stop``, or up to the first one
    written after ``last_ms``."""
    while not stop.reached(consumer, tp):
        if time.monotonic() > deadline:
            raise TimeoutError(f"reading {tp.topic} partition {tp.partition} did not finish "
                               "in time")
        for records in consumer.poll(timeout_ms=POLL_MS, max_records=POLL_RECORDS).values():
            for record in records:
                if record.offset < start:
                    continue
                if record.timestamp is not None and record.timestamp > last_ms:
                    return
                yield record


class _Decoder:
    """Validates records as the worker did and adds the matching rows to the sample."""

    def __init__(self, query: RangeQuery, ingest: IngestSettings,
                 known_models: Collection[str] | None, found: RangeRows) -> None:
        self.query, self.found = query, found
        self.known = known_models
        self.ingests = (ingest, backfill_ingest(ingest))
        self.cap = ingest.max_features_per_model
        self.start, self.end = query.start.timestamp(), query.end.timestamp()
        self._limits: dict[tuple[int, bool], Limits] = {}

    def limits(self, record: Any) -> Limits:
        """The limits the worker held the record to when it was written."""
        stamp = record.timestamp if record.timestamp is not None and record.timestamp >= 0 \
            else int(time.time() * 1000)
        backfill = is_backfill(record)
        key = (stamp, backfill)
        found = self._limits.get(key)
        if found is None:
            if len(self._limits) > 10_000:
                self._limits.clear()
            now = datetime.fromtimestamp(stamp / 1000, UTC)
            found = self._limits[key] = limits_for(now, self.ingests[backfill], self.known)
        return found

    def add(self, records: list[Any]) -> None:
        events: list[PredictionEvent] = []
        positions: list[tuple[int, int]] = []
        query = self.query
        for record in records:
            self.found.records_read += 1
            outcome = validate_prediction(record.value, self.limits(record))
            if isinstance(outcome, tuple):
                self.found.invalid += 1
            elif outcome.model_id == query.model_id and (
                    query.model_version is None or outcome.model_version == query.model_version
            ) and self.start <= outcome.event_time.timestamp() < self.end:
                events.append(outcome)
                positions.append((record.partition, record.offset))
        if not events:
            return
        for (_, version), batch in to_model_batches(events, positions, self.budget).items():
            self._keep(version, batch)

    def budget(self, model_id: str, version: str) -> NameBudget:
        held = self.found.admitted.setdefault(version, set())
        return NameBudget(held, max(0, self.cap - len(held)))

    def _keep(self, version: str, batch: ModelBatch) -> None:
        self.found.admitted[version].update(batch.feature_names)
        self.found.features_dropped += sum(batch.skipped.values())
        priorities = row_priorities(batch.row_keys, self.query.seed)
        self.found.rows.add(batch.columns, priorities, batch.missing)
