"""Windowed performance and the error-stream detector of one (model, version).

Outcomes (a label joined to its prediction, ``streams.labels.join.Outcome``) update:

* the performance sketch of the drift window that holds the *prediction*: the
  time window ``[k*size, (k+1)*size)`` of its event time
  (``models.<id>.window.size``), or, for a model with count windows, the count
  window the ingest put it in (``Outcome.window_start``, carried from the
  prediction through the join; ``streams.ingest.windows``). A count window's end here
  is the latest labelled prediction time seen in it (at least ``MIN_SPAN`` after
  its start); the store shows the drift window's own end once that is stored.
  Every window whose end is within ``labels.horizon`` of event time behind the
  newest prediction seen keeps its sketch, so a late label updates the stored row
  again (re-finalisation, never a second row); an outcome for an older window (for
  a count window: a prediction older than that) is counted ``too_late``. An
  outcome without a window start (a time-window model, or a prediction restored
  from a snapshot written before count windows were carried) falls in the time
  window of its event time.
* the River detector on the error stream (``detectors.online``): the 0/1 error
  for classification, the absolute error for regression. The errors are not fed
  in the order the outcomes arrive (the order labels were joined, which depends
  on timing) but through an ``ErrorFeed`` (``streams.labels.error_feed``): in order of
  the prediction's event time, then ``prediction_id``, once their span of event
  time is final, i.e. ``performance.detector_delay`` behind the newest labelled
  prediction. An outcome that comes after its span was fed is left out of the
  detector (``detector_late``) but still counts in its window. A detection
  records the stream position and the event time of the prediction whose error
  triggered it, the latest of the errors it rests on; the same outcomes give the
  same detections however they were batched or (within the delay) shuffled.
* the score calibration of the performance estimate: the first
  ``calibration_rows`` labelled rows with a score (the reference period).

Labels and predictions are compared as classes for classification: a bool, an
integer 0/1, a float 0.0/1.0 or the text ``0``/``1``/``true``/``false``; an
outcome that is not one of them (or, for regression, not a finite number) is
counted ``invalid`` and left out.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from detectors.concept import Task, error_values
from detectors.estimate import ScoreCalibration
from detectors.latency import LatencySketch
from detectors.online import OnlineDriftDetector, make_detector
from detectors.performance import ClassificationSketch, RegressionSketch
from streams.config.performance import PerformanceSettings
from streams.config.settings import MIN_SPAN
from streams.labels.error_feed import ErrorFeed
from streams.labels.join import Outcome

Value = float | int | str | bool | None
_CLASSES = {"0": 0, "1": 1, "true": 1, "false": 0}


def as_class(value: Value) -> int | None:
    """0 or 1 from a bool, 0/1 number or 0/1/true/false text; None otherwise."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int | float) and value in (0, 1):
        return int(value)
    if isinstance(value, str):
        return _CLASSES.get(value.strip().lower())
    return None


def as_number(value: Value) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def decide_task(outcome: Outcome) -> str:
    """``classification`` when label and prediction read as classes, else ``regression``."""
    if as_class(outcome.label) is not None and as_class(outcome.prediction) is not None:
        return "classification"
    return "regression"


@dataclass
class PerfWindow:
    start: float
    end: float
    sketch: ClassificationSketch | RegressionSketch
    latency: LatencySketch = field(default_factory=LatencySketch)
    counted: bool = False  # a count window: ``end`` grows with its predictions' times

    def to_dict(self) -> dict[str, Any]:
        return {"start": self.start, "end": self.end, "sketch": self.sketch.to_dict(),
                "latency": self.latency.to_dict(), "counted": self.counted}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], task: str) -> PerfWindow:
        kind = ClassificationSketch if task == "classification" else RegressionSketch
        return cls(float(data["start"]), float(data["end"]), kind.from_dict(data["sketch"]),
                   LatencySketch.from_dict(data["latency"]), bool(data.get("counted", False)))


@dataclass(frozen=True)
class Detection:
    position: int
    event_time: float


@dataclass
class Batch:
    """The usable rows of one update, converted."""

    times: np.ndarray[Any, np.dtype[np.float64]]
    ids: list[str]
    windows: np.ndarray[Any, np.dtype[np.float64]]  # count window starts, NaN for none
    latencies: np.ndarray[Any, np.dtype[np.float64]]
    truth: np.ndarray[Any, Any]
    pred: np.ndarray[Any, Any]
    scores: list[float | None]


class ModelPerformance:
    """The performance windows, detector and calibration of one (model, version)."""

    def __init__(self, model_id: str, version: str, settings: PerformanceSettings,
                 size: float, horizon: float, sources: Sequence[int] = ()) -> None:
        self.model_id, self.version = model_id, version
        self.settings, self.size, self.horizon = settings, size, horizon
        self.task: str | None = None if settings.task == "auto" else settings.task
        self.detector: OnlineDriftDetector = make_detector(
            settings.detector, **dict(settings.detector_params))
        # ``sources``: the join partitions, waited for by the error feed from the start.
        self.feed = ErrorFeed(settings.detector_delay, sources=sources)
        self.windows: dict[float, PerfWindow] = {}
        self.newest = -math.inf
        self.calibration_scores: list[float] = []
        self.calibration_labels: list[int] = []
        self.calibrated = False
        # Waiting for the next store (not part of the snapshot's meaning, but kept in it so
        # a crash between update and store loses nothing):
        self.dirty: set[float] = set()
        self.detections: list[Detection] = []
        self.calibration: ScoreCalibration | None = None

    # ----- updates ---------------------------------------------------------------------
    def _convert(self, outcomes: Sequence[Outcome]) -> tuple[Batch, int]:
        keep: list[int] = []
        truth: list[float] = []
        pred: list[float] = []
        convert = as_class if self.task == "classification" else as_number
        for i, o in enumerate(outcomes):
            t, p = convert(o.label), convert(o.prediction)
            if t is not None and p is not None:
                keep.append(i)
                truth.append(t)
                pred.append(p)
        kind = np.int64 if self.task == "classification" else np.float64
        rows = [outcomes[i] for i in keep]
        batch = Batch(np.array([o.prediction_time for o in rows], np.float64),
                      [o.prediction_id for o in rows],
                      np.array([math.nan if o.window_start is None else o.window_start
                                for o in rows], np.float64),
                      np.array([o.latency for o in rows], np.float64),
                      np.array(truth, kind), np.array(pred, kind), [o.score for o in rows])
        return batch, len(outcomes) - len(keep)

    def update(self, outcomes: Sequence[Outcome], source: int = 0) -> dict[str, int]:
        """Apply outcomes in order; return counts by outcome (invalid, too_late, used).

        ``source`` is the join partition they came from: the error feed waits for the
        slowest source (``streams.labels.error_feed``).

        ``detector_late`` counts the outcomes left out of the detector because their
        span of event time had been fed already (they are in ``used`` or ``too_late``
        as well).
        """
        if not outcomes:
            return {}
        if self.task is None:
            self.task = decide_task(outcomes[0])
        batch, invalid = self._convert(outcomes)
        if not batch.times.size:
            return {"invalid": invalid}
        # Rows are judged too late against the newest prediction of earlier batches: a
        # batch of a fast backfill can span more than the horizon itself.
        before = self.newest
        self.newest = max(self.newest, float(batch.times.max()))
        task: Task = "classification" if self.task == "classification" else "regression"
        errors = error_values(self.detector, batch.truth, batch.pred, task=task)
        detector_late = self.feed.add(batch.times, batch.ids, errors, source)
        times, ordered = self.feed.release()
        first = self.detector.position
        for position in self.detector.update_many(ordered):
            self.detections.append(Detection(position, float(times[position - first])))
        starts, ends, counted = self._windows_of(batch)
        late = ends < before - self.horizon
        for start in np.unique(starts[~late]).tolist():
            rows = np.flatnonzero((starts == start) & ~late)
            window = self._window(start, bool(counted[rows[0]]))
            if window.counted:
                window.end = max(window.end, float(batch.times[rows].max()))
            window.latency.update(batch.latencies[rows])
            self._feed(window, batch, rows)
            self.dirty.add(start)
        self._learn_calibration(batch)
        self._drop_old(self.newest - self.horizon)
        return {"invalid": invalid, "too_late": int(late.sum()),
                "used": int((~late).sum()), "detector_late": detector_late}

    def _windows_of(self, batch: Batch) -> tuple[np.ndarray[Any, np.dtype[np.float64]],
                                                  np.ndarray[Any, np.dtype[np.float64]],
                                                  np.ndarray[Any, np.dtype[np.bool_]]]:
        """Per row: its window's start, the end it is judged too late by, whether counted.

        A count window's start comes with the outcome; its end is not known yet, so a
        row is judged by its own prediction time (no later than that end).
        """
        counted = ~np.isnan(batch.windows)
        timed = np.floor(batch.times / self.size) * self.size
        starts = np.where(counted, batch.windows, timed)
        return starts, np.where(counted, batch.times, timed + self.size), counted

    def _window(self, start: float, counted: bool) -> PerfWindow:
        window = self.windows.get(start)
        if window is None:
            sketch = (ClassificationSketch() if self.task == "classification"
                      else RegressionSketch())
            end = start + (MIN_SPAN if counted else self.size)
            window = self.windows[start] = PerfWindow(start, end, sketch, counted=counted)
        return window

    def _feed(self, window: PerfWindow, batch: Batch, rows: np.ndarray[Any, Any]) -> None:
        if isinstance(window.sketch, RegressionSketch):
            window.sketch.update(batch.truth[rows], batch.pred[rows])
            return
        scores = [batch.scores[i] for i in rows.tolist()]
        scored = np.array([s is not None for s in scores], bool)
        if scored.all():
            window.sketch.update(batch.truth[rows], batch.pred[rows],
                                 np.array(scores, np.float64))
            return
        if scored.any():
            picked = rows[scored]
            window.sketch.update(batch.truth[picked], batch.pred[picked],
                                 np.array([s for s in scores if s is not None], np.float64))
        window.sketch.update(batch.truth[rows[~scored]], batch.pred[rows[~scored]])

    def _learn_calibration(self, batch: Batch) -> None:
        if self.calibrated or self.task != "classification":
            return
        wanted = self.settings.calibration_rows - len(self.calibration_scores)
        for label, score in zip(batch.truth.tolist(), batch.scores, strict=True):
            if wanted <= 0:
                break
            if score is not None:
                self.calibration_scores.append(score)
                self.calibration_labels.append(int(label))
                wanted -= 1
        if len(self.calibration_scores) >= self.settings.calibration_rows:
            # min_rows is the setting: fit's default (100) would leave a calibration of
            # 50-99 rows (calibration_rows accepts >= 50) never ready, and stored for good.
            self.calibration = ScoreCalibration.fit(np.array(self.calibration_labels),
                                                    np.array(self.calibration_scores),
                                                    min_rows=self.settings.calibration_rows)
            self.calibrated = True
            self.calibration_scores, self.calibration_labels = [], []

    def _drop_old(self, limit: float) -> None:
        for start in [s for s, w in self.windows.items()
                      if w.end < limit and s not in self.dirty]:
            del self.windows[start]

    # ----- snapshots -------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {"model_id": self.model_id, "version": self.version, "task": self.task,
                "detector": self.detector.to_state(), "feed": self.feed.to_dict(),
                "windows": [w.to_dict() for w in self.windows.values()],
                "newest": None if math.isinf(self.newest) else self.newest,
                "calibration_scores": self.calibration_scores,
                "calibration_labels": self.calibration_labels, "calibrated": self.calibrated,
                "dirty": sorted(self.dirty),
                "detections": [[d.position, d.event_time] for d in self.detections],
                "calibration": None if self.calibration is None else self.calibration.to_dict()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], settings: PerformanceSettings, size: float,
                  horizon: float) -> ModelPerformance:
        model = cls(data["model_id"], data["version"], settings, size, horizon)
        model.task = data["task"]
        model.detector = OnlineDriftDetector.from_state(data["detector"])
        if "feed" in data:  # snapshots written before the feed existed have none
            model.feed = ErrorFeed.from_dict(data["feed"], settings.detector_delay)
        if model.task is not None:
            model.windows = {w.start: w for w in (PerfWindow.from_dict(item, model.task)
                                                  for item in data["windows"])}
        model.newest = -math.inf if data["newest"] is None else float(data["newest"])
        model.calibration_scores = list(data["calibration_scores"])
        model.calibration_labels = list(data["calibration_labels"])
        model.calibrated = bool(data["calibrated"])
        model.dirty = {float(s) for s in data["dirty"]}
        model.detections = [Detection(int(p), float(t)) for p, t in data["detections"]]
        if data["calibration"] is not None:
            model.calibration = ScoreCalibration.from_dict(data["calibration"])
        return model
