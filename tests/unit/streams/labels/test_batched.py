"""The batched consumers' checkpoint: the snapshot is made off the event loop."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer
from prometheus_client import CollectorRegistry

from store import repository
from store.engine import make_engine
from store.migrate import upgrade
from streams.config.settings import load_settings
from streams.labels.batched import BatchedConsumer
from streams.runtime.metrics import Metrics

TOPIC = "labels"


class WaitsForTheLoop(BatchedConsumer):
    """A snapshot that returns only once the event loop has run a callback meanwhile."""

    name_suffix = "test"

    def __init__(self, database: Path, loop_ran: threading.Event) -> None:
        settings = load_settings(None, environ={"DRIFTLINE_DATABASE_URL": f"sqlite:///{database}"})
        engine = make_engine(settings.database_url)
        upgrade(engine)
        super().__init__(settings, engine, Metrics(CollectorRegistry()), TOPIC)
        self.loop_ran = loop_ran

    def snapshot(self, partition: int) -> bytes:
        # Made on the event loop, this waits for a callback that cannot run until it returns.
        if not self.loop_ran.wait(10):
            raise AssertionError("the event loop did not run while the snapshot was made")
        return b"state of partition %d" % partition


@pytest.mark.asyncio
async def test_the_snapshot_of_a_checkpoint_leaves_the_event_loop_free(tmp_path: Path) -> None:
    loop_ran = threading.Event()
    service = WaitsForTheLoop(tmp_path / "driftline.db", loop_ran)
    # Not started, so it owns no partition and the offset commit is skipped, as after a
    # rebalance; nothing connects to a broker.
    service.consumer = AIOKafkaConsumer(bootstrap_servers="127.0.0.1:9")
    service.offsets, service.stored = {0: 10, 1: 7}, {0: None, 1: 7}
    asyncio.get_running_loop().call_soon(loop_ran.set)
    try:
        await service._store([0, 1])
        with service.engine.connect() as conn:
            stored = repository.load_checkpoints(conn, service.group_id, TOPIC, [0, 1])
    finally:
        await service.consumer.stop()
        service.engine.dispose()
    assert loop_ran.is_set()
    assert list(stored) == [0]  # partition 1 had not moved
    assert (stored[0].next_offset, stored[0].state) == (10, b"state of partition 0")
    assert service.stored == {0: 10, 1: 7}
