"""Light records for the prediction ingest's fetch: a hook on one aiokafka consumer.

aiokafka's fetcher makes every record of a fetch response a ``ConsumerRecord``
dataclass (eleven fields, the headers copied to a tuple), one at a time: a
generator (``PartitionRecords``) yields it and ``FetchResult.getall`` appends
it to the batch. For the ingest's events that took more of the fetch's CPU than
receiving, checking (CRC) and parsing the records together (bench/README.md, "The
fetch: aiokafka's records against the ingest's light records").
``enable_light_fetch(consumer)`` makes one started consumer hand out
``streams.decoding.events.RawMessage`` records instead (topic,
partition, offset, key, value, timestamp and headers, which mark a backfill:
what the ingest reads of a record), built a whole record batch at a time:

- ``LightRecords`` takes the place of a fetch's ``PartitionRecords``. It reads
  the record batches as aiokafka does (the CRC checked when ``check_crcs``,
  aborted transactions skipped under ``read_committed``, control batches
  skipped, records below the fetch offset skipped), and its ``next_fetch_offset``
  is at every step the one aiokafka's generator has after handing out the same
  records, so positions, ``seek``, pauses and rebalances behave as before.
- The hook is that consumer's own fetcher: its buffer of fetched partitions
  (``Fetcher._records``) becomes a ``dict`` that gives each new ``FetchResult``
  ``LightRecords`` and a ``getall`` taking them a batch at a time. aiokafka's own
  ``getmany`` and ``fetched_records`` run unchanged; no aiokafka class is
  changed, so the other consumers of the process (Faust's, the label paths')
  are untouched. ``getone`` hands out the same light records.

It relies on aiokafka internals, so it is used only with the exact aiokafka
version it was written for (``AIOKAFKA_VERSION``) when the parts it uses are
there, and only when the consumer deserializes neither keys nor values; else
the consumer keeps aiokafka's records and one line is logged.
"""

from __future__ import annotations

import collections
import inspect
import logging
import weakref
from typing import Any

import aiokafka
from aiokafka import AIOKafkaConsumer
from aiokafka.consumer import fetcher as aiokafka_fetcher
from aiokafka.errors import CorruptRecordException

from streams.decoding.events import RawMessage

log = logging.getLogger(__name__)
AIOKAFKA_VERSION = "0.14.0"
_FetchResult: Any = getattr(aiokafka_fetcher, "FetchResult", None)
_PartitionRecords: Any = getattr(aiokafka_fetcher, "PartitionRecords", object)
# What the hook uses of aiokafka: the parameters of the classes it builds or reads
# (their attributes of the same names) and the methods it calls or replaces.
_SIGNATURES = {
    _PartitionRecords: ("self", "tp", "records", "aborted_transactions", "fetch_offset",
                        "key_deserializer", "value_deserializer", "check_crcs",
                        "isolation_level"),
    _FetchResult: ("self", "tp", "assignment", "partition_records", "backoff"),
}
_METHODS = {
    _PartitionRecords: ("_consume_aborted_up_to", "_contains_abort_marker", "__next__"),
    _FetchResult: ("check_assignment", "has_more", "_update_position", "getall"),
    getattr(aiokafka_fetcher, "Fetcher", None): ("fetched_records", "next_record"),
}


class LightRecords(_PartitionRecords):  # type: ignore[misc]
    """A fetch's records of one partition, as ``RawMessage``, a record batch at a time."""

    def __init__(self, tp: Any, records: Any, aborted_transactions: Any, fetch_offset: int,
                 check_crcs: bool, isolation_level: int) -> None:
        super().__init__(tp, records, aborted_transactions, fetch_offset, None, None,
                         check_crcs, isolation_level)
        self._records_iterator = None  # aiokafka's generator: never started, not used
        self._batch: list[RawMessage] = []  # the records of the current record batch
        self._taken = 0  # how many of them were handed out
        self._batch_end: int | None = None  # its next offset, the position once it is used up
        self.exhausted = False

    @classmethod
    def of(cls, records: Any) -> LightRecords:
        """In place of aiokafka's ``PartitionRecords`` of a fetch, before it hands out any."""
        return cls(records._tp, records._records, records._aborted_transactions,
                   records.next_fetch_offset, records._check_crcs, records._isolation_level)

    def __next__(self) -> RawMessage:
        taken = self.take(1)
        if not taken:
            raise StopIteration
        return taken[0]

    def take(self, limit: int | None) -> list[RawMessage]:
        """Up to ``limit`` records (all when None), as aiokafka hands them out one by one.

        As there, at least one record is handed out when there is one, and the
        position after a record is its offset + 1 until the next record is asked for.
        """
        limit = None if limit is None else max(limit, 1)
        taken: list[RawMessage] = []
        while True:
            batch, start = self._batch, self._taken
            if start < len(batch):
                room = len(batch) - start if limit is None else limit - len(taken)
                part = batch if start == 0 and room >= len(batch) else batch[start:start + room]
                taken += part
                self._taken = start + len(part)
                self.next_fetch_offset = part[-1].offset + 1
                if limit is not None and len(taken) >= limit:
                    return taken
            elif not self._advance():
                return taken

    def _advance(self) -> bool:
        """Move to the next record batch that has records to hand out; False at the end.

        ``PartitionRecords._unpack_records`` of aiokafka 0.14.0, a batch at a time;
        like that generator, it ends for good once it raised.
        """
        if self._batch_end is not None:
            self.next_fetch_offset, self._batch_end = self._batch_end, None
        self._batch, self._taken = [], 0
        if self.exhausted:
            return False
        self.exhausted = True
        tp, records = self._tp, self._records
        while records.has_next():
            batch = records.next_batch()
            if self._check_crcs and not batch.validate_crc():
                raise CorruptRecordException(f"Invalid CRC - {tp}")
            if self._isolation_level == aiokafka_fetcher.READ_COMMITTED \
                    and batch.producer_id is not None:
                self._consume_aborted_up_to(batch.base_offset)
                if batch.is_control_batch and self._contains_abort_marker(batch):
                    self._aborted_producers.discard(batch.producer_id)
                if batch.is_transactional and batch.producer_id in self._aborted_producers:
                    self.next_fetch_offset = batch.next_offset
                    continue
            if batch.is_control_batch:
                self.next_fetch_offset = batch.next_offset
                continue
            first, topic, partition = self.next_fetch_offset, tp.topic, tp.partition
            # Offsets grow within a batch, so the first position filters like the moving one.
            light = [RawMessage(topic, partition, r.offset, r.key, r.value, r.timestamp,
                                r.headers or ())
                     for r in batch if r.offset >= first]
            if light:
                self._batch, self._batch_end = light, batch.next_offset
                self.exhausted = False
                return True
            self.next_fetch_offset = batch.next_offset
        return False


class _BulkGetall:
    """``FetchResult.getall`` of aiokafka 0.14.0 for ``LightRecords``: a batch at a time."""

    def __init__(self, result: Any) -> None:
        self._result = weakref.ref(result)  # no reference cycle through the result

    def __call__(self, max_records: int | None = None) -> list[RawMessage]:
        result = self._result()
        assert result is not None
        if not result.check_assignment(result._topic_partition) or not result.has_more():
            return []
        records: LightRecords = result._partition_records
        taken = records.take(max_records)
        result._update_position()
        if records.exhausted:
            result._partition_records = None
        return taken


class LightBuffer(collections.OrderedDict[Any, Any]):
    """A fetcher's buffer of fetched partitions that lightens each new ``FetchResult``."""

    def __setitem__(self, tp: Any, value: Any) -> None:
        if type(value) is _FetchResult:
            lighten(value)
        super().__setitem__(tp, value)


def lighten(result: Any) -> None:
    """Give a ``FetchResult`` light records and a ``getall`` for them, if it is a fresh one."""
    records = result._partition_records
    unpacking = getattr(records, "_records_iterator", None)
    if type(records) is not _PartitionRecords or not inspect.isgenerator(unpacking) or \
            inspect.getgeneratorstate(unpacking) != inspect.GEN_CREATED:
        return  # aiokafka has begun handing its records out: left as it is
    result._partition_records = LightRecords.of(records)
    # aiokafka's generator, never started, holds its records in a reference cycle (its
    # frame refers to them, they to it): closed, they and the fetched bytes they read
    # are freed at once. Left to the cyclic collector, which the light records give
    # little reason to run, every fetch response stayed resident (bench/README.md,
    # "Streaming": the memory bench's regression).
    unpacking.close()
    result.getall = _BulkGetall(result)


def unsupported(consumer: AIOKafkaConsumer, version: str = aiokafka.__version__) -> str | None:
    """Why ``enable_light_fetch`` cannot hook ``consumer`` (None when it can)."""
    if version != AIOKAFKA_VERSION:
        return f"aiokafka {version}, written for {AIOKAFKA_VERSION}"
    for owner, parameters in _SIGNATURES.items():
        found = tuple(inspect.signature(owner.__init__).parameters) if owner else ()
        if found != parameters:
            return f"aiokafka's {getattr(owner, '__name__', owner)} takes {found}"
    for owner, names in _METHODS.items():
        missing = [n for n in names if not callable(getattr(owner, n, None))]
        if missing:
            return f"aiokafka's {getattr(owner, '__name__', owner)} lacks {', '.join(missing)}"
    if getattr(aiokafka_fetcher, "READ_COMMITTED", None) != 1:
        return "aiokafka's fetcher has no READ_COMMITTED = 1"
    fetcher = getattr(consumer, "_fetcher", None)
    if not isinstance(fetcher, aiokafka_fetcher.Fetcher):
        return "the consumer is not started"
    if type(getattr(fetcher, "_records", None)) not in (collections.OrderedDict, LightBuffer):
        return "the fetcher keeps its fetched records otherwise"
    if fetcher._key_deserializer is not None or fetcher._value_deserializer is not None:
        return "the consumer deserializes keys or values"
    return None


def enable_light_fetch(consumer: AIOKafkaConsumer, name: str = "consumer", *,
                       version: str = aiokafka.__version__) -> bool:
    """Make the started ``consumer`` hand out ``RawMessage`` records; False if it cannot.

    One line is logged either way; when it cannot (``unsupported``), ``consumer`` is
    left as it is. ``version`` is aiokafka's, given by tests of that path.
    """
    reason = unsupported(consumer, version)
    if reason is not None:
        log.warning("%s: aiokafka's own records, not light ones (%s)", name, reason)
        return False
    fetcher = consumer._fetcher
    if type(fetcher._records) is not LightBuffer:
        buffer = LightBuffer()
        for tp, value in fetcher._records.items():
            buffer[tp] = value
        fetcher._records = buffer
    log.info("%s: light records (aiokafka %s)", name, version)
    return True
