"""The client builds, validates and encodes events as the worker decodes them."""

from __future__ import annotations

import json
import math
import uuid
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import numpy as np
import pytest

from client import ClientLimits, InvalidEvent, label_record, prediction_record
from client.delivery import DeliveryError, Failures
from client.records import rfc3339
from streams.config.settings import IngestSettings
from streams.decoding.events import (
    LabelEvent,
    PredictionEvent,
    RawMessage,
    decode_labels,
    decode_predictions,
)

NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


def clock() -> datetime:
    return NOW


def predict(**changes: Any) -> PredictionEvent:
    arguments: dict[str, Any] = {"model_id": "fraud", "features": {"amount": 41.5},
                                 "clock": clock}
    arguments.update(changes)
    return prediction_record(**arguments).event


def refused(**changes: Any) -> InvalidEvent:
    with pytest.raises(InvalidEvent) as caught:
        predict(**changes)
    return caught.value


def worker_decodes(value: bytes, labels: bool = False) -> PredictionEvent | LabelEvent:
    message = RawMessage("t", 0, 0, b"k", value)
    if labels:
        decoded_labels = decode_labels([message], now=NOW, ingest=IngestSettings())
        assert decoded_labels.dead_letters == []
        return decoded_labels.events[0]
    decoded = decode_predictions([message], now=NOW, ingest=IngestSettings())
    assert decoded.dead_letters == []
    return decoded.events[0]


def test_a_prediction_is_keyed_by_model_id_and_decodes_as_the_worker_decodes_it() -> None:
    record = prediction_record(
        "fraud", {"amount": 41.5, "country": "DE", "age": None, "new": True},
        prediction=1, score=0.87, prediction_id="req-881", model_version="7",
        event_time=datetime(2026, 11, 22, 11, 0, tzinfo=timezone(timedelta(hours=2))),
        event_id="e-1", segment={"region": "eu"}, clock=clock)
    assert (record.topic, record.key) == ("driftline.predictions", b"fraud")
    assert worker_decodes(record.value) == record.event
    assert record.event.event_time == datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
    assert record.event.features == {"amount": 41.5, "country": "DE", "age": None, "new": True}
    assert (record.event.model_version, record.event.prediction_id) == ("7", "req-881")


def test_a_label_is_keyed_by_prediction_id() -> None:
    record = label_record("fraud", "req-881", True, clock=clock, topic="my.labels")
    assert (record.topic, record.key) == ("my.labels", b"req-881")
    assert worker_decodes(record.value, labels=True) == record.event
    assert record.event.label is True
    assert record.event.event_time == NOW


def test_event_ids_are_fresh_uuid4s_unless_given() -> None:
    first, second = predict(), predict()
    assert first.event_id != second.event_id
    assert uuid.UUID(first.event_id).version == 4
    assert predict(event_id="mine").event_id == "mine"


def test_times_are_sent_as_utc_rfc3339_with_z() -> None:
    paris = datetime(2026, 11, 22, 11, 0, 0, 123000, tzinfo=timezone(timedelta(hours=1)))
    assert rfc3339(paris) == "2026-11-22T10:00:00.123000Z"
    record = prediction_record("fraud", {}, event_time=paris, clock=clock)
    assert b'"event_time":"2026-11-22T10:00:00.123000Z"' in record.value
    assert predict().event_time == NOW  # no time: now


def test_a_naive_time_is_refused_naming_the_field() -> None:
    error = refused(event_time=datetime(2026, 11, 22, 10, 0))
    assert (error.reason, error.field) == ("bad_value", "event_time")
    assert "timezone" in str(error)
    with pytest.raises(InvalidEvent, match="event_time") as caught:
        label_record("fraud", "p", 1, event_time="2026-11-22T10:00:00Z",  # type: ignore[arg-type]
                     clock=clock)
    assert caught.value.reason == "wrong_type"


@pytest.mark.parametrize(("changes", "reason", "field"), [
    ({"model_version": 7}, "wrong_type", "model_version"),
    ({"model_id": ""}, "bad_value", "model_id"),
    ({"event_id": ""}, "bad_value", "event_id"),
    ({"model_id": 3}, "wrong_type", "model_id"),
    ({"segment": {"region": 1}}, "wrong_type", 'segment["region"]'),
    ({"score": "high"}, "wrong_type", "score"),
    ({"prediction": [1, 2]}, "wrong_type", "prediction"),
    ({"features": {"history": [1, 2]}}, "wrong_type", 'features["history"]'),
    ({"features": {"nested": {"a": 1}}}, "wrong_type", 'features["nested"]'),
    ({"features": {"a\x00b": 1.0}}, "bad_value", 'features["a\\u0000b"]'),
    ({"features": {f"f{i}": i for i in range(1_001)}}, "bad_value", "features"),
    ({"model_id": "x" * 129}, "bad_value", "model_id"),
    ({"prediction_id": "x" * 257}, "bad_value", "prediction_id"),
    ({"features": {1: 2.0}}, "wrong_type", "features"),
    ({"features": [("amount", 1.0)]}, "wrong_type", "features"),
    ({"prediction": Decimal("1.5")}, "wrong_type", "prediction"),
    ({"features": {"amount": Decimal("1.5")}}, "wrong_type", 'features["amount"]'),
    ({"score": math.nan}, "bad_value", "score"),
    ({"score": math.inf}, "bad_value", "score"),
    ({"prediction": -math.inf}, "bad_value", "prediction"),
    ({"features": {"amount": math.inf}}, "bad_value", 'features["amount"]'),
    ({"event_time": NOW + timedelta(hours=2)}, "future_timestamp", "event_time"),
    ({"event_time": NOW - timedelta(days=8)}, "past_timestamp", "event_time"),
])
def test_what_the_worker_would_dead_letter_is_refused_naming_the_field(
        changes: dict[str, Any], reason: str, field: str) -> None:
    error = refused(**changes)
    assert (error.reason, error.field) == (reason, field)
    assert f"field {field!r}" in str(error)


@pytest.mark.parametrize(("raw", "arguments", "reason"), [
    ({"model_version": 7}, {"model_version": 7}, "wrong_type"),
    ({"event_id": ""}, {"event_id": ""}, "bad_value"),
    ({"event_time": "2026-11-22T13:00:00Z"}, {"event_time": NOW + timedelta(hours=3)},
     "future_timestamp"),
])
def test_refused_events_are_dead_lettered_by_the_worker_with_the_same_reason(
        raw: dict[str, Any], arguments: dict[str, Any], reason: str) -> None:
    base = {"event_id": "e", "model_id": "fraud", "event_time": "2026-11-22T10:00:00Z",
            "features": {"amount": 41.5}}
    value = json.dumps({**base, **raw}).encode()
    decoded = decode_predictions([RawMessage("t", 0, 0, None, value)], now=NOW,
                                 ingest=IngestSettings())
    assert [d.reason for d in decoded.dead_letters] == [reason]
    assert refused(**arguments).reason == reason


def test_a_nan_feature_is_sent_as_missing() -> None:
    record = prediction_record("fraud", {"amount": math.nan, "age": np.float32("nan")},
                               clock=clock)
    assert b'"features":{"amount":null,"age":null}' in record.value
    assert record.event.features == {"amount": None, "age": None}


def test_numpy_scalars_are_sent_as_numbers() -> None:
    event = predict(features={"n": np.int64(3), "x": np.float32(0.5), "b": np.bool_(True)},
                    prediction=np.int64(1), score=np.float64(0.25))
    assert event.features == {"n": 3, "x": 0.5, "b": True}
    assert (event.prediction, event.score) == (1, 0.25)
    assert type(event.prediction) is int


def test_the_size_limit_is_the_workers() -> None:
    big = {"text": "x" * 2_000}
    with pytest.raises(InvalidEvent) as caught:
        predict(features=big, limits=ClientLimits(max_event_bytes=1_000))
    assert (caught.value.reason, caught.value.field) == ("oversize", None)
    assert "ingest.max_event_bytes (1000)" in str(caught.value)
    assert predict(features=big).features == big


def test_known_models_are_checked_when_given() -> None:
    limits = ClientLimits(known_models=frozenset({"fraud"}))
    assert predict(limits=limits).model_id == "fraud"
    with pytest.raises(InvalidEvent) as caught:
        predict(model_id="churn", limits=limits)
    assert (caught.value.reason, caught.value.field) == ("unknown_model", "model_id")


def test_the_default_limits_are_the_workers_defaults() -> None:
    ingest, limits = IngestSettings(), ClientLimits()
    assert (limits.max_event_bytes, limits.max_future, limits.max_past) == (
        ingest.max_event_bytes, ingest.max_future, ingest.max_past)
    assert limits.known_models is None
    assert ingest.unknown_models == "allow"


def test_a_label_must_have_a_value() -> None:
    with pytest.raises(InvalidEvent) as caught:
        label_record("fraud", "p", None, clock=clock)
    assert (caught.value.reason, caught.value.field) == ("wrong_type", "label")
    with pytest.raises(InvalidEvent) as caught:
        label_record("fraud", "", 1, clock=clock)
    assert (caught.value.reason, caught.value.field) == ("bad_value", "prediction_id")


def test_delivery_failures_are_raised_once() -> None:
    failures = Failures()
    failures.raise_any()
    for _ in range(12):
        failures.add("driftline.predictions", TimeoutError("no broker"))
    with pytest.raises(DeliveryError, match="12 event") as caught:
        failures.raise_any()
    assert caught.value.failed == 12
    assert len(caught.value.errors) == 10
    failures.raise_any()  # forgotten once raised
