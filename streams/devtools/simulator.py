"""Synthetic prediction and label events of a fraud-scoring binary classifier.

``Simulator`` yields schema v1 events (``docs/events.md``) that are a pure function of
``(seed, model_id, index)``: generating events 0..n in one go or in pieces gives
the same events, and ``shift_at=None`` gives the same events as a shift that
has not happened yet. Event time runs on a simulated clock
(``events_per_second`` events per second of *event* time, so a short demo spans
many windows), with jitter inside each inter-arrival gap and about 0.2 % of
events late by 0.5-10 s (out of order).

From ``shift_at`` on (event time, seconds after ``start`` or a datetime) the
features in ``shifted_features`` change: ``amount`` (mean of its log +0.5) and
``sessions_7d`` (Poisson mean 4 -> 7) shift in mean, ``ip_risk`` in variance
(sd 8 -> 20, same mean), and ``country`` in mix, with a new country (BR). The
``stable_features`` keep their distributions. The model's score is a logistic
model of the features; with ``concept_drift`` the ground truth also changes
from ``concept_at`` on (by default the same moment as ``shift_at``): web traffic
turns riskier than the model believes while the inputs keep their distribution,
so labels show a performance drop that data drift alone cannot see.

Labels: each prediction's label comes ``label_delay`` seconds of event time
later on average (exponential), and a share ``1 - label_share`` of them never
comes (drawn from a separate random stream, so the events do not depend on it).
``timeline`` merges predictions and labels in event-time order, as a live
system would send them.
"""

from __future__ import annotations

import heapq
import uuid
import zlib
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, Literal, TypeVar

import msgspec
import numpy as np
from numpy.typing import NDArray

T = TypeVar("T")
BLOCK = 1024
DEFAULT_START = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
INVALID_KINDS = ("bad_json", "wrong_type", "missing_field")
REQUIRED_FIELDS = ("event_id", "model_id", "model_version", "event_time", "prediction_id",
                   "features", "prediction")
_EPOCH = datetime(1970, 1, 1)
_NAMESPACE = uuid.UUID("5b0c7d4e-3f8a-4c1e-9a57-d1f7e3a2c6b9")
_LATE_SHARE = 0.002

NUMERIC = ("amount", "age", "tenure_days", "sessions_7d", "txn_count_30d", "avg_basket",
           "credit_score", "days_since_login", "ip_risk", "failed_logins_24h", "distance_km",
           "discount_rate")
CATEGORICAL = ("country", "device", "channel", "card_type")
SHIFTED = ("amount", "sessions_7d", "ip_risk", "country")
INTEGER = frozenset({"age", "tenure_days", "sessions_7d", "txn_count_30d", "credit_score",
                     "failed_logins_24h"})
NULL_RATES = {"age": 0.02, "credit_score": 0.04, "distance_km": 0.03, "device": 0.01}
# name: (categories, weights, weights after the shift)
CATEGORIES: dict[str, tuple[tuple[str, ...], tuple[float, ...], tuple[float, ...]]] = {
    "country": (("DE", "FR", "US", "GB", "ES", "IT", "NL", "BR"),
                (0.28, 0.18, 0.22, 0.14, 0.10, 0.05, 0.03, 0.0),
                (0.18, 0.12, 0.20, 0.10, 0.08, 0.04, 0.03, 0.25)),
    "device": (("ios", "android", "web"), (0.42, 0.43, 0.15), (0.42, 0.43, 0.15)),
    "channel": (("app", "web", "pos", "phone"), (0.55, 0.30, 0.10, 0.05),
                (0.55, 0.30, 0.10, 0.05)),
    "card_type": (("visa", "mastercard", "amex"), (0.52, 0.38, 0.10), (0.52, 0.38, 0.10)),
}
REGIONS = {"DE": "eu", "FR": "eu", "GB": "eu", "ES": "eu", "IT": "eu", "NL": "eu",
           "US": "na", "BR": "latam"}


class Simulator:
    """Prediction events of one model; see the module docstring."""

    numeric_features: ClassVar[tuple[str, ...]] = NUMERIC
    categorical_features: ClassVar[tuple[str, ...]] = CATEGORICAL
    shifted_features: ClassVar[tuple[str, ...]] = SHIFTED
    stable_features: ClassVar[tuple[str, ...]] = tuple(
        name for name in NUMERIC + CATEGORICAL if name not in SHIFTED)

    def __init__(self, seed: int = 0, model_id: str = "fraud", model_version: str = "1",
                 events_per_second: float = 200.0, shift_at: float | datetime | None = 1800.0,
                 *, start: datetime = DEFAULT_START, threshold: float = 0.5,
                 concept_drift: bool = True, label_delay: float = 60.0,
                 concept_at: float | datetime | Literal["shift"] | None = "shift",
                 label_share: float = 1.0) -> None:
        _check(seed >= 0, "seed", "an integer >= 0", seed)
        _check(bool(model_id), "model_id", "a non-empty string", model_id)
        _check(events_per_second > 0, "events_per_second", "> 0", events_per_second)
        _check(0 < threshold < 1, "threshold", "in (0, 1)", threshold)
        _check(label_delay >= 0, "label_delay", ">= 0 seconds", label_delay)
        _check(0 <= label_share <= 1, "label_share", "in [0, 1]", label_share)
        _check(start.tzinfo is not None, "start", "a timezone-aware datetime", start)
        self.seed, self.model_id, self.model_version = seed, model_id, str(model_version)
        self.events_per_second, self.threshold = float(events_per_second), threshold
        self.start, self.concept_drift, self.label_delay = start, concept_drift, label_delay
        self._origin_ms = _to_ms(start)
        self._shift_ms = self._shift_point(shift_at)
        _check(not isinstance(concept_at, str) or concept_at == "shift", "concept_at",
               "seconds, a datetime, None or 'shift'", concept_at)
        self._concept_ms = (self._shift_ms if isinstance(concept_at, str)
                            else self._shift_point(concept_at, "concept_at"))
        self.label_share = float(label_share)
        self._kept: tuple[int, NDArray[np.bool_]] | None = None
        self._stream = zlib.crc32(model_id.encode())

    @property
    def shift_time(self) -> datetime | None:
        """The event time from which events are shifted, or None for no shift."""
        if self._shift_ms is None:
            return None
        return (_EPOCH + timedelta(milliseconds=self._shift_ms)).replace(tzinfo=UTC)

    @property
    def concept_time(self) -> datetime | None:
        """The event time from which the label function changes, or None."""
        if self._concept_ms is None or not self.concept_drift:
            return None
        return (_EPOCH + timedelta(milliseconds=self._concept_ms)).replace(tzinfo=UTC)

    def label_arrives(self, index: int) -> bool:
        """Whether the label of prediction ``index`` is ever sent (``label_share``)."""
        block = index // BLOCK
        if self._kept is None or self._kept[0] != block:
            rng = np.random.default_rng([self.seed, self._stream, block, 1])
            self._kept = (block, rng.random(BLOCK) < self.label_share)
        return bool(self._kept[1][index - block * BLOCK])

    def timeline(self, n: int | None, *, first: int = 0
                 ) -> Iterator[tuple[str, dict[str, Any]]]:
        """``("prediction" | "label", event)`` in event-time order, labels that never come left out.

        A label is released once a prediction at least as late as its event time
        has been released; the labels still due after the last prediction follow it.
        """
        for kind, _, event in self._timeline(n, first, 0.0):
            yield kind, event

    def records(self, n: int | None, invalid_rate: float = 0.0, *, first: int = 0
                ) -> Iterator[tuple[str, bytes, bytes]]:
        """``timeline`` as ``(kind, key, value)`` records, as ``payloads`` and ``labels`` send them.

        Predictions are keyed by model id and a share ``invalid_rate`` of them is
        replaced by invalid payloads (the same ones ``payloads`` replaces), whose
        labels are never sent; labels are keyed by prediction id.
        """
        _check(0 <= invalid_rate <= 1, "invalid_rate", "in [0, 1]", invalid_rate)
        key = self.model_id.encode()
        for kind, index, event in self._timeline(n, first, invalid_rate):
            if kind == "label":
                yield kind, str(event["prediction_id"]).encode(), msgspec.json.encode(event)
                continue
            bad = self._invalid_kind(index, invalid_rate)
            yield kind, key, msgspec.json.encode(event) if bad is None else _corrupt(event, bad,
                                                                                      index)

    def _timeline(self, n: int | None, first: int, invalid_rate: float
                  ) -> Iterator[tuple[str, int, dict[str, Any]]]:
        due: list[tuple[str, int, dict[str, Any]]] = []
        for index, (prediction, label) in enumerate(self.labelled(n, first=first), start=first):
            now = prediction["event_time"]
            while due and due[0][0] <= now:
                _, done, event = heapq.heappop(due)
                yield "label", done, event
            if self.label_arrives(index) and not self._is_invalid(index, invalid_rate):
                heapq.heappush(due, (label["event_time"], index, label))
            yield "prediction", index, prediction
        while due:
            _, done, event = heapq.heappop(due)
            yield "label", done, event

    def events(self, n: int | None, *, first: int = 0) -> Iterator[dict[str, Any]]:
        """Prediction events ``first .. first + n`` (endless for ``n=None``)."""
        for prediction, _ in self.labelled(n, first=first):
            yield prediction

    def labelled(self, n: int | None, *, first: int = 0
                 ) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
        """``(prediction, label)`` event pairs; a label comes ``label_delay`` s later on average."""
        _check(n is None or n >= 0, "n", "an integer >= 0 or None", n)
        _check(first >= 0, "first", "an integer >= 0", first)
        stop = None if n is None else first + n
        block = first // BLOCK
        while stop is None or block * BLOCK < stop:
            lo = max(first, block * BLOCK) - block * BLOCK
            hi = BLOCK if stop is None else min(BLOCK, stop - block * BLOCK)
            yield from self._block(block)[lo:hi]
            block += 1

    def labels(self, n: int | None, *, first: int = 0, invalid_rate: float = 0.0
               ) -> Iterator[dict[str, Any]]:
        """Label events of the predictions that ``payloads(n, invalid_rate)`` sends valid."""
        _check(0 <= invalid_rate <= 1, "invalid_rate", "in [0, 1]", invalid_rate)
        for index, (_, label) in enumerate(self.labelled(n, first=first), start=first):
            if not self._is_invalid(index, invalid_rate) and self.label_arrives(index):
                yield label

    def payloads(self, n: int | None, invalid_rate: float = 0.0, *, first: int = 0
                 ) -> Iterator[tuple[bytes, bytes]]:
        """``(key, value)`` records; a share ``invalid_rate`` of them replaced by invalid ones.

        Invalid values are bad JSON, a field of the wrong type or a required field
        missing (``INVALID_KINDS``), keyed like the valid ones.
        """
        _check(0 <= invalid_rate <= 1, "invalid_rate", "in [0, 1]", invalid_rate)
        key = self.model_id.encode()
        for index, event in enumerate(self.events(n, first=first), start=first):
            kind = self._invalid_kind(index, invalid_rate)
            yield key, msgspec.json.encode(event) if kind is None else _corrupt(event, kind, index)

    def invalid_indices(self, n: int, invalid_rate: float, *, first: int = 0) -> list[int]:
        """The indices that ``payloads(n, invalid_rate, first=first)`` makes invalid."""
        return [i for i in range(first, first + n) if self._is_invalid(i, invalid_rate)]

    def _is_invalid(self, index: int, invalid_rate: float) -> bool:
        return self._invalid_kind(index, invalid_rate) is not None

    def _invalid_kind(self, index: int, invalid_rate: float) -> str | None:
        if invalid_rate <= 0:
            return None
        draws = np.random.default_rng([self.seed, self._stream, index, 1]).random(2)
        return INVALID_KINDS[int(draws[1] * 3)] if draws[0] < invalid_rate else None

    def _shift_point(self, shift_at: float | datetime | None, name: str = "shift_at"
                     ) -> int | None:
        if shift_at is None:
            return None
        if isinstance(shift_at, datetime):
            _check(shift_at.tzinfo is not None, name, "a timezone-aware datetime", shift_at)
            return _to_ms(shift_at)
        _check(shift_at >= 0, name, ">= 0 seconds after start", shift_at)
        return self._origin_ms + round(shift_at * 1000)

    def _block(self, block: int) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        rng = np.random.default_rng([self.seed, self._stream, block])
        index = np.arange(block * BLOCK, (block + 1) * BLOCK)
        times = self._event_times(rng, index)
        shifted = (np.zeros(BLOCK, dtype=bool) if self._shift_ms is None
                   else times >= self._shift_ms)
        features = _draw(rng, shifted)
        logit = _logit(features)
        score = np.round(1.0 / (1.0 + np.exp(-logit)), 4)
        changed = (np.zeros(BLOCK, dtype=bool) if self._concept_ms is None
                   else times >= self._concept_ms)
        truth = logit + (_concept_shift(features) * changed if self.concept_drift else 0.0)
        label = (rng.random(BLOCK) < 1.0 / (1.0 + np.exp(-truth))).astype(np.int64)
        delay = np.round(rng.exponential(self.label_delay * 1000, BLOCK)).astype(np.int64)
        columns = (index.tolist(), _rfc3339(times), _rfc3339(times + delay), _rows(features),
                   score.tolist(), label.tolist())
        return [self._pair(*values) for values in zip(*columns, strict=True)]

    def _event_times(self, rng: np.random.Generator, index: NDArray[np.int64]
                     ) -> NDArray[np.int64]:
        gap_ms = 1000.0 / self.events_per_second
        jitter = rng.random(BLOCK) * gap_ms * 0.9
        late = rng.random(BLOCK) < _LATE_SHARE
        lateness = rng.uniform(500.0, 10_000.0, BLOCK) * late
        return (self._origin_ms + np.floor(index * gap_ms + jitter - lateness)).astype(np.int64)

    def _pair(self, index: int, event_time: str, label_time: str, features: dict[str, Any],
              score: float, label: int) -> tuple[dict[str, Any], dict[str, Any]]:
        prediction_id = f"{self.model_id}-{self.seed}-{index}"
        event = {
            "event_id": str(uuid.uuid5(_NAMESPACE, f"{self.seed}/{self.model_id}/{index}")),
            "model_id": self.model_id,
            "model_version": self.model_version,
            "event_time": event_time,
            "prediction_id": prediction_id,
            "features": features,
            "prediction": int(score >= self.threshold),
            "score": score,
            "segment": {"region": REGIONS.get(features["country"], "other")},
        }
        label_event = {"prediction_id": prediction_id, "model_id": self.model_id,
                       "label": label, "event_time": label_time}
        return event, label_event


def interleave(streams: Sequence[Iterator[T]]) -> Iterator[T]:
    """Round-robin over ``streams`` until all are exhausted."""
    live = list(streams)
    while live:
        still = []
        for stream in live:
            item = next(stream, _DONE)
            if item is not _DONE:
                still.append(stream)
                yield item  # type: ignore[misc]
        live = still


def split_count(n: int, parts: int) -> list[int]:
    """``n`` split into ``parts`` near-equal shares, larger first (as ``interleave`` deals)."""
    return [n // parts + (i < n % parts) for i in range(parts)]


def _corrupt(event: dict[str, Any], kind: str, index: int) -> bytes:
    if kind == "bad_json":
        text = msgspec.json.encode(event)
        return text[: len(text) // 2] if index % 2 else b"{'model_id': " + text[1:20]
    broken = dict(event)
    if kind == "missing_field":
        del broken[_MANDATORY[index % len(_MANDATORY)]]
    else:
        field, value = _WRONG_TYPES[index % len(_WRONG_TYPES)]
        broken[field] = value
    return msgspec.json.encode(broken)


# Fields without which the schema (streams.decoding.events) refuses an event.
_MANDATORY = ("event_id", "model_id", "event_time", "features")
_WRONG_TYPES: tuple[tuple[str, Any], ...] = (
    ("score", "high"), ("prediction", [1]), ("event_time", 1_700_000_000),
    ("features", [1.0, 2.0]), ("model_id", 42), ("event_id", None))
_DONE = object()


Columns = dict[str, NDArray[Any]]


def _draw(rng: np.random.Generator, shifted: NDArray[np.bool_]) -> Columns:
    """All features of one block; the same draws whether or not events are shifted."""
    n = shifted.size
    columns: Columns = {
        "amount": np.round(rng.lognormal(np.where(shifted, 3.9, 3.4), 0.9), 2),
        "age": np.clip(np.round(rng.normal(41.0, 12.0, n)), 18, 90),
        "tenure_days": np.round(rng.exponential(700.0, n)),
        # Poisson draws take a varying number of random numbers: draw both, pick one.
        "sessions_7d": np.where(shifted, rng.poisson(7.0, n), rng.poisson(4.0, n)),
        "txn_count_30d": rng.poisson(12.0, n),
        "avg_basket": np.round(rng.gamma(2.0, 28.0, n), 2),
        "credit_score": np.clip(np.round(rng.normal(690.0, 55.0, n)), 300, 850),
        "days_since_login": np.round(rng.exponential(2.5, n), 2),
        "ip_risk": np.round(np.clip(rng.normal(35.0, np.where(shifted, 20.0, 8.0)), 0, 100), 1),
        "failed_logins_24h": rng.poisson(0.25, n),
        "distance_km": np.round(rng.lognormal(2.0, 1.1, n), 1),
        "discount_rate": np.round(rng.beta(2.0, 12.0, n), 3),
    }
    for name, (names, before, after) in CATEGORIES.items():
        u = rng.random(n)
        chosen = np.where(shifted, _pick(u, after), _pick(u, before))
        columns[name] = np.asarray(names, dtype=object)[chosen]
    for name, rate in NULL_RATES.items():
        columns[f"{name}:null"] = rng.random(n) < rate
    return columns


def _pick(u: NDArray[np.float64], weights: tuple[float, ...]) -> NDArray[np.intp]:
    cumulative = np.cumsum(weights)
    cumulative[-1] = 1.0
    return np.searchsorted(cumulative, u, side="right")


def _logit(c: Columns) -> NDArray[np.float64]:
    """The model: a logistic regression fitted on the period before the shift."""
    age = np.where(c["age:null"], 41.0, c["age"])
    credit = np.where(c["credit_score:null"], 690.0, c["credit_score"])
    return np.asarray(
        -1.8 + 0.8 * (np.log(c["amount"]) - 3.4) + 0.15 * (c["sessions_7d"] - 4)
        - 0.02 * (age - 41) + 0.05 * (c["ip_risk"] - 35) + 0.9 * c["failed_logins_24h"]
        - 0.0004 * (c["tenure_days"] - 700) - 0.004 * (credit - 690)
        + 0.5 * (c["channel"] == "phone") + 0.3 * (c["device"] == "web"), dtype=np.float64)


def _concept_shift(c: Columns) -> NDArray[np.float64]:
    """What the model does not know after the shift: web traffic turns riskier."""
    return np.asarray(1.5 * (c["channel"] == "web"), dtype=np.float64)


def _rows(c: Columns) -> list[dict[str, Any]]:
    lists = []
    for name in NUMERIC + CATEGORICAL:
        values = c[name].astype(np.int64) if name in INTEGER else c[name]
        column = values.tolist()
        if name in NULL_RATES:
            column = [None if null else v for v, null in zip(column, c[f"{name}:null"].tolist(),
                                                            strict=True)]
        lists.append(column)
    names = NUMERIC + CATEGORICAL
    return [dict(zip(names, values, strict=True)) for values in zip(*lists, strict=True)]


def _to_ms(moment: datetime) -> int:
    return round(moment.timestamp() * 1000)


def _rfc3339(ms: NDArray[np.int64]) -> list[str]:
    """Milliseconds since the epoch as RFC 3339 UTC times with milliseconds and ``Z``."""
    text = np.datetime_as_string(ms.astype("datetime64[ms]"), unit="ms")
    return np.char.add(text, "Z").tolist()  # type: ignore[no-any-return]


def _check(ok: bool, name: str, allowed: str, value: object) -> None:
    if not ok:
        raise ValueError(f"{name} must be {allowed}, got {value!r}")
