"""Both producers with the Kafka libraries replaced by fakes: what they hand to Kafka, and
that a failed delivery is raised by flush, not lost."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any, ClassVar

import pytest

from client import AsyncEventProducer, DeliveryError, EventProducer, InvalidEvent

NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
Sent = tuple[str, bytes, bytes]


class FakeFuture:
    """kafka-python's FutureRecordMetadata, failed or not."""

    def __init__(self, error: Exception | None) -> None:
        self.error = error

    is_done = True

    def get(self, timeout: float | None = None) -> None:
        if self.error is not None:
            raise self.error


class FakeKafkaProducer:
    instances: ClassVar[list[FakeKafkaProducer]] = []
    fail_topic: str | None = None

    def __init__(self, **options: Any) -> None:
        self.options = options
        self.sent: list[Sent] = []
        self.flushed = self.closed = 0
        FakeKafkaProducer.instances.append(self)

    def send(self, topic: str, value: bytes, key: bytes) -> FakeFuture:
        self.sent.append((topic, key, value))
        return FakeFuture(RuntimeError("refused") if topic == self.fail_topic else None)

    def flush(self, timeout: float | None = None) -> None:
        self.flushed += 1

    def close(self, timeout: float | None = None) -> None:
        self.closed += 1


class FakeAIOKafkaProducer:
    instances: ClassVar[list[FakeAIOKafkaProducer]] = []
    fail_topic: str | None = None
    settle_on_send = False

    def __init__(self, **options: Any) -> None:
        self.options = options
        self.sent: list[Sent] = []
        self.started = self.stopped = 0
        self.futures: list[asyncio.Future[None]] = []
        FakeAIOKafkaProducer.instances.append(self)

    async def start(self) -> None:
        self.started += 1

    async def send(self, topic: str, value: bytes, key: bytes) -> asyncio.Future[None]:
        self.sent.append((topic, key, value))
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.futures.append(future)
        if self.settle_on_send:
            await self.flush()
        return future

    async def flush(self) -> None:
        for future in self.futures:  # delivered (or refused) when the batch goes out
            if not future.done():
                if self.sent[self.futures.index(future)][0] == self.fail_topic:
                    future.set_exception(RuntimeError("refused"))
                else:
                    future.set_result(None)

    async def stop(self) -> None:
        self.stopped += 1


@pytest.fixture(autouse=True)
def fakes(monkeypatch: pytest.MonkeyPatch) -> None:
    FakeKafkaProducer.instances, FakeAIOKafkaProducer.instances = [], []
    FakeKafkaProducer.fail_topic = FakeAIOKafkaProducer.fail_topic = None
    FakeAIOKafkaProducer.settle_on_send = False
    monkeypatch.setattr("kafka.KafkaProducer", FakeKafkaProducer)
    monkeypatch.setattr("aiokafka.AIOKafkaProducer", FakeAIOKafkaProducer)


def test_the_sync_producer_sends_keyed_validated_records() -> None:
    with EventProducer("b:9092", labels_topic="my.labels", clock=lambda: NOW,
                       linger_ms=50, compression_type="gzip") as events:
        prediction = events.send_prediction("fraud", {"amount": 1.0}, prediction_id="p-1")
        label = events.send_label("fraud", "p-1", 0)
        with pytest.raises(InvalidEvent):
            events.send_label("fraud", "p-1", None)
    (kafka,) = FakeKafkaProducer.instances
    assert kafka.options["acks"] == "all"
    assert kafka.options["enable_idempotence"] is False
    assert kafka.options["bootstrap_servers"] == "b:9092"
    assert (kafka.options["linger_ms"], kafka.options["compression_type"]) == (50, "gzip")
    assert [(t, k) for t, k, _ in kafka.sent] == [("driftline.predictions", b"fraud"),
                                                  ("my.labels", b"p-1")]
    assert prediction.event_time == label.event_time == NOW
    assert (kafka.flushed, kafka.closed) == (1, 1)


def test_the_sync_producer_raises_delivery_failures_on_flush() -> None:
    FakeKafkaProducer.fail_topic = "driftline.labels"
    events = EventProducer("b:9092")
    events.send_prediction("fraud", {"amount": 1.0})
    events.flush()
    events.send_label("fraud", "p-1", 1)
    with pytest.raises(DeliveryError, match="1 event") as caught:
        events.flush()
    assert caught.value.errors[0][0] == "driftline.labels"
    events.close()
    events.close()
    assert FakeKafkaProducer.instances[0].closed == 1
    with pytest.raises(RuntimeError, match="closed"):
        events.send_prediction("fraud", {"amount": 1.0})


@pytest.mark.asyncio
async def test_the_async_producer_sends_keyed_validated_records() -> None:
    async with AsyncEventProducer("b:9092", predictions_topic="my.predictions",
                                  clock=lambda: NOW) as events:
        await events.send_prediction("fraud", {"amount": 1.0}, prediction_id="p-1")
        await events.send_label("fraud", "p-1", True)
        with pytest.raises(InvalidEvent):
            await events.send_prediction("fraud", {"amount": float("inf")})
    (kafka,) = FakeAIOKafkaProducer.instances
    assert kafka.options["enable_idempotence"] is False
    assert kafka.options["acks"] == "all"
    assert [(t, k) for t, k, _ in kafka.sent] == [("my.predictions", b"fraud"),
                                                  ("driftline.labels", b"p-1")]
    assert (kafka.started, kafka.stopped) == (1, 1)
    assert all(f.done() for f in kafka.futures)


@pytest.mark.asyncio
async def test_the_async_producer_raises_delivery_failures_on_flush() -> None:
    FakeAIOKafkaProducer.fail_topic = "driftline.predictions"
    events = AsyncEventProducer("b:9092")
    with pytest.raises(RuntimeError, match="not started"):
        await events.send_label("fraud", "p-1", 1)
    await events.start()
    await events.send_label("fraud", "p-1", 1)
    await events.flush()
    await events.send_prediction("fraud", {"amount": 1.0})
    with pytest.raises(DeliveryError, match="1 event"):
        await events.close()
    assert FakeAIOKafkaProducer.instances[0].stopped == 1


@pytest.mark.asyncio
async def test_settled_futures_are_dropped_between_flushes_and_failures_counted_once(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("client.aio.PRUNE_AT", 3)
    FakeAIOKafkaProducer.fail_topic = "driftline.labels"
    FakeAIOKafkaProducer.settle_on_send = True
    events = AsyncEventProducer("b:9092")
    await events.start()
    for i in range(7):
        await events.send_label("fraud", f"p-{i}", 1)
        await events.send_prediction("fraud", {"amount": 1.0})
    assert len(events._pending) < 3
    with pytest.raises(DeliveryError) as caught:
        await events.flush()
    assert caught.value.failed == 7
    await events.close()
