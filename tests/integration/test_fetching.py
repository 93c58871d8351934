"""Light records (``streams.transport.fetching``) against aiokafka's own, on the real embedded
broker.

Two consumers of the same records run the same calls, one with light records
and one without, side by side in this process: fetches small enough that every
partition takes many of them, ``getmany`` of one partition with varying limits
(so records of one fetch are handed out over several calls, and calls end inside
and on the edge of record batches), a seek into the middle of a batch, an
assignment change, then everything left of all partitions at once. Each call's
records, and the position after it, must be the same.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.structs import ConsumerRecord

from streams.decoding.events import RawMessage
from streams.devtools.broker import EmbeddedBroker
from streams.transport.fetching import enable_light_fetch, unsupported
from streams.transport.topics import ensure_topics

pytestmark = pytest.mark.integration
PARTITIONS = 3
PER_PARTITION = 1_500
BATCH = 10  # records per record batch
LIMITS = (1, 9, 10, 25, 5, 500, 3, 7, 120, 20)  # takes often end on a record batch's end


async def _produce(bootstrap: str, topic: str) -> None:
    """Record batches of ``BATCH`` records; keys and values None at times, some headers."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=False)
    await producer.start()
    try:
        sent = []
        for partition in range(PARTITIONS):
            for first in range(0, PER_PARTITION, BATCH):
                builder = producer.create_batch()
                for i in range(first, first + BATCH):
                    value = None if i % 13 == 5 else b"v%d-" % i + b"x" * (i * 7 % 300)
                    key = None if i % 11 == 0 and value is not None else b"k%d" % i
                    builder.append(timestamp=None, key=key, value=value,
                                   headers=[("h", b"%d" % i)] if i % 3 == 0 else [])
                sent.append(await producer.send_batch(builder, topic, partition=partition))
        await asyncio.gather(*sent)
    finally:
        await producer.stop()


def _consumer(bootstrap: str, **options: Any) -> AIOKafkaConsumer:
    # Fetches of about 8 KiB (the embedded broker limits a fetch by ``fetch_max_bytes``):
    # a partition takes some twenty of them.
    return AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                            auto_offset_reset="earliest", fetch_max_bytes=8_192,
                            max_partition_fetch_bytes=8_192, **options)


def _fields(record: Any) -> tuple[Any, ...]:
    timestamp = record.timestamp_ms if isinstance(record, RawMessage) else record.timestamp
    return (record.topic, record.partition, record.offset, record.key, record.value, timestamp,
            tuple(record.headers))


async def _script(consumer: AIOKafkaConsumer, topic: str) -> tuple[list[Any], set[type]]:
    """The calls both consumers make: what each returned and the positions after it.

    One partition is assigned at a time, so each fetch asks for that partition alone
    and its records end where they end for both consumers (a fetch of several
    partitions is shared between them as the broker sees fit).
    """
    tps = [TopicPartition(topic, p) for p in range(PARTITIONS)]
    limits = itertools.cycle(LIMITS)
    seen: list[Any] = []
    kinds: set[type] = set()

    async def take(tp: TopicPartition, times: int) -> None:
        for _ in range(times):
            if await consumer.position(tp) == PER_PARTITION:
                return
            got = await consumer.getmany(tp, timeout_ms=10_000, max_records=next(limits))
            records = got.get(tp, [])
            kinds.update(type(r) for r in records)
            seen.append((tp.partition, [_fields(r) for r in records],
                         await consumer.position(tp)))

    consumer.assign([tps[0]])
    await take(tps[0], 12)
    consumer.seek(tps[0], 1_001)  # inside a record batch
    await take(tps[0], 4)
    for tp in (tps[1], tps[2], tps[1]):  # assignment changes; partition 1 starts over
        consumer.assign([tp])
        await take(tp, 8)
    consumer.assign(tps)  # all of them, from the start, each fetch shared between them
    rest: dict[int, list[Any]] = {}
    while [await consumer.position(tp) for tp in tps] != [PER_PARTITION] * PARTITIONS:
        batches = await consumer.getmany(timeout_ms=10_000, max_records=2_000)
        for tp, records in batches.items():
            kinds.update(type(r) for r in records)
            rest.setdefault(tp.partition, []).extend(_fields(r) for r in records)
    seen.append(rest)
    return seen, kinds


@pytest.fixture
def topic(broker: EmbeddedBroker, fresh_topic: str) -> str:
    ensure_topics(broker.bootstrap, {fresh_topic: PARTITIONS})
    asyncio.run(_produce(broker.bootstrap, fresh_topic))
    return fresh_topic


@pytest.mark.asyncio
async def test_light_records_are_aiokafkas_records(broker: EmbeddedBroker, topic: str,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    light = _consumer(broker.bootstrap)
    await light.start()
    plain = _consumer(broker.bootstrap)  # started after the light one was hooked
    try:
        with caplog.at_level(logging.INFO, logger="streams.transport.fetching"):
            assert enable_light_fetch(light, "ingest")
        assert [r.getMessage() for r in caplog.records] == [
            "ingest: light records (aiokafka 0.14.0)"]
        await plain.start()
        plain_seen, plain_kinds = await _script(plain, topic)
        light_seen, light_kinds = await _script(light, topic)
    finally:
        await light.stop()
        await plain.stop()
    assert (plain_kinds, light_kinds) == ({ConsumerRecord}, {RawMessage})
    assert light_seen == plain_seen
    # The calls did what they are meant to: takes of every partition, some ending on a
    # fetch's last record, the seek, and the whole topic at the end.
    takes = plain_seen[:-1]
    assert {partition for partition, _, _ in takes} == {0, 1, 2}
    assert any(0 < len(records) < limit and records[-1][2] < PER_PARTITION - 1
               for (_, records, _), limit in zip(takes, itertools.cycle(LIMITS)))
    assert [records[0][2] for p, records, _ in takes if p == 0 and records][12] == 1_001
    assert [[f[2] for f in records] for records in plain_seen[-1].values()] == \
        [list(range(PER_PARTITION))] * PARTITIONS


@pytest.mark.asyncio
async def test_without_support_the_consumer_keeps_aiokafkas_records(
        broker: EmbeddedBroker, topic: str, caplog: pytest.LogCaptureFixture) -> None:
    other = _consumer(broker.bootstrap)
    deserializing = _consumer(broker.bootstrap, value_deserializer=bytes)
    plain = _consumer(broker.bootstrap)
    for consumer in (other, deserializing, plain):
        await consumer.start()
    try:
        with caplog.at_level(logging.WARNING, logger="streams.transport.fetching"):
            assert not enable_light_fetch(other, "ingest", version="0.13.0")
        assert [r.getMessage() for r in caplog.records] == [
            "ingest: aiokafka's own records, not light ones "
            "(aiokafka 0.13.0, written for 0.14.0)"]
        assert unsupported(deserializing) == "the consumer deserializes keys or values"
        assert not enable_light_fetch(deserializing)
        other_seen, other_kinds = await _script(other, topic)
        plain_seen, _ = await _script(plain, topic)
    finally:
        for consumer in (other, deserializing, plain):
            await consumer.stop()
    assert other_kinds == {ConsumerRecord}
    assert other_seen == plain_seen
