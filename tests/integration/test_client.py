"""Both producer clients against the embedded broker: what they send arrives keyed as the
contract says, and the worker's decoders accept every event."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from client import AsyncEventProducer, EventProducer, InvalidEvent
from streams.config.settings import IngestSettings
from streams.decoding.events import LabelEvent, PredictionEvent, decode_labels, decode_predictions
from streams.devtools.broker import EmbeddedBroker
from streams.transport.topics import ensure_topics
from tests.integration.kafka_read import read_topic

pytestmark = pytest.mark.integration
MODELS = ("fraud", "churn", "credit")


def features(i: int) -> dict[str, Any]:
    return {"amount": 10.0 + i, "country": ("DE", "FR")[i % 2], "age": None if i % 5 else i,
            "vip": i % 3 == 0}


def send_sync(bootstrap: str, predictions: str, labels: str) -> list[PredictionEvent | LabelEvent]:
    sent: list[PredictionEvent | LabelEvent] = []
    with EventProducer(bootstrap, predictions_topic=predictions, labels_topic=labels) as events:
        for i in range(60):
            sent.append(events.send_prediction(
                MODELS[i % 3], features(i), prediction=i % 2, score=(i % 10) / 10,
                prediction_id=f"sync-{i}", model_version="2",
                event_time=datetime.now(UTC) - timedelta(seconds=i)))
        with pytest.raises(InvalidEvent, match="score"):
            events.send_prediction("fraud", features(0), score=float("nan"))
        events.flush()
        sent += [events.send_label(MODELS[i % 3], f"sync-{i}", i % 2) for i in range(0, 60, 3)]
    return sent


async def send_async(bootstrap: str, predictions: str, labels: str
                     ) -> list[PredictionEvent | LabelEvent]:
    sent: list[PredictionEvent | LabelEvent] = []
    async with AsyncEventProducer(bootstrap, predictions_topic=predictions,
                                  labels_topic=labels) as events:
        for i in range(60):
            sent.append(await events.send_prediction(
                MODELS[i % 3], features(i), prediction="yes" if i % 2 else "no",
                prediction_id=f"async-{i}", segment={"region": "eu"}))
        with pytest.raises(InvalidEvent, match="event_time"):
            await events.send_label("fraud", "async-0", 1, event_time=datetime(2026, 1, 1))
        await events.flush()
        sent += [await events.send_label(MODELS[i % 3], f"async-{i}", "yes")
                 for i in range(1, 60, 2)]
    return sent


def test_both_clients_send_events_the_worker_decodes(broker: EmbeddedBroker,
                                                     fresh_topic: str) -> None:
    predictions, labels = f"{fresh_topic}.predictions", f"{fresh_topic}.labels"
    ensure_topics(broker.bootstrap, {predictions: 4, labels: 3})
    sent = send_sync(broker.bootstrap, predictions, labels)
    sent += asyncio.run(send_async(broker.bootstrap, predictions, labels))

    prediction_records = asyncio.run(read_topic(broker.bootstrap, predictions))
    label_records = asyncio.run(read_topic(broker.bootstrap, labels))
    now, ingest = datetime.now(UTC), IngestSettings()
    decoded = decode_predictions(prediction_records, now=now, ingest=ingest)
    decoded_labels = decode_labels(label_records, now=now, ingest=ingest)
    assert decoded.dead_letters == []
    assert decoded_labels.dead_letters == []
    assert sorted(decoded.events, key=lambda e: e.event_id) == sorted(
        (e for e in sent if isinstance(e, PredictionEvent)), key=lambda e: e.event_id)
    assert sorted(decoded_labels.events, key=lambda e: e.prediction_id) == sorted(
        (e for e in sent if isinstance(e, LabelEvent)), key=lambda e: e.prediction_id)
    assert len(decoded.events) == 120
    assert len(decoded_labels.events) == 50

    partitions: dict[bytes, set[int]] = defaultdict(set)
    for record, event in zip(prediction_records, decoded.events, strict=True):
        assert record.key == event.model_id.encode()
        partitions[record.key].add(record.partition)
    assert all(len(used) == 1 for used in partitions.values())  # one partition per model
    assert len(partitions) == len(MODELS)
    for record, label in zip(label_records, decoded_labels.events, strict=True):
        assert record.key == label.prediction_id.encode()
