"""The synchronous producer, on kafka-python: for model servers without an event loop.

::

    from client import EventProducer

    with EventProducer("localhost:9092") as events:
        sent = events.send_prediction("fraud", {"amount": 41.5, "country": "DE"},
                                      prediction=1, score=0.87, prediction_id=request_id)
        ...
        events.send_label("fraud", request_id, 1)   # later, when the truth is known

``send_*`` validates (``client.records``; ``InvalidEvent`` names the field),
hands the record to kafka-python's background sender and returns the decoded
event (its ``event_id``, ``prediction_id``, UTC ``event_time``). ``flush()``
blocks until everything sent so far is acknowledged and raises ``DeliveryError``
for what was not (``client.delivery``); ``close()`` flushes first.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from types import TracebackType
from typing import Any, Self

from client.delivery import Failures, kafka_options
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

PRUNE_AT = 10_000  # delivery futures kept between flushes before the settled ones are dropped


class EventProducer:
    """Prediction and label events to Kafka, synchronously (see the module docstring)."""

    def __init__(self, bootstrap_servers: str | list[str], *,
                 predictions_topic: str = PREDICTIONS_TOPIC, labels_topic: str = LABELS_TOPIC,
                 limits: ClientLimits | None = None,
                 clock: Callable[[], datetime] = utc_now, **kafka: Any) -> None:
        from kafka import KafkaProducer

        self.predictions_topic, self.labels_topic = predictions_topic, labels_topic
        self.limits = limits or ClientLimits()
        self._clock = clock
        self._failures = Failures()
        self._pending: list[tuple[str, Any]] = []  # (topic, kafka-python's future)
        self._producer = KafkaProducer(**kafka_options(
            bootstrap_servers, self.limits.max_event_bytes, "batch_size", kafka))
        self._closed = False

    def send_prediction(self, model_id: str, features: Mapping[str, Any], *,
                        prediction: Any = None, score: Any = None,
                        prediction_id: str | None = None, model_version: str | None = None,
                        event_time: datetime | None = None, event_id: str | None = None,
                        segment: Mapping[str, str] | None = None) -> PredictionEvent:
        """Validate and send one prediction (key = ``model_id``); the event as decoded."""
        record = prediction_record(
            model_id, features, prediction=prediction, score=score,
            prediction_id=prediction_id, model_version=model_version, event_time=event_time,
            event_id=event_id, segment=segment, topic=self.predictions_topic,
            limits=self.limits, clock=self._clock)
        self._send(record)
        return record.event

    def send_label(self, model_id: str, prediction_id: str, label: Any, *,
                   event_time: datetime | None = None) -> LabelEvent:
        """Validate and send the label of an earlier prediction (key = ``prediction_id``)."""
        record = label_record(model_id, prediction_id, label, event_time=event_time,
                              topic=self.labels_topic, limits=self.limits, clock=self._clock)
        self._send(record)
        return record.event

    def _send(self, record: Record[Any]) -> None:
        if self._closed:
            raise RuntimeError("the producer is closed")
        future = self._producer.send(record.topic, value=record.value, key=record.key)
        self._pending.append((record.topic, future))
        if len(self._pending) >= PRUNE_AT:  # between flushes, keep only the undelivered
            done = [item for item in self._pending if item[1].is_done]
            self._pending = [item for item in self._pending if not item[1].is_done]
            self._settle(done, None)

    def _settle(self, sent: list[tuple[str, Any]], timeout: float | None) -> None:
        for topic, future in sent:
            try:
                future.get(timeout=timeout)
            except Exception as error:  # any failure is the record's
                self._failures.add(topic, error)

    def flush(self, timeout: float | None = None) -> None:
        """Wait until every event sent so far is acknowledged; ``DeliveryError`` if any
        was not (kafka-python's ``KafkaTimeoutError`` when ``timeout`` seconds pass)."""
        self._producer.flush(timeout=timeout)
        pending, self._pending = self._pending, []
        self._settle(pending, timeout)
        self._failures.raise_any()

    def close(self, timeout: float | None = None) -> None:
        """Flush, then close the connections (a second call does nothing)."""
        if self._closed:
            return
        try:
            self.flush(timeout)
        finally:
            self._closed = True
            self._producer.close(timeout=timeout)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()
