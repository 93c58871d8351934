"""Late labels joined to their predictions: the in-memory state of one partition.

The stream repartitions predictions and labels by ``prediction_id``; a ``JoinState``
holds one partition of that stream. It is pure and deterministic: no I/O, and the
clock comes in as arguments (event times and ``now`` are seconds; ``now`` is
processing time).

Decisions:

* **The prediction TTL is event time, per model.** A prediction leaves when its
  model's watermark passes ``event_time + prediction_ttl``. A model's watermark is
  the largest event time of its labels seen, or, when they stall, the largest event
  time of its predictions minus ``prediction_ttl`` (so with no labels at all memory
  still stays bounded, at about two TTLs of predictions). Labels come minutes to
  weeks late: a processing-time TTL would expire every prediction after a long
  outage or during a replay, while the label watermark moves only as fast as labels
  are read. The watermark is the model's own (by ``model_id``), not the partition's:
  the partition holds many models' predictions, and a backfill of one model's history
  (``streams.decoding.backfill``) must not see its predictions expired by another model's
  live labels. A
  prediction's arrival time is therefore not stored (no rule would read it, and it
  would cost 8 bytes per pending prediction), and ``add_predictions`` takes no ``now``.
* **Early labels are held in processing time.** A label whose prediction is unknown
  is held for at least ``early_label_hold`` seconds of ``now`` (the skew between two
  topics is a delivery matter); its prediction arriving meanwhile joins it, later
  ``expire`` counts it as unmatched. Held labels leave in arrival order (``now`` is
  expected not to go backwards). A label for an already forgotten prediction cannot
  be told apart and ends the same way.
* **Only ``expire(now)`` removes entries.** ``add_*`` apply a batch's rows in order
  and never expire, so how a stream is cut into batches does not change the result
  (the caller calls ``expire`` once per batch or on a timer).
* **Duplicates.** A joined id is remembered, without its prediction value, until
  the prediction's TTL ends: a second label meanwhile is counted once as a duplicate
  and yields no outcome; after it, such a label is unmatched. A second label for a
  held id is a duplicate too (the first is kept). A second prediction with a known
  id (pending or joined) is ignored and counted in ``duplicate_predictions``.
* **Keys and counters.** The join key is ``prediction_id`` alone; an outcome carries
  the prediction's model and version. Counters are per ``model_id`` (labels carry no
  version): the prediction's for joins, duplicates and expiries, the label's for
  held and unmatched labels. ``latency`` is label minus prediction event time, kept
  as is even when negative (clocks disagree).
* **Outcomes** are frozen ``msgspec.Struct`` values, like the events: immutable and
  typed as a frozen dataclass, built much faster (a dataclass would cap the join's
  rate; bench/README.md, "Figures behind decisions in the code") and encoded
  straight to JSON for the topic.
  They come out in the order their labels (or, for a held label, their
  predictions) arrive, which depends on timing; the performance consumer puts
  them in event-time order before a detector sees them (``streams.labels.error_feed``).
* **Count windows.** A prediction of a model with count windows carries the start
  of the window it went to (``PredictionColumns.windows``, from the ingest); it is
  kept with the pending prediction, snapshot included, and its outcome carries it
  as ``window_start``, so a label however late is attributed to that window. Time
  windows need none (the window follows from the event time): ``window_start`` is
  None.
* **Memory.** Struct of arrays: a dict ``prediction_id -> slot`` (``~slot`` once
  joined) and numpy columns per slot (event time, score with NaN for none, count
  window start with NaN for none, model code, live/joined flags, id and prediction
  references); freed slots are reused.
* **Snapshots.** ``to_dict`` is JSON-safe (a non-finite prediction or label float is
  written as ``{"float": "inf"}``; count window starts are written only when a
  prediction has one, so a time-window snapshot does not grow); the TTL and hold
  are settings, not state: ``from_dict`` takes the current ones, which then apply
  to restored entries.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import msgspec
import numpy as np
from numpy.typing import NDArray

from streams.decoding.events import LabelEvent, PredictionEvent

Value = float | int | str | bool | None
SNAPSHOT_VERSION = 1
_TALLIES = ("joined", "duplicate_labels", "duplicate_predictions", "unmatched_labels",
            "expired_predictions")


class Outcome(msgspec.Struct, frozen=True, gc=False):
    """A label joined to its prediction (``msgspec.json.encode`` writes it as is)."""

    model_id: str
    model_version: str
    prediction_id: str
    prediction_time: float
    label_time: float
    prediction: Value
    score: float | None
    label: Value
    latency: float
    window_start: float | None = None  # count windows: the prediction's window

@dataclass(frozen=True)
class ExpiryReport:
    """What one ``expire`` call removed, per model_id."""

    expired_predictions: dict[str, int]
    unmatched_labels: dict[str, int]


@dataclass(frozen=True)
class JoinCounters:
    """Cumulative tallies and current sizes, per model_id."""

    joined: dict[str, int]
    duplicate_labels: dict[str, int]
    duplicate_predictions: dict[str, int]
    unmatched_labels: dict[str, int]
    expired_predictions: dict[str, int]
    pending_predictions: dict[str, int]
    held_labels: dict[str, int]


def _check_lengths(kind: str, columns: Mapping[str, int]) -> None:
    if len(set(columns.values())) > 1:
        sizes = ", ".join(f"{name}={size}" for name, size in columns.items())
        raise ValueError(f"{kind} columns must have equal lengths, got {sizes}")


@dataclass(frozen=True)
class PredictionColumns:
    """A batch of predictions; ``scores`` holds NaN where an event has none."""

    prediction_ids: Sequence[str]
    model_ids: Sequence[str]
    model_versions: Sequence[str]
    event_times: NDArray[np.float64]
    predictions: Sequence[Value]
    scores: NDArray[np.float64]
    windows: NDArray[np.float64] | None = None  # count windows: each one's window start

    def __post_init__(self) -> None:
        names = ["prediction_ids", "model_ids", "model_versions", "event_times", "predictions",
                 "scores"] + ([] if self.windows is None else ["windows"])
        _check_lengths("prediction", {name: len(getattr(self, name)) for name in names})

    @classmethod
    def from_events(cls, events: Iterable[PredictionEvent]) -> PredictionColumns:
        """Columns of the events that have a ``prediction_id`` (others cannot join)."""
        kept = [e for e in events if e.prediction_id is not None]
        return cls([str(e.prediction_id) for e in kept], [e.model_id for e in kept],
                   [e.model_version for e in kept],
                   np.array([e.event_time.timestamp() for e in kept], np.float64),
                   [e.prediction for e in kept],
                   np.array([math.nan if e.score is None else e.score for e in kept],
                            np.float64))


@dataclass(frozen=True)
class LabelColumns:
    """A batch of labels."""

    prediction_ids: Sequence[str]
    model_ids: Sequence[str]
    event_times: NDArray[np.float64]
    labels: Sequence[Value]

    def __post_init__(self) -> None:
        _check_lengths("label", {name: len(getattr(self, name)) for name in (
            "prediction_ids", "model_ids", "event_times", "labels")})

    @classmethod
    def from_events(cls, events: Iterable[LabelEvent]) -> LabelColumns:
        events = list(events)
        return cls([e.prediction_id for e in events], [e.model_id for e in events],
                   np.array([e.event_time.timestamp() for e in events], np.float64),
                   [e.label for e in events])


def _seconds(name: str, value: float, *, positive: bool) -> float:
    bad = isinstance(value, bool) or not isinstance(value, int | float)
    if bad or not math.isfinite(value) or value < 0 or (positive and value == 0):
        bound = "> 0" if positive else ">= 0"
        raise ValueError(f"{name} must be a finite number of seconds {bound}, got {value!r}")
    return float(value)


def _encode(value: Value) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return {"float": repr(value)}
    return value


def _decode(value: Any) -> Value:
    return float(value["float"]) if isinstance(value, dict) else value


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _advance(marks: dict[str, float], model_ids: Sequence[str], times: Sequence[float]) -> None:
    """Raise each model's watermark in ``marks`` to the largest of its ``times``."""
    for model_id, moment in zip(model_ids, times, strict=True):
        if moment > marks.get(model_id, -math.inf):
            marks[model_id] = moment


class JoinState:
    """Pending predictions, held labels and join counters of one partition."""

    def __init__(self, prediction_ttl: float, early_label_hold: float) -> None:
        self.prediction_ttl = _seconds("prediction_ttl", prediction_ttl, positive=True)
        self.early_label_hold = _seconds("early_label_hold", early_label_hold, positive=False)
        self._index: dict[str, int] = {}
        self._free: list[int] = []
        self._top = 0
        self._ids: NDArray[Any] = np.empty(0, object)
        self._predictions: NDArray[Any] = np.empty(0, object)
        self._times = np.empty(0, np.float64)
        self._scores = np.empty(0, np.float64)
        self._windows = np.empty(0, np.float64)
        self._models = np.empty(0, np.int32)
        self._live = np.zeros(0, bool)
        self._joined = np.zeros(0, bool)
        self._model_keys: list[tuple[str, str]] = []
        self._codes: dict[tuple[str, str], int] = {}
        self._held: dict[str, tuple[str, float, Value, float]] = {}  # model, time, label, now
        self._label_marks: dict[str, float] = {}  # per model_id
        self._prediction_marks: dict[str, float] = {}
        self._earliest = math.inf  # no live prediction has an earlier event time
        self._tallies: dict[str, Counter[str]] = {name: Counter() for name in _TALLIES}

    # ----- storage ---------------------------------------------------------------------
    def _reserve(self, n: int) -> None:
        need = self._top + max(0, n - len(self._free))
        capacity = len(self._times)
        if need <= capacity:
            return
        size = max(need, 2 * capacity, 1024)
        for name in ("_ids", "_predictions", "_times", "_scores", "_windows", "_models",
                     "_live", "_joined"):
            old = getattr(self, name)
            new = np.zeros(size, old.dtype) if old.dtype != object else np.empty(size, object)
            new[:capacity] = old
            setattr(self, name, new)

    def _code(self, model_id: str, version: str) -> int:
        key = (model_id, version)
        code = self._codes.get(key)
        if code is None:
            code = self._codes[key] = len(self._model_keys)
            self._model_keys.append(key)
        return code

    def _by_model(self, codes: NDArray[np.int32]) -> Counter[str]:
        counts: Counter[str] = Counter()
        for code, count in enumerate(np.bincount(codes).tolist()):
            if count:
                counts[self._model_keys[code][0]] += count
        return counts

    def _tally(self, name: str, codes: NDArray[np.int32]) -> None:
        self._tallies[name].update(self._by_model(codes))

    # ----- the join --------------------------------------------------------------------
    def add_predictions(self, batch: PredictionColumns) -> list[Outcome]:
        """Store new predictions; return the outcomes of labels that were waiting."""
        ids = batch.prediction_ids
        self._reserve(len(ids))
        index, held, free, top = self._index, self._held, self._free, self._top
        rows: list[int] = []
        slots: list[int] = []
        early: list[tuple[int, int, tuple[str, float, Value, float]]] = []
        for row, pid in enumerate(ids):
            if pid in index:
                self._tallies["duplicate_predictions"][batch.model_ids[row]] += 1
                continue
            slot = free.pop() if free else top
            if slot == top:
                top += 1
            waiting = held.pop(pid, None)
            index[pid] = slot if waiting is None else ~slot
            rows.append(row)
            slots.append(slot)
            if waiting is not None:
                early.append((slot, len(slots) - 1, waiting))
        self._top = top
        if len(ids):
            _advance(self._prediction_marks, batch.model_ids, batch.event_times.tolist())
        if not rows:
            return []
        at, picked = np.array(slots, np.intp), np.array(rows, np.intp)
        codes = [self._code(m, v) for m, v in zip(batch.model_ids, batch.model_versions,
                                                  strict=True)]
        self._ids[at] = np.array(ids, object)[picked]
        self._predictions[at] = np.array(batch.predictions, object)[picked]
        self._times[at] = batch.event_times[picked]
        self._scores[at] = batch.scores[picked]
        self._windows[at] = math.nan if batch.windows is None else batch.windows[picked]
        self._models[at] = np.array(codes, np.int32)[picked]
        self._live[at] = True
        self._joined[at] = False
        self._earliest = min(self._earliest, float(self._times[at].min()))
        return self._outcomes([s for s, _, _ in early], [ids[rows[i]] for _, i, _ in early],
                              [w[1] for _, _, w in early], [w[2] for _, _, w in early])

    def add_labels(self, batch: LabelColumns, now: float) -> list[Outcome]:
        """Join labels to pending predictions (in batch order); hold the early ones."""
        ids = batch.prediction_ids
        times = batch.event_times.tolist()
        index, held = self._index, self._held
        slots: list[int] = []
        rows: list[int] = []
        repeated: list[int] = []
        for row, pid in enumerate(ids):
            slot = index.get(pid)
            if slot is None:
                if pid in held:
                    self._tallies["duplicate_labels"][batch.model_ids[row]] += 1
                else:
                    held[pid] = (batch.model_ids[row], times[row], batch.labels[row], now)
            elif slot < 0:
                repeated.append(~slot)
            else:
                index[pid] = ~slot
                slots.append(slot)
                rows.append(row)
        if times:
            _advance(self._label_marks, batch.model_ids, times)
        self._tally("duplicate_labels", self._models[np.array(repeated, np.intp)])
        return self._outcomes(slots, [ids[r] for r in rows], [times[r] for r in rows],
                              [batch.labels[r] for r in rows])

    def _outcomes(self, slots: list[int], ids: list[str], label_times: list[float],
                  labels: list[Value]) -> list[Outcome]:
        if not slots:
            return []
        at = np.array(slots, np.intp)
        codes = self._models[at]
        self._tally("joined", codes)
        keys = [self._model_keys[c] for c in codes.tolist()]
        times = self._times[at].tolist()
        scores = [None if math.isnan(s) else s for s in self._scores[at].tolist()]
        windows = [None if math.isnan(w) else w for w in self._windows[at].tolist()]
        predictions = self._predictions[at].tolist()
        self._joined[at] = True
        self._predictions[at] = None
        return [Outcome(key[0], key[1], pid, t, lt, p, s, label, lt - t, w) for key, pid, t, lt,
                p, s, label, w in zip(keys, ids, times, label_times, predictions, scores, labels,
                                      windows, strict=True)]

    # ----- expiry ----------------------------------------------------------------------
    def watermark(self, model_id: str) -> float:
        """The event time ``model_id``'s predictions expire against (module docstring)."""
        return max(self._label_marks.get(model_id, -math.inf),
                   self._prediction_marks.get(model_id, -math.inf) - self.prediction_ttl)

    def expire(self, now: float) -> ExpiryReport:
        """Forget predictions past their TTL and labels held longer than the hold."""
        before = Counter(self._tallies["expired_predictions"])
        limits = np.array([self.watermark(model_id) - self.prediction_ttl
                           for model_id, _ in self._model_keys] or [-math.inf], np.float64)
        if limits.max() > self._earliest:
            top = self._top
            live = self._live[:top]
            due = live & (self._times[:top] < limits[self._models[:top]])
            gone = np.flatnonzero(due)
            self._tally("expired_predictions", self._models[gone[~self._joined[gone]]])
            for pid in self._ids[gone].tolist():
                del self._index[pid]
            self._live[gone] = False
            self._ids[gone] = None
            self._predictions[gone] = None
            self._free.extend(gone.tolist())
            left = self._times[:top][live & ~due]
            self._earliest = float(left.min()) if left.size else math.inf
        unmatched: Counter[str] = Counter()
        for model_id, _, _, arrived in self._held.values():
            if now - arrived <= self.early_label_hold:
                break
            unmatched[model_id] += 1
        for pid in list(self._held)[:unmatched.total()]:
            del self._held[pid]
        self._tallies["unmatched_labels"].update(unmatched)
        return ExpiryReport(dict(self._tallies["expired_predictions"] - before), dict(unmatched))

    # ----- counters and snapshots -------------------------------------------------------
    def counters(self) -> JoinCounters:
        pending = self._live[:self._top] & ~self._joined[:self._top]
        sizes = self._by_model(self._models[:self._top][pending])
        held = Counter(model_id for model_id, _, _, _ in self._held.values())
        return JoinCounters(**{name: dict(self._tallies[name]) for name in _TALLIES},
                            pending_predictions=dict(sizes), held_labels=dict(held))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe snapshot (``json.dumps(..., allow_nan=False)`` accepts it)."""
        live = np.flatnonzero(self._live[:self._top])
        windows = self._windows[live]
        # Count window starts only when some prediction has one (time windows have none).
        carried = {"windows": [_finite(w) for w in windows.tolist()]} if (
            not np.isnan(windows).all()) else {}
        return {
            "version": SNAPSHOT_VERSION,
            "label_watermarks": dict(self._label_marks),
            "prediction_watermarks": dict(self._prediction_marks),
            # The partition-wide watermarks of earlier versions, for a worker of one that
            # restores this snapshot during a rolling upgrade.
            "label_watermark": _finite(max(self._label_marks.values(), default=-math.inf)),
            "prediction_watermark": _finite(max(self._prediction_marks.values(),
                                                default=-math.inf)),
            "models": [list(key) for key in self._model_keys],
            "predictions": {
                "ids": self._ids[live].tolist(), "models": self._models[live].tolist(),
                "times": self._times[live].tolist(),
                "scores": [_finite(s) for s in self._scores[live].tolist()],
                "values": [_encode(p) for p in self._predictions[live].tolist()],
                "joined": self._joined[live].tolist(), **carried},
            "held": [[pid, m, t, _encode(label), arrived]
                     for pid, (m, t, label, arrived) in self._held.items()],
            "tallies": {name: dict(tally) for name, tally in self._tallies.items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], prediction_ttl: float,
                  early_label_hold: float) -> JoinState:
        """Rebuild from ``to_dict``, under the current TTL and hold."""
        if data.get("version") != SNAPSHOT_VERSION:
            raise ValueError(f"join snapshot version must be {SNAPSHOT_VERSION}, "
                             f"got {data.get('version')!r}")
        state = cls(prediction_ttl, early_label_hold)
        for model_id, version in data["models"]:
            state._code(model_id, version)
        rows = data["predictions"]
        n = len(rows["ids"])
        state._reserve(n)
        state._top = n
        state._ids[:n] = rows["ids"]
        state._models[:n] = rows["models"]
        state._times[:n] = rows["times"]
        state._scores[:n] = [math.nan if s is None else s for s in rows["scores"]]
        # No "windows": no prediction had a count window start (or the snapshot is older).
        windows = rows.get("windows") or [None] * n
        state._windows[:n] = [math.nan if w is None else w for w in windows]
        state._predictions[:n] = [_decode(p) for p in rows["values"]]
        state._live[:n] = True
        state._joined[:n] = rows["joined"]
        state._index = {pid: ~i if joined else i
                        for i, (pid, joined) in enumerate(zip(rows["ids"], rows["joined"],
                                                              strict=True))}
        state._earliest = float(state._times[:n].min()) if n else math.inf
        state._held = {pid: (m, float(t), _decode(label), float(arrived))
                       for pid, m, t, label, arrived in data["held"]}
        if "label_watermarks" in data:
            state._label_marks = {m: float(t) for m, t in data["label_watermarks"].items()}
            state._prediction_marks = {m: float(t)
                                       for m, t in data["prediction_watermarks"].items()}
        else:  # a snapshot of one watermark per partition: it was every model's
            for name, marks in (("label_watermark", state._label_marks),
                                ("prediction_watermark", state._prediction_marks)):
                if data.get(name) is not None:
                    marks.update(dict.fromkeys((m for m, _ in data["models"]),
                                               float(data[name])))
        for name in _TALLIES:
            state._tallies[name].update(data["tallies"][name])
        return state
