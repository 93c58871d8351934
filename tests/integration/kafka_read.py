"""Reading a topic back from the start, for the integration tests."""

from __future__ import annotations

import asyncio
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from streams.config.settings import TopicSettings

PARTITIONS = TopicSettings().partitions  # the default partitions of a topic


async def _read_to_end(consumer: AIOKafkaConsumer, assigned: list[TopicPartition]
                       ) -> list[Any]:
    """Every record of ``assigned`` up to its end offsets now, in (partition, offset) order."""
    consumer.assign(assigned)
    await consumer.seek_to_beginning(*assigned)
    ends = await consumer.end_offsets(assigned)
    records: list[Any] = []
    while [tp for tp in assigned if await consumer.position(tp) < ends[tp]]:
        batch = await consumer.getmany(timeout_ms=500, max_records=10_000)
        for part in batch.values():
            records.extend(part)
    return sorted(records, key=lambda r: (r.partition, r.offset))


async def read_topic(bootstrap: str, topic: str, timeout: float = 30) -> list[Any]:
    """Every record of ``topic`` up to its end offsets now (no consumer group), in
    (partition, offset) order."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                                auto_offset_reset="earliest")
    await consumer.start()
    try:
        async with asyncio.timeout(timeout):
            await consumer.topics()  # fetches the metadata
            partitions = sorted(consumer.partitions_for_topic(topic) or ())
            return await _read_to_end(consumer, [TopicPartition(topic, p) for p in partitions])
    finally:
        await consumer.stop()


async def read_partitions(bootstrap: str, topic: str, partitions: int) -> list[Any]:
    """Every record of ``topic`` (no consumer group), partition by partition in order."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                                auto_offset_reset="earliest")
    await consumer.start()
    try:
        async with asyncio.timeout(20):
            return await _read_to_end(consumer,
                                      [TopicPartition(topic, p) for p in range(partitions)])
    finally:
        await consumer.stop()
