"""Prediction and label events built, validated and encoded as the worker will read them.

Both producers (``client.producer``, ``client.aio``) send what these functions
return. The rules are the worker's own: an event is encoded to JSON, then judged
by ``streams.decoding.events.validate_prediction`` / ``validate_label`` — the decoder's
types and checks, with the limits the worker uses — so an event the client
accepts is one the worker accepts, and one it refuses raises ``InvalidEvent``
naming the dead-letter reason and the field. See ``docs/events.md``.

What the client adds before that:

- ``event_id``: a random UUID (``uuid4``) when none is given.
- ``event_time``: a timezone-aware ``datetime``, sent as UTC RFC 3339 with
  microseconds and ``Z``; ``None`` means now. A naive ``datetime`` is refused
  (its zone is unknown), and so is anything that is not a ``datetime``.
- Values: numpy scalars (anything with ``.item()``) become Python numbers;
  a NaN *feature* is sent as ``null`` (missing, as the worker counts it); any
  other non-finite number (an infinite feature, a NaN or infinite score,
  prediction or label) is refused, since JSON has neither; so is a value of any
  other type (a ``Decimal`` would travel as text and turn a number into a
  category).
- Keys: a prediction is keyed by ``model_id`` (all events of a model in one
  partition, which the worker's windows need); a label by ``prediction_id``.
"""

from __future__ import annotations

import json
import math
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, TypeVar

import msgspec

from streams.decoding.events import (
    LabelEvent,
    Limits,
    PredictionEvent,
    Reason,
    validate_label,
    validate_prediction,
)

PREDICTIONS_TOPIC = "driftline.predictions"
LABELS_TOPIC = "driftline.labels"
# The field a dead-letter detail names: ``$.model_version``, ``$.features["amount"]``.
_FIELD = re.compile(r'\$\.(\w+(?:\["(?:[^"\\]|\\.)*"\])?)')
_ENCODER = msgspec.json.Encoder()
_PLAIN = frozenset({str, int, float, bool, type(None)})
E = TypeVar("E", PredictionEvent, LabelEvent)


class InvalidEvent(ValueError):  # noqa: N818 (it is the event that is invalid)
    """An event the worker would dead-letter: ``reason`` (a dead-letter reason) and ``field``."""

    def __init__(self, kind: str, reason: Reason, detail: str, field: str | None) -> None:
        where = f" field {field!r}" if field else ""
        super().__init__(f"invalid {kind} event{where} ({reason}): {detail}")
        self.reason: Reason = reason
        self.detail = detail
        self.field = field


@dataclass(frozen=True)
class ClientLimits:
    """The worker's ``ingest`` limits the client checks against (its defaults are the
    worker's). Give the worker's values when its configuration changes them."""

    max_event_bytes: int = 1024 * 1024
    max_future: float = 3600.0
    max_past: float = 7 * 86400.0
    known_models: frozenset[str] | None = None  # the worker's list under unknown_models: reject

    def at(self, now: datetime) -> Limits:
        """The decoder's limits at ``now`` (timezone-aware)."""
        return Limits(self.max_event_bytes, now + timedelta(seconds=self.max_future),
                      now - timedelta(seconds=self.max_past), self.known_models)


@dataclass(frozen=True)
class Record(Generic[E]):
    """One validated event, and the Kafka record that carries it."""

    event: E
    topic: str
    key: bytes
    value: bytes


def utc_now() -> datetime:
    return datetime.now(UTC)


def rfc3339(value: object, kind: str = "prediction", field: str = "event_time") -> str:
    """A timezone-aware ``datetime`` as UTC RFC 3339 (``2026-11-22T10:00:00.123000Z``)."""
    if not isinstance(value, datetime):
        raise InvalidEvent(kind, "wrong_type", "expected a timezone-aware datetime, got "
                           f"{type(value).__name__}", field)
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidEvent(kind, "bad_value", f"naive datetime {value.isoformat()} has no "
                           "timezone; give an aware one, e.g. datetime.now(UTC)", field)
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def _plain(value: object) -> object:
    """A numpy scalar as the Python value it holds; anything else as it is."""
    if type(value) in _PLAIN:
        return value
    item = getattr(value, "item", None)  # numpy.float64 is a float msgspec does not encode
    return item() if callable(item) else value


def _finite(kind: str, value: object, field: str) -> object:
    """A number, text, boolean or None for JSON; anything else (a ``Decimal`` would be
    sent as text, a list or mapping is never valid here) is refused."""
    value = _plain(value)
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidEvent(kind, "bad_value", f"must be a finite number, got {value}"
                           " (JSON has no NaN or infinity)", field)
    if type(value) not in _PLAIN:
        raise InvalidEvent(kind, "wrong_type", "expected a number, text, a boolean or None, "
                           f"got {type(value).__name__}", field)
    return value


def feature_field(name: str) -> str:
    """A feature as the dead letters name it: ``features["amount"]``."""
    return f"features[{json.dumps(name[:100])}]"


def _features(values: object) -> dict[str, object]:
    if not isinstance(values, Mapping):
        raise InvalidEvent("prediction", "wrong_type",
                           f"expected a mapping of name to value, got {type(values).__name__}",
                           "features")
    out: dict[str, object] = {}
    for name, raw in values.items():
        if not isinstance(name, str):
            raise InvalidEvent("prediction", "wrong_type",
                               f"feature names must be text, got {name!r}", "features")
        value = _plain(raw)
        if isinstance(value, float) and math.isnan(value):
            value = None  # missing, as the worker counts null
        out[name] = _finite("prediction", value, feature_field(name))
    return out


def _refused(kind: str, problem: tuple[Reason, str]) -> InvalidEvent:
    reason, detail = problem
    found = _FIELD.search(detail)
    field = found.group(1) if found else None
    if field is None and detail.startswith("event_time "):
        field = "event_time"
    elif field is None and reason == "unknown_model":
        field = "model_id"
    return InvalidEvent(kind, reason, detail, field)


def _checked(kind: str, payload: dict[str, object], limits: ClientLimits, now: datetime,
             validate: Callable[[bytes, Limits], E | tuple[Reason, str]]) -> tuple[E, bytes]:
    try:
        value = _ENCODER.encode(payload)
    except (TypeError, ValueError, OverflowError) as error:
        raise InvalidEvent(kind, "wrong_type", f"cannot be encoded as JSON: {error}",
                           None) from error
    outcome = validate(value, limits.at(now))
    if isinstance(outcome, tuple):
        raise _refused(kind, outcome)
    return outcome, value


def prediction_record(
    model_id: str,
    features: Mapping[str, Any],
    *,
    prediction: Any = None,
    score: Any = None,
    prediction_id: str | None = None,
    model_version: str | None = None,
    event_time: datetime | None = None,
    event_id: str | None = None,
    segment: Mapping[str, str] | None = None,
    topic: str = PREDICTIONS_TOPIC,
    limits: ClientLimits | None = None,
    clock: Callable[[], datetime] = utc_now,
) -> Record[PredictionEvent]:
    """A validated prediction event and its record (key = ``model_id``)."""
    now = clock()
    payload: dict[str, object] = {
        "event_id": str(uuid.uuid4()) if event_id is None else event_id,
        "model_id": model_id,
        "event_time": rfc3339(now if event_time is None else event_time),
        "features": _features(features),
    }
    if model_version is not None:
        payload["model_version"] = model_version
    optional = {"prediction_id": prediction_id,
                "prediction": _finite("prediction", prediction, "prediction"),
                "score": _finite("prediction", score, "score"),
                "segment": dict(segment) if isinstance(segment, Mapping) else segment}
    payload.update({name: value for name, value in optional.items() if value is not None})
    event, value = _checked("prediction", payload, limits or ClientLimits(), now,
                            validate_prediction)
    return Record(event, topic, event.model_id.encode("utf-8"), value)


def label_record(
    model_id: str,
    prediction_id: str,
    label: Any,
    *,
    event_time: datetime | None = None,
    topic: str = LABELS_TOPIC,
    limits: ClientLimits | None = None,
    clock: Callable[[], datetime] = utc_now,
) -> Record[LabelEvent]:
    """A validated label event and its record (key = ``prediction_id``)."""
    now = clock()
    payload: dict[str, object] = {
        "prediction_id": prediction_id, "model_id": model_id,
        "label": _finite("label", label, "label"),
        "event_time": rfc3339(now if event_time is None else event_time, "label")}
    event, value = _checked("label", payload, limits or ClientLimits(), now, validate_label)
    return Record(event, topic, event.prediction_id.encode("utf-8"), value)
