"""A batched consumer with its state checkpointed to SQL: the base of the label paths.

The same reliability scheme as the prediction ingest (``streams.ingest.service``): each
assigned partition's state is restored from its checkpoint and consumed from the
offset stored with it; records are applied in offset order; the state and the
offset it covers are written in one transaction (with whatever the subclass
writes beside them), after everything the batch produced has been acknowledged
by the broker. So a crash replays from the checkpoint and the state counts each
record once. Subclasses implement ``restore_state``, ``snapshot``, ``handle`` and
optionally ``write`` (rows stored with the checkpoint) and ``on_timer``.
``snapshot`` runs in a thread, while the service's lock keeps ``handle`` and
the rebalance steps out, so it must read only the service's own state.

It runs as a Faust service beside the ingest, in its own consumer group
(``<group_id>-<name>``), with the worker's session timeout and fetch limits.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from functools import partial
from typing import Any

import mode
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from sqlalchemy import Engine
from sqlalchemy.engine import Connection

from store import repository
from store.records import Checkpoint
from streams.alerts.hub import AlertHub
from streams.config.settings import Settings
from streams.runtime.health import Health
from streams.runtime.metrics import Metrics
from streams.transport.consuming import (
    PARTITION_FETCH_MAX_BYTES,
    Listener,
    commit,
    in_sequence,
    make_consumer,
    make_producer,
    owned_in_order,
    restarted_from,
    retrying,
    start_retrying,
)


class BatchedConsumer(mode.Service):
    """One topic, batched, with per-partition state checkpointed to SQL."""

    name_suffix = "batched"
    mundane_level = "debug"  # mode's "Starting..." / "Stopping..." lines

    def __init__(self, settings: Settings, engine: Engine, metrics: Metrics, topic: str,
                 hub: AlertHub | None = None, *, health: Health | None = None,
                 **kwargs: Any) -> None:
        self.hub = hub  # told of the alert transitions a checkpoint transaction committed
        self.health = health  # told how long checkpoint stores have been failing
        self.settings = settings
        self.engine = engine
        self.metrics = metrics
        self.topic = topic
        self.group_id = f"{settings.worker.group_id}-{self.name_suffix}"
        self.consumer: AIOKafkaConsumer | None = None
        self.producer: AIOKafkaProducer | None = None
        self.offsets: dict[int, int | None] = {}  # partition -> next offset to apply
        self.stored: dict[int, int | None] = {}  # partition -> offset in the checkpoint
        self.rewound: dict[int, int] = {}  # partition -> the offset last rewound to
        self.assigned = asyncio.Event()
        self._lock = asyncio.Lock()
        self._last_store = time.monotonic()
        super().__init__(**kwargs)

    # ----- what a subclass provides ------------------------------------------------------
    def restore_state(self, partition: int, state: bytes | None) -> None:
        raise NotImplementedError

    def forget(self, partition: int) -> None:
        raise NotImplementedError

    def snapshot(self, partition: int) -> bytes:
        raise NotImplementedError

    async def handle(self, partition: int, records: list[Any]) -> None:
        """Apply records (in offset order); produce with ``send`` and await delivery."""
        raise NotImplementedError

    def write(self, conn: Connection, partitions: list[int]) -> None:
        """Rows stored in the checkpoint transaction of these partitions."""

    def stored_ok(self, partitions: list[int]) -> None:
        """Called after the checkpoint transaction of these partitions committed."""

    def on_timer(self) -> None:
        """Called once per fetch loop (expiry, gauges)."""

    # ----- life --------------------------------------------------------------------------
    async def on_start(self) -> None:
        self.producer = make_producer(self.settings, max_request_size=PARTITION_FETCH_MAX_BYTES)
        await start_retrying(self.producer, f"{self.topic} producer")
        self.consumer = make_consumer(self.settings, self.group_id, self.settings.labels.max_batch)
        self.consumer.subscribe([self.topic], listener=Listener(self))
        await start_retrying(self.consumer, f"{self.topic} consumer")

    async def on_stop(self) -> None:
        if self.consumer is not None:
            await self.release(list(self.offsets))
            await self.consumer.stop()
        if self.producer is not None:
            await self.producer.stop()

    async def assign(self, partitions: list[int]) -> None:
        async with self._lock:
            wanted = [p for p in partitions if p not in self.offsets]
            stored = await retrying(partial(self._load_checkpoints, wanted), self.metrics,
                                    f"{self.group_id} checkpoints", self.health,
                                    doing="loading")
            assert self.consumer is not None
            for partition in wanted:
                checkpoint = stored.get(partition)
                self.restore_state(partition, checkpoint.state if checkpoint else None)
                offset = checkpoint.next_offset if checkpoint else None
                self.offsets[partition] = self.stored[partition] = offset
                self.rewound.pop(partition, None)
                if offset is not None:
                    self.consumer.seek(TopicPartition(self.topic, partition), offset)
        self.assigned.set()

    def _load_checkpoints(self, partitions: list[int]) -> dict[int, Checkpoint]:
        """The stored checkpoints of ``partitions`` (in a thread: ``assign``)."""
        with self.engine.connect() as conn:
            return repository.load_checkpoints(conn, self.group_id, self.topic, partitions)

    async def release(self, partitions: list[int]) -> None:
        async with self._lock:
            gone = [p for p in partitions if p in self.offsets]
            await self._store(gone)
            for partition in gone:
                self.forget(partition)
                del self.offsets[partition]
                del self.stored[partition]
                self.rewound.pop(partition, None)

    async def send(self, topic: str, value: bytes, *, key: bytes | None = None,
                   partition: int | None = None) -> asyncio.Future[Any]:
        assert self.producer is not None
        future: asyncio.Future[Any] = await self.producer.send(
            topic, value=value, key=key, partition=partition)
        return future

    # ----- the loop ----------------------------------------------------------------------
    @mode.Service.task
    async def _consume(self) -> None:
        while not self.should_stop:
            if self.consumer is None:
                await self.sleep(0.1)
                continue
            batches = await self.consumer.getmany(timeout_ms=500,
                                                  max_records=self.settings.labels.max_batch)
            async with self._lock:
                for tp in owned_in_order(self.consumer, batches):
                    records = await self._in_sequence(tp, batches.get(tp, []))
                    if records:
                        await self.handle(tp.partition, records)
                        self.offsets[tp.partition] = records[-1].offset + 1
                self.on_timer()
                interval = self.settings.worker.checkpoint_interval
                if time.monotonic() - self._last_store >= interval:
                    await self._store(list(self.offsets))

    async def _in_sequence(self, tp: TopicPartition, records: list[Any]) -> list[Any]:
        """Records from the partition's next offset on
        (``streams.transport.consuming.in_sequence``),
        or from its new beginning when its log restarted (``restarted_from``)."""
        if tp.partition not in self.offsets:
            return []
        expected = self.offsets[tp.partition]
        assert self.consumer is not None
        restart = await restarted_from(self.consumer, tp, records, expected, self.metrics)
        if restart is not None:
            expected = self.offsets[tp.partition] = restart
            self.rewound.pop(tp.partition, None)
            if not records:
                self.consumer.seek(tp, restart)
        records, rewind = in_sequence(records, expected, self.rewound.get(tp.partition))
        if rewind:
            assert self.consumer is not None
            assert expected is not None
            self.consumer.seek(tp, expected)
            self.rewound[tp.partition] = expected
        return records

    async def _store(self, partitions: Iterable[int]) -> None:
        """Checkpoint (and ``write``) the partitions that moved; retried until it lands."""
        dirty = [p for p in partitions if self.offsets.get(p) != self.stored.get(p)
                 and self.offsets.get(p) is not None]
        self._last_store = time.monotonic()
        if not dirty:
            return
        # In a thread: a snapshot may take long (the join's, with many predictions pending;
        # bench/README.md, "Figures behind decisions in the code"), and on the event loop
        # it would hold up every service of the worker, the alert dispatcher's wake-up
        # included. The lock keeps the state still meanwhile.
        snapshots = await asyncio.to_thread(self._snapshots, dirty)
        offsets = {p: self.offsets[p] for p in dirty}
        await retrying(partial(self._transaction, dirty, snapshots, offsets), self.metrics,
                       self.group_id, self.health)
        for partition, offset in offsets.items():
            self.stored[partition] = offset
        self.stored_ok(dirty)
        await self._commit(offsets)

    def _snapshots(self, partitions: list[int]) -> dict[int, bytes]:
        return {p: self.snapshot(p) for p in partitions}

    def _transaction(self, partitions: list[int], snapshots: dict[int, bytes],
                     offsets: dict[int, int | None]) -> None:
        with self.engine.begin() as conn:
            self.write(conn, partitions)
            for partition in partitions:
                offset = offsets[partition]
                assert offset is not None
                repository.save_checkpoint(conn, self.group_id, self.topic, partition, offset,
                                           snapshots[partition])

    async def _commit(self, offsets: dict[int, int | None]) -> None:
        assert self.consumer is not None
        await commit(self.consumer, {TopicPartition(self.topic, p): o
                                     for p, o in offsets.items() if o is not None},
                     self.group_id)
