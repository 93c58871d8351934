"""Where aiokafka's fetch spends its CPU per event, and the ingest's light records against it.

Usage: ``.venv/bin/python bench/stream_fetch.py [--events N] [--rounds N]``

The embedded broker is started, a 4-partition topic gets ``--events`` events of
the streaming benchmark (``stream_events``: about 580 bytes, one model per
partition, produced with ``streams.transport.producer.send_records``), then:

1. **Parts**, on the fetch responses' record bytes as the consumer received them
   (kept once, in this process), each over all of them, CPU time
   (``time.process_time``) per event: the record batches' CRC check; the Cython
   parse of the records; the parse plus building aiokafka's ``ConsumerRecord``;
   aiokafka's ``PartitionRecords`` drained as ``FetchResult.getall`` does
   (10,000 at a time: CRC, parse, ``ConsumerRecord``, generator, list); and the
   same through ``streams.transport.fetching.LightRecords``. Generator bookkeeping = the
   drain minus CRC minus parse-and-``ConsumerRecord``.
2. **End to end**: a consumer with the partitions assigned and the worker's
   fetch settings reads all events with ``getmany(max_records=10000)``, once with
   aiokafka's records and once with the light ones (``enable_light_fetch``),
   alternating which goes first, ``--rounds`` times each; the CPU time and wall
   time spent inside ``getmany`` per event (receiving, decoding the response,
   checking, parsing and building records: all on this thread). The first
   pair is also compared record by record and by the positions they end at.

The garbage collector is set as in the worker (``streams.runtime.collector``). Medians with
the range over the repetitions.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import aiokafka.consumer.fetcher as aiokafka_fetcher
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.record.memory_records import MemoryRecords
from aiokafka.structs import ConsumerRecord
from stream_events import Layout, model_ids, records
from stream_measure import MAX_BATCH, WORKER_FETCH

from streams.devtools.broker import EmbeddedBroker, free_port
from streams.runtime.collector import tune_collector
from streams.transport.fetching import LightRecords, enable_light_fetch
from streams.transport.producer import send_records
from streams.transport.topics import ensure_topics_async

PARTITIONS = 4
TOPIC = "bench.fetch"
TP = TopicPartition(TOPIC, 0)


def _consumer(bootstrap: str) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                            **WORKER_FETCH)


class _Keeping:
    """A consumer's ``MemoryRecords`` that keeps the record bytes it is given."""

    def __init__(self) -> None:
        self.kept: list[bytes] = []

    def __call__(self, data: bytes) -> Any:
        self.kept.append(data)
        return MemoryRecords(data)


async def _read(bootstrap: str, events: int, light: bool, keep: bool = False
                ) -> tuple[float, float, dict[int, list[Any]], dict[int, int]]:
    """(CPU s, wall s inside getmany, the records' fields by partition, positions)."""
    consumer = _consumer(bootstrap)
    await consumer.start()
    try:
        if light and not enable_light_fetch(consumer, "bench"):
            raise SystemExit("light records are not supported here")
        assigned = [TopicPartition(TOPIC, p) for p in range(PARTITIONS)]
        consumer.assign(assigned)
        await consumer.seek_to_beginning(*assigned)
        cpu = wall = 0.0
        seen: dict[int, list[Any]] = {}
        count = 0
        while count < events:
            started, ticked = time.perf_counter(), time.process_time()
            batches = await consumer.getmany(timeout_ms=500, max_records=MAX_BATCH)
            wall += time.perf_counter() - started
            cpu += time.process_time() - ticked
            for tp, got in batches.items():
                count += len(got)
                if keep:
                    seen.setdefault(tp.partition, []).extend(_fields(r) for r in got)
        positions = {tp.partition: await consumer.position(tp) for tp in assigned}
        return cpu, wall, seen, positions
    finally:
        await consumer.stop()


def _fields(record: Any) -> tuple[Any, ...]:
    timestamp = record.timestamp if isinstance(record, ConsumerRecord) else record.timestamp_ms
    return record.partition, record.offset, record.key, record.value, timestamp


async def _kept_bytes(bootstrap: str, events: int) -> list[bytes]:
    """The record bytes of every fetch response of one read (this process only)."""
    keeping = _Keeping()
    real = aiokafka_fetcher.MemoryRecords
    aiokafka_fetcher.MemoryRecords = keeping
    try:
        await _read(bootstrap, events, light=False)
    finally:
        aiokafka_fetcher.MemoryRecords = real
    return keeping.kept


def _batches(kept: list[bytes]) -> Iterator[Any]:
    for data in kept:
        memory = MemoryRecords(data)
        while memory.has_next():
            yield memory.next_batch()


def _crc(kept: list[bytes]) -> None:
    for batch in _batches(kept):
        batch.validate_crc()


def _parse(kept: list[bytes]) -> None:
    for batch in _batches(kept):
        for _ in batch:
            pass


def _consumer_records(kept: list[bytes]) -> None:
    """The parse and ``PartitionRecords._consumer_record``'s work, without a generator."""
    topic, partition = TP.topic, TP.partition
    for batch in _batches(kept):
        for r in batch:
            key, value = r.key, r.value
            ConsumerRecord(topic, partition, r.offset, r.timestamp, r.timestamp_type, key, value,
                           r.checksum, -1 if key is None else len(key),
                           -1 if value is None else len(value), tuple(r.headers))


def _drained(make: Callable[[bytes], Any]) -> Callable[[list[bytes]], None]:
    def drain(kept: list[bytes]) -> None:
        for data in kept:
            partition_records = make(data)
            while True:  # FetchResult.getall's loop, MAX_BATCH at a time
                taken = []
                for record in partition_records:
                    taken.append(record)
                    if len(taken) >= MAX_BATCH:
                        break
                else:
                    break
    return drain


def _light_drained(kept: list[bytes]) -> None:
    for data in kept:
        light = LightRecords(TP, MemoryRecords(data), None, 0, True,
                             aiokafka_fetcher.READ_UNCOMMITTED)
        while not light.exhausted:
            light.take(MAX_BATCH)


PARTS: dict[str, Callable[[list[bytes]], None]] = {
    "CRC check (`validate_crc`)": _crc,
    "Cython parse (records of the batches)": _parse,
    "parse + `ConsumerRecord` (fields, sizes, `tuple(headers)`)": _consumer_records,
    "aiokafka `PartitionRecords` drained as `getall` does": _drained(
        lambda data: aiokafka_fetcher.PartitionRecords(
            TP, MemoryRecords(data), None, 0, None, None, True,
            aiokafka_fetcher.READ_UNCOMMITTED)),
    "light records (`LightRecords.take`)": _light_drained,
}


def _row(name: str, values: list[float]) -> str:
    return (f"| {name} | {statistics.median(values):.2f} | "
            f"{min(values):.2f}–{max(values):.2f} |")


async def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=300_000)
    parser.add_argument("--rounds", type=int, default=5, help="repetitions (>= 1)")
    args = parser.parse_args(argv)
    tune_collector()
    with EmbeddedBroker(port=free_port()) as broker:
        await ensure_topics_async(broker.bootstrap, {TOPIC: PARTITIONS})
        per_model = args.events // PARTITIONS
        events = per_model * PARTITIONS
        layout = Layout(tuple(model_ids(PARTITIONS)), 1_700_000_000.0, 25_000 / 60)
        await send_records(broker.bootstrap, TOPIC, records(layout, 0, per_model))
        kept = await _kept_bytes(broker.bootstrap, events)
        wire = sum(map(len, kept)) / events
        parts: dict[str, list[float]] = {name: [] for name in PARTS}
        reads: dict[str, list[float]] = {}
        plain = light = None
        for round_ in range(args.rounds):
            for name, part in PARTS.items():
                started = time.process_time()
                part(kept)
                parts[name].append((time.process_time() - started) / events * 1e6)
            for is_light in (False, True) if round_ % 2 == 0 else (True, False):
                cpu, wall, seen, positions = await _read(broker.bootstrap, events, is_light,
                                                         keep=round_ == 0)
                label = "light records" if is_light else "aiokafka records"
                reads.setdefault(f"getmany CPU, {label}", []).append(cpu / events * 1e6)
                reads.setdefault(f"getmany wall, {label}", []).append(wall / events * 1e6)
                if round_ == 0:
                    if is_light:
                        light = (seen, positions)
                    else:
                        plain = (seen, positions)
        same = plain == light
    print(f"{events:,} events, {len(kept)} fetch responses, {wire:.0f} bytes per event on "
          f"the wire; {args.rounds} rounds; light records identical to aiokafka's "
          f"(records and positions): {same}\n")
    print("| what | µs per event (median) | range |\n|---|---|---|")
    for name, values in {**parts, **reads}.items():
        print(_row(name, values))
    if not same:
        sys.exit(1)


if __name__ == "__main__":
    asyncio.run(main())
