"""The asyncio producer, on aiokafka: for model servers that run an event loop.

::

    from client import AsyncEventProducer

    async with AsyncEventProducer("localhost:9092") as events:
        sent = await events.send_prediction("fraud", {"amount": 41.5}, score=0.87,
                                            prediction_id=request_id)
        await events.send_label("fraud", request_id, 1)

``await send_*`` validates (``client.records``), enqueues the record in
aiokafka's batch and returns the decoded event without waiting for the broker;
``await flush()`` waits for every record sent so far and raises
``DeliveryError`` for those not acknowledged; ``close()`` flushes, then stops.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from datetime import datetime
from types import TracebackType
from typing import Any, Self

from client.delivery import Failures, kafka_options
from client.producer import PRUNE_AT
from client.records import (
    LABELS_TOPIC,
    PREDICTIONS_TOPIC,
    ClientLimits,
    Record,
    label_record,
    prediction_record,
    utc_now,
)
from streams.decoding.events import LabelEvent, PredictionEvent


class AsyncEventProducer:
    """Prediction and label events to Kafka from asyncio (see the module docstring)."""

    def __init__(self, bootstrap_servers: str | list[str], *,
                 predictions_topic: str = PREDICTIONS_TOPIC, labels_topic: str = LABELS_TOPIC,
                 limits: ClientLimits | None = None,
                 clock: Callable[[], datetime] = utc_now, **kafka: Any) -> None:
        self.predictions_topic, self.labels_topic = predictions_topic, labels_topic
        self.limits = limits or ClientLimits()
        self._clock = clock
        self._options = kafka_options(bootstrap_servers, self.limits.max_event_bytes,
                                      "max_batch_size", kafka)
        self._producer: Any = None
        self._pending: list[tuple[str, asyncio.Future[Any]]] = []
        self._failures = Failures()

    async def start(self) -> None:
        """Connect to the broker (``async with`` does it)."""
        from aiokafka import AIOKafkaProducer

        if self._producer is not None:
            raise RuntimeError("the producer is already started")
        producer = AIOKafkaProducer(**self._options)
        await producer.start()
        self._producer = producer

    async def send_prediction(self, model_id: str, features: Mapping[str, Any], *,
                              prediction: Any = None, score: Any = None,
                              prediction_id: str | None = None,
                              model_version: str | None = None,
                              event_time: datetime | None = None, event_id: str | None = None,
                              segment: Mapping[str, str] | None = None) -> PredictionEvent:
        """Validate and enqueue one prediction (key = ``model_id``); the event as decoded."""
        record = prediction_record(
            model_id, features, prediction=prediction, score=score,
            prediction_id=prediction_id, model_version=model_version, event_time=event_time,
            event_id=event_id, segment=segment, topic=self.predictions_topic,
            limits=self.limits, clock=self._clock)
        await self._send(record)
        return record.event

    async def send_label(self, model_id: str, prediction_id: str, label: Any, *,
                         event_time: datetime | None = None) -> LabelEvent:
        """Validate and enqueue the label of an earlier prediction (key = ``prediction_id``)."""
        record = label_record(model_id, prediction_id, label, event_time=event_time,
                              topic=self.labels_topic, limits=self.limits, clock=self._clock)
        await self._send(record)
        return record.event

    async def _send(self, record: Record[Any]) -> None:
        if self._producer is None:
            raise RuntimeError("the producer is not started (call start() or use async with)")
        future: asyncio.Future[Any] = await self._producer.send(
            record.topic, value=record.value, key=record.key)
        self._pending.append((record.topic, future))
        if len(self._pending) >= PRUNE_AT:  # between flushes, keep only the undelivered
            self._settle([item for item in self._pending if item[1].done()])
            self._pending = [item for item in self._pending if not item[1].done()]

    def _settle(self, done: list[tuple[str, asyncio.Future[Any]]]) -> None:
        for topic, future in done:
            error = future.exception() if not future.cancelled() else asyncio.CancelledError()
            if error is not None:
                self._failures.add(topic, error)

    async def flush(self) -> None:
        """Wait for every record sent so far; ``DeliveryError`` if any was not delivered."""
        if self._producer is not None:
            await self._producer.flush()
        pending, self._pending = self._pending, []
        await asyncio.gather(*(future for _, future in pending), return_exceptions=True)
        self._settle(pending)
        self._failures.raise_any()

    async def close(self) -> None:
        """Flush, then stop the producer (a second call does nothing)."""
        if self._producer is None:
            return
        try:
            await self.flush()
        finally:
            producer, self._producer = self._producer, None
            await producer.stop()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None,
                        trace: TracebackType | None) -> None:
        await self.close()
