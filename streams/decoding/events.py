"""Event schema v1 and the batched decoding of the ingest hot path.

A prediction event (topic ``driftline.predictions``, key = ``model_id``)::

    {"event_id": "3f1c…", "model_id": "fraud", "model_version": "7",
     "event_time": "2026-11-22T10:00:00.123Z", "prediction_id": "req-881",
     "features": {"amount": 41.5, "country": "DE", "age": null},
     "prediction": 1, "score": 0.87, "segment": {"region": "eu"}}

Decisions of schema v1:

- ``event_id``, ``model_id``, ``event_time`` and ``features`` are required;
  ``event_id``, ``model_id`` and ``model_version`` must be non-empty text.
- Names (``model_id``, ``model_version``, feature names, segment keys and
  values) are at most ``MAX_NAME_CHARS`` (128) characters without control
  characters (U+0000-U+001F, U+007F-U+009F: NUL included); ids (``event_id``,
  ``prediction_id``) at most ``MAX_ID_CHARS`` (256); an event has at most
  ``MAX_FEATURES`` (1,000) features. They become SQL keys and metric labels,
  so they are checked here, before anything is stored or exported.
  ``model_version`` defaults to ``"1"`` (an unversioned model is version 1);
  it must be text when given (``"7"``, not ``7``).
- ``event_time`` is RFC 3339 with a timezone (``Z`` or ``+02:00``); a naive
  time is a ``bad_value``. Unknown fields are ignored (producers may add fields).
- A feature value is a number, text, a boolean or ``null``; ``null`` and an
  absent feature both count as missing. JSON has no NaN or infinity: ``NaN``
  literals are ``bad_json``, while a number too large for a double (``1e999``,
  a 400-digit integer) is read as ±inf and counted as Inf by the statistics.
- Objects and arrays nest at most ``MAX_DEPTH`` (32) deep, the event itself
  counted; deeper is a ``bad_value``, found on the bytes before any parser runs.
- ``score`` must be finite when given (``bad_value`` otherwise); a numeric
  ``prediction`` or label that overflows is kept like a feature value.

Decoding never raises on what a producer sends: every message becomes an event
or a ``DeadLetter`` whose ``reason`` is one of ``DEAD_LETTER_REASONS``. One
reused typed ``msgspec`` decoder does the validation; a refused message is decoded a
second time, untyped, to read a number that overflows a double as ±inf, and what is
still refused gets its reason and detail from driftline's own checks
(``streams.decoding.problems``), never from the decoder's wording. The
numpy columns are built by ``streams.decoding.columns`` (``to_model_batches``).

This module imports nothing but the standard library and msgspec (the settings
only for type checking), so that the producer client (``client/``) validates
with these very types and rules without loading the worker.
``validate_prediction`` and ``validate_label`` are the checks of one message,
the same the batch decoders apply to each.
"""

from __future__ import annotations

import base64
import logging
import math
import threading
import time
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Literal, Protocol, TypeVar, get_args

import msgspec
from msgspec import Meta

from streams.decoding.problems import malformed, reread, too_deep

if TYPE_CHECKING:
    from streams.config.settings import IngestSettings

__all__ = [
    "DEAD_LETTER_REASONS", "DeadLetter", "DecodedBatch", "DecodedLabels", "LabelEvent",
    "Limits", "Message", "PastTimestampLog", "PredictionEvent", "RawMessage", "Reason",
    "decode_labels", "decode_predictions", "limits_for", "validate_label",
    "validate_prediction",
]

log = logging.getLogger(__name__)
MAX_NAME_CHARS = 128  # a model id, a model version, a feature name, a segment key or value
MAX_ID_CHARS = 256  # an event id or a prediction id
MAX_FEATURES = 1_000  # features in one event
# Names become SQL keys, metric labels and column names: no control characters (NUL
# included), which PostgreSQL text refuses and logs and dashboards cannot show. Written so
# that Python and ECMA-262 (JSON Schema validators in other languages) read it alike: ``^``
# and "no character follows" for the ends (``\Z`` is Python's own, and ``$`` would let a
# final newline through in Python).
PRINTABLE = r"^[^\x00-\x1f\x7f-\x9f]*(?![\s\S])"
Id = Annotated[str, Meta(min_length=1, max_length=MAX_ID_CHARS)]
Name = Annotated[str, Meta(min_length=1, max_length=MAX_NAME_CHARS, pattern=PRINTABLE)]
Key = Annotated[str, Meta(max_length=MAX_NAME_CHARS, pattern=PRINTABLE)]
Value = float | int | str | bool | None
AwareTime = Annotated[datetime, Meta(tz=True)]
Reason = Literal["bad_json", "wrong_type", "missing_field", "oversize", "future_timestamp",
                 "past_timestamp", "unknown_model", "empty_payload", "bad_value",
                 "too_many_models"]
DEAD_LETTER_REASONS: tuple[Reason, ...] = get_args(Reason)
DEAD_LETTER_VALUE_BYTES = 64 * 1024  # original value kept in a dead letter, at most
DEAD_LETTER_KEY_BYTES = 1024
DETAIL_CHARS = 1000


class PredictionEvent(msgspec.Struct, frozen=True, gc=False):
    """One prediction of one model (decoded events never form reference cycles)."""

    event_id: Id
    model_id: Name
    event_time: AwareTime
    features: Annotated[dict[Key, Value], Meta(max_length=MAX_FEATURES)]
    model_version: Name = "1"
    prediction_id: Annotated[str, Meta(max_length=MAX_ID_CHARS)] | None = None
    prediction: Value = None
    score: float | None = None
    segment: dict[Key, Key] | None = None


class LabelEvent(msgspec.Struct, frozen=True, gc=False):
    """The ground truth of an earlier prediction (topic ``driftline.labels``)."""

    prediction_id: Id
    model_id: Name
    label: float | int | str | bool
    event_time: AwareTime


class Message(Protocol):
    """What decoding reads of a consumed record: a ``RawMessage`` (what the worker's
    consumer hands out, ``streams.transport.fetching``) or aiokafka's ``ConsumerRecord``."""

    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def key(self) -> bytes | None: ...
    @property
    def value(self) -> bytes | None: ...
    @property
    def headers(self) -> Sequence[tuple[str, bytes]]: ...


class RawMessage(msgspec.Struct, frozen=True, gc=False):
    """A consumed Kafka record, as the ingest consumer hands it over
    (``streams.transport.fetching``)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp_ms: int | None = None
    headers: Sequence[tuple[str, bytes]] = ()


def _payload(data: bytes | None, limit: int) -> dict[str, object] | None:
    """Text when ``data`` is UTF-8, base64 otherwise; at most ``limit`` bytes of it."""
    if data is None:
        return None
    kept = data[:limit]
    try:
        data.decode("utf-8")
        text = kept.decode("utf-8", errors="ignore")  # drops only a character cut at limit
        encoding = "utf-8"
    except UnicodeDecodeError:
        text, encoding = base64.b64encode(kept).decode("ascii"), "base64"
    return {"encoding": encoding, "data": text, "size": len(data),
            "truncated": len(data) > limit}


class DeadLetter(msgspec.Struct, frozen=True, gc=False):
    """An invalid message, its reason and the error text, for ``driftline.deadletter``."""

    reason: Reason
    detail: str
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None

    def to_json(self) -> bytes:
        """The dead-letter record: key and value as text or base64, each bounded."""
        return msgspec.json.encode({
            "reason": self.reason, "error": self.detail, "topic": self.topic,
            "partition": self.partition, "offset": self.offset,
            "key": _payload(self.key, DEAD_LETTER_KEY_BYTES),
            "value": _payload(self.value, DEAD_LETTER_VALUE_BYTES)})


E = TypeVar("E", PredictionEvent, LabelEvent)
Problem = tuple[Reason, str]


@dataclass
class DecodedBatch:
    """The valid prediction events with their (partition, offset), and the dead letters."""

    events: list[PredictionEvent] = field(default_factory=list)
    positions: list[tuple[int, int]] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)


@dataclass
class DecodedLabels:
    """The valid label events with their (partition, offset), and the dead letters."""

    events: list[LabelEvent] = field(default_factory=list)
    positions: list[tuple[int, int]] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)


@dataclass(frozen=True)
class Limits:
    """What ``limits_for`` derives from the ingest settings at one ``now``."""

    max_bytes: int
    latest: datetime
    earliest: datetime
    known: frozenset[str] | None


_PREDICTIONS = msgspec.json.Decoder(PredictionEvent)
_LABELS = msgspec.json.Decoder(LabelEvent)


def limits_for(now: datetime, ingest: IngestSettings,
               known_models: Collection[str] | None) -> Limits:
    """The size, time and model limits an event is validated against."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError(f"now must be a timezone-aware datetime, got {now!r}")
    known = frozenset(known_models or ()) if ingest.unknown_models == "reject" else None
    return Limits(ingest.max_event_bytes, now + timedelta(seconds=ingest.max_future),
                  now - timedelta(seconds=ingest.max_past), known)


def _parse(value: bytes, decoder: msgspec.json.Decoder[E], event_type: type[E]) -> E | Problem:
    """The event, or the reason and detail of its refusal (``streams.decoding.problems``).

    A message the typed decoder refuses as invalid (not as malformed JSON) is decoded a
    second time, untyped, reading numbers too large for a double as ±inf, and converted:
    that accepts the overflows the schema keeps; anything else is explained by our checks.
    """
    try:
        return decoder.decode(value)
    except msgspec.ValidationError:
        return reread(value, event_type)
    except (msgspec.DecodeError, RecursionError, UnicodeDecodeError) as error:
        return malformed(error)


def _check_common(model_id: str, event_time: datetime, limits: Limits) -> Problem | None:
    if event_time > limits.latest:
        return ("future_timestamp", f"event_time {event_time.isoformat()} is later than now + "
                f"ingest.max_future ({limits.latest.isoformat()})")
    if event_time < limits.earliest:
        return ("past_timestamp", f"event_time {event_time.isoformat()} is earlier than now - "
                f"ingest.max_past ({limits.earliest.isoformat()})")
    if limits.known is not None and model_id not in limits.known:
        return ("unknown_model", f"model_id {model_id[:100]!r} is not listed under models "
                "(ingest.unknown_models is reject)")
    return None


def _check_prediction(event: PredictionEvent, limits: Limits) -> Problem | None:
    score = event.score
    if score is not None and not math.isfinite(score):
        return "bad_value", f"$.score must be a finite number, got {score}"
    return _check_common(event.model_id, event.event_time, limits)


def _check_label(event: LabelEvent, limits: Limits) -> Problem | None:
    return _check_common(event.model_id, event.event_time, limits)


def _validate(
    value: bytes | None,
    decoder: msgspec.json.Decoder[E],
    event_type: type[E],
    check: Callable[[E, Limits], Problem | None],
    limits: Limits,
) -> E | Problem:
    if not value:
        return ("empty_payload", "message has no value" if value is None
                else "message value is empty")
    if len(value) > limits.max_bytes:
        return ("oversize", f"message value is {len(value)} bytes, more than "
                f"ingest.max_event_bytes ({limits.max_bytes})")
    outcome = too_deep(value) or _parse(value, decoder, event_type)
    if isinstance(outcome, tuple):
        return outcome
    return check(outcome, limits) or outcome


def validate_prediction(value: bytes | None, limits: Limits) -> PredictionEvent | Problem:
    """One prediction message's event, or its ``(reason, detail)``, as the decoder judges it."""
    return _validate(value, _PREDICTIONS, PredictionEvent, _check_prediction, limits)


def validate_label(value: bytes | None, limits: Limits) -> LabelEvent | Problem:
    """One label message's event, or its ``(reason, detail)``, as the decoder judges it."""
    return _validate(value, _LABELS, LabelEvent, _check_label, limits)


def _decode(
    messages: Iterable[Message],
    decoder: msgspec.json.Decoder[E],
    event_type: type[E],
    check: Callable[[E, Limits], Problem | None],
    limits: Limits,
    out: tuple[list[E], list[tuple[int, int]], list[DeadLetter]],
) -> None:
    events, positions, dead_letters = out
    for message in messages:
        value = message.value
        outcome = _validate(value, decoder, event_type, check, limits)
        if isinstance(outcome, tuple):
            dead_letters.append(DeadLetter(
                outcome[0], outcome[1][:DETAIL_CHARS], message.topic, message.partition,
                message.offset, message.key, value))
        else:
            events.append(outcome)
            positions.append((message.partition, message.offset))


def decode_predictions(
    messages: Iterable[Message],
    *,
    now: datetime,
    ingest: IngestSettings,
    known_models: Collection[str] | None = None,
) -> DecodedBatch:
    """Decode and validate a batch of prediction messages; invalid ones become dead letters.

    ``now`` (timezone-aware) bounds ``event_time`` by ``ingest.max_future`` and
    ``ingest.max_past``. With ``ingest.unknown_models == "reject"`` a ``model_id``
    outside ``known_models`` (``Settings.known_models``) is dead-lettered.
    """
    batch = DecodedBatch()
    _decode(messages, _PREDICTIONS, PredictionEvent, _check_prediction,
            limits_for(now, ingest, known_models),
            (batch.events, batch.positions, batch.dead_letters))
    return batch


def decode_labels(
    messages: Iterable[Message],
    *,
    now: datetime,
    ingest: IngestSettings,
    known_models: Collection[str] | None = None,
) -> DecodedLabels:
    """Decode and validate a batch of label messages, as ``decode_predictions``."""
    batch = DecodedLabels()
    _decode(messages, _LABELS, LabelEvent, _check_label, limits_for(now, ingest, known_models),
            (batch.events, batch.positions, batch.dead_letters))
    return batch


class PastTimestampLog:
    """A WARNING at most once a minute while events are dead-lettered as ``past_timestamp``.

    Such events are usually history replayed without the backfill mark, and a
    stream of dead letters alone would not tell the operator so. The count is of
    the events since the last line; ``note`` is safe from several threads (the
    ingest decodes partitions side by side).
    """

    def __init__(self, what: str, max_past: float, interval: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.what, self.max_past, self.interval = what, max_past, interval
        self._clock = clock
        self._last = -math.inf
        self._count = 0
        self._lock = threading.Lock()

    def note(self, dead_letters: Iterable[DeadLetter]) -> bool:
        """Count the ``past_timestamp`` dead letters; True when a line was logged."""
        count = sum(1 for d in dead_letters if d.reason == "past_timestamp")
        if not count:
            return False
        with self._lock:
            self._count += count
            now = self._clock()
            if now - self._last < self.interval:
                return False
            self._last, count, self._count = now, self._count, 0
        log.warning("%s: dead-lettered %d event(s) as past_timestamp (event_time older than "
                    "ingest.max_past, %s); to replay history, mark it as a backfill: "
                    "`driftline backfill` or `driftline replay --backfill` (docs/backfill.md)",
                    self.what, count, _span(self.max_past))
        return True


def _span(seconds: float) -> str:
    """``7d``, ``36h``, ``90s``: a duration as the configuration would write it."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"
