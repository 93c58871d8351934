"""Confidence-based performance estimation (CBPE) of a binary classifier before its labels.

Labels arrive late; scores arrive with the predictions. If a score is a calibrated
probability that the row is of class 1, each row's expected contribution to the
confusion matrix is known without its label, so a window's performance can be
estimated from its scores alone (the method of NannyML's CBPE).

- ``ScoreCalibration.fit(y_true, y_score)`` learns, on the reference period's
  labelled rows, a non-decreasing map ``score -> P(y = 1 | score)`` by isotonic
  regression (pool-adjacent-violators, the fit of scikit-learn's
  ``IsotonicRegression(out_of_bounds="clip")`` and of NannyML's default
  calibrator). Isotonic rather than histogram binning: it needs no bin width,
  follows the reference however the scores are spread, is the identity's best
  monotone approximation when the model is already calibrated, and is
  reproducible against scikit-learn. With fewer than ``min_rows`` labelled rows
  the calibration is not ``ready`` and every estimate says
  ``status="insufficient_labels"`` with its metrics None.
- ``ScoreSketch`` counts a window's scores per predicted class in ``n_bins``
  equal-width bins over [0, 1] (default 1,000, the edges of ``detectors._auc``),
  plus the rows without a score (NaN). Constant memory, mergeable across shards,
  checkpointed by ``to_dict``/``from_dict``.
- ``estimate(calibration, sketch)`` takes ``p`` = the calibrated probability at
  each bin's midpoint and sums, per row, ``E[TP] += p, E[FP] += 1 - p`` when the
  prediction is 1 and ``E[FN] += p, E[TN] += 1 - p`` when it is 0; accuracy,
  precision, recall, F1 and the base rate follow from the expected cells, and the
  ROC AUC is the binned AUC of the score histograms weighted ``p`` (positives) and
  ``1 - p`` (negatives). A zero denominator gives None, never NaN.

Binning error. A row's probability is read at its bin's midpoint instead of its
score; the calibration being monotone, the difference is at most its rise over
half the bin. ``probability_error_bound`` is the mean of that rise over the rows,
so it bounds the error of the expected accuracy and base rate (as fractions);
the expected cells move by at most ``n`` times it. ``roc_auc_error_bound`` bounds
the AUC's error from pairs sharing a bin (as in ``detectors._auc``), for the
midpoint probabilities. With 1,000 bins and a smooth calibration (slope ~1) both
are about 5e-4; a steep calibration shows larger bounds, which are reported.

Assumptions and limits (an estimate is not a measurement):

- No concept shift: ``P(y = 1 | score)`` stays what it was in the reference. A
  change of the labelling rule is invisible here; it shows in the realised
  performance and the concept-drift detectors once labels arrive.
- Covariate shift only: a change in the distribution of scores (inputs) is what
  the estimate follows, e.g. more rows near 0.5 lower the expected accuracy.
- The estimate is only as good as the calibration: the reference must be large
  and representative across the score range the window uses; scores outside the
  reference's range take the calibration's end values.
- Binary classification with ``score = P(class 1)``; predictions are taken as sent
  (any threshold). Unscored rows are counted and left out.
- The expected AUC counts each row's pairing with itself as a tie (weight
  ``p (1 - p) / 2``), a bias of order ``1 / n``.

>>> truth = np.array([0, 0, 1, 0, 1, 1, 0, 1])
>>> score = np.array([0.1, 0.2, 0.3, 0.4, 0.6, 0.7, 0.8, 0.9])
>>> calibration = ScoreCalibration.fit(truth, score, min_rows=8)
>>> [round(value, 3) for value in calibration.values]
[0.0, 0.0, 0.5, 0.5, 0.667, 0.667, 1.0]
>>> y_pred, y_score = np.array([0, 1, 0, 1]), np.array([0.05, 0.95, 0.65, np.nan])
>>> result = estimate(calibration, ScoreSketch().update(y_pred, y_score))
>>> result.status, result.n, result.n_unscored, round(result.accuracy, 4)
('estimated', 3, 1, 0.7778)
>>> result.expected_tp, round(result.expected_fn, 4), result.precision, round(result.recall, 4)
(1.0, 0.6667, 1.0, 0.6)
>>> window = ScoreSketch().update(y_pred, y_score)
>>> estimate(ScoreCalibration.fit(truth, score), window).status
'insufficient_labels'
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, Self

import numpy as np
from numpy.typing import ArrayLike, NDArray

from detectors._auc import DEFAULT_N_BINS, score_histogram, validate_n_bins
from detectors._checks import check_int
from detectors._isotonic import fit_isotonic
from detectors.performance import (
    _array,
    _count,
    _field,
    _histogram,
    _labels,
    _ratio,
    _reject,
    _same_length,
    _scores,
)

SCHEMA_VERSION = 1
DEFAULT_MIN_ROWS = 100
Status = Literal["estimated", "insufficient_labels", "no_scores"]


def _check_header(data: Mapping[str, Any], kind: str) -> None:
    version = data.get("schema_version")
    if version != SCHEMA_VERSION:
        raise ValueError(f"schema_version must be {SCHEMA_VERSION}, got {version!r}")
    if data.get("kind") != kind:
        raise ValueError(f"kind must be {kind!r}, got {data.get('kind')!r}")


def _floats(data: Mapping[str, Any], key: str) -> tuple[float, ...]:
    values = _field(data, key)
    if not isinstance(values, list) or not all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        raise ValueError(f"checkpoint key {key!r} must be a list of numbers, got {values!r:.80}")
    return tuple(float(v) for v in values)


@dataclass(frozen=True)
class ScoreCalibration:
    """An isotonic map score -> P(y = 1), learnt on labelled reference rows.

    ``thresholds`` and ``values`` are the breakpoints of the fit (empty when not
    ``ready``); ``n_rows`` and ``n_positive`` count the labelled rows it was fit on.
    """

    n_rows: int
    n_positive: int
    min_rows: int
    thresholds: tuple[float, ...]
    values: tuple[float, ...]

    def __post_init__(self) -> None:
        check_int("min_rows", self.min_rows, low=1)
        check_int("n_rows", self.n_rows, low=0)
        check_int("n_positive", self.n_positive, low=0, high=self.n_rows)
        x, y = np.array(self.thresholds, dtype=np.float64), np.array(self.values)
        if len(x) != len(y) or (len(x) > 0) != (self.n_rows >= self.min_rows):
            raise ValueError(f"thresholds and values must have one equal length, >= 1 exactly "
                             f"when n_rows >= min_rows ({self.n_rows} vs {self.min_rows}), "
                             f"got {len(x)} and {len(y)}")
        if not (np.all((x >= 0) & (x <= 1)) and np.all(np.diff(x) > 0)):
            raise ValueError("thresholds must be increasing in [0, 1], "
                             f"got {self.thresholds!r:.80}")
        if not (np.all((y >= 0) & (y <= 1)) and np.all(np.diff(y) >= 0)):
            raise ValueError(f"values must be non-decreasing in [0, 1], got {self.values!r:.80}")

    @classmethod
    def fit(cls, y_true: ArrayLike, y_score: ArrayLike, *,
            min_rows: int = DEFAULT_MIN_ROWS) -> ScoreCalibration:
        """Fit on labelled rows; fewer than ``min_rows`` give a calibration not ``ready``."""
        min_rows = check_int("min_rows", min_rows, low=1)
        truth, scores = _labels("y_true", y_true), _scores("y_score", y_score)
        _same_length(truth, "y_score", scores)
        n_rows, n_positive = len(truth), int(truth.sum())
        if n_rows < min_rows:
            return cls(n_rows, n_positive, min_rows, (), ())
        thresholds, values = fit_isotonic(scores, truth.astype(np.float64))
        return cls(n_rows, n_positive, min_rows, thresholds, values)

    @property
    def ready(self) -> bool:
        """Whether the calibration was fit on at least ``min_rows`` labelled rows."""
        return len(self.thresholds) > 0

    def predict(self, y_score: ArrayLike) -> NDArray[np.float64]:
        """Calibrated P(y = 1) per score; ValueError if the calibration is not ready."""
        if not self.ready:
            raise ValueError(f"calibration needs n_rows >= min_rows={self.min_rows} labelled "
                             f"rows, got {self.n_rows}")
        scores = _scores("y_score", y_score)
        return np.interp(scores, self.thresholds, self.values)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe; ``from_dict(to_dict())`` gives an equal calibration."""
        return {"schema_version": SCHEMA_VERSION, "kind": "score_calibration",
                "method": "isotonic", **dataclasses.asdict(self),
                "thresholds": list(self.thresholds), "values": list(self.values)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """Rebuild from ``to_dict`` output; raise ValueError on a bad document."""
        _check_header(data, "score_calibration")
        if data.get("method") != "isotonic":
            raise ValueError(f"method must be 'isotonic', got {data.get('method')!r}")
        return cls(_count(data, "n_rows"), _count(data, "n_positive"),
                   _count(data, "min_rows"), _floats(data, "thresholds"),
                   _floats(data, "values"))


class ScoreSketch:
    """Counts of a window's scores per predicted class in fixed bins, and unscored rows."""

    def __init__(self, n_bins: int = DEFAULT_N_BINS) -> None:
        self.n_bins = validate_n_bins(n_bins)
        self._counts = np.zeros((2, self.n_bins), dtype=np.int64)  # [y_pred, bin]
        self._unscored = np.zeros(2, dtype=np.int64)  # [y_pred]

    @property
    def n(self) -> int:
        """Rows with a score."""
        return int(self._counts.sum())

    @property
    def n_unscored(self) -> int:
        """Rows sent without a score (NaN or ``y_score=None``)."""
        return int(self._unscored.sum())

    def counts(self) -> NDArray[np.int64]:
        """A copy of the counts, shape ``(2, n_bins)``: row = predicted class."""
        return self._counts.copy()

    def update(self, y_pred: ArrayLike, y_score: ArrayLike | None = None) -> Self:
        """Add a batch: predictions in {0, 1}, scores in [0, 1] or NaN for a missing one."""
        pred = _labels("y_pred", y_pred)
        if y_score is None:
            self._unscored += np.bincount(pred, minlength=2)
            return self
        scores = _array("y_score", y_score).astype(np.float64)
        _same_length(pred, "y_score", scores)
        missing = np.isnan(scores)
        _reject("y_score", "in [0, 1] or NaN (no score)", scores,
                ~missing & ~((scores >= 0.0) & (scores <= 1.0)))
        self._unscored += np.bincount(pred[missing], minlength=2)
        for cls in (0, 1):
            self._counts[cls] += score_histogram(scores[~missing & (pred == cls)], self.n_bins)
        return self

    def merge(self, other: ScoreSketch) -> ScoreSketch:
        """A new sketch equal to one fed both inputs' batches; inputs unchanged."""
        if other.n_bins != self.n_bins:
            raise ValueError(f"other.n_bins must equal {self.n_bins}, got {other.n_bins}")
        merged = ScoreSketch(self.n_bins)
        merged._counts = self._counts + other._counts
        merged._unscored = self._unscored + other._unscored
        return merged

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe checkpoint; ``from_dict(to_dict())`` restores the exact state."""
        return {"schema_version": SCHEMA_VERSION, "kind": "score_sketch", "n_bins": self.n_bins,
                "pred0": self._counts[0].tolist(), "pred1": self._counts[1].tolist(),
                "unscored_pred0": int(self._unscored[0]),
                "unscored_pred1": int(self._unscored[1])}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """Rebuild from ``to_dict`` output; raise ValueError on a bad checkpoint."""
        _check_header(data, "score_sketch")
        sketch = cls(_count(data, "n_bins"))
        for row, key in enumerate(("pred0", "pred1")):
            sketch._counts[row] = _histogram(data, key, sketch.n_bins)
        sketch._unscored = np.array([_count(data, "unscored_pred0"),
                                     _count(data, "unscored_pred1")], dtype=np.int64)
        return sketch


@dataclass(frozen=True)
class EstimatedClassificationMetrics:
    """Expected confusion cells and metrics of a window, from its scores only.

    ``n`` is the number of scored rows used, ``n_reference`` the calibration's
    labelled rows. Everything but the counts is None unless ``status`` is
    ``"estimated"``; a ratio with a zero denominator is None too.
    """

    status: Status
    n: int
    n_unscored: int
    n_reference: int
    expected_tp: float | None = None
    expected_fp: float | None = None
    expected_fn: float | None = None
    expected_tn: float | None = None
    accuracy: float | None = None
    precision: float | None = None
    recall: float | None = None
    f1: float | None = None
    roc_auc: float | None = None
    base_rate: float | None = None
    probability_error_bound: float | None = None
    roc_auc_error_bound: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe, marked as an estimate."""
        return {"schema_version": SCHEMA_VERSION, "kind": "cbpe_estimate",
                **dataclasses.asdict(self)}


def _weighted_auc(pos: NDArray[np.float64], neg: NDArray[np.float64],
                  ) -> tuple[float | None, float | None]:
    total = float(pos.sum()) * float(neg.sum())
    if total == 0:
        return None, None
    wins = float(pos @ (np.cumsum(neg) - neg))
    ties = float(pos @ neg)
    return (wins + 0.5 * ties) / total, 0.5 * ties / total


def estimate(calibration: ScoreCalibration, sketch: ScoreSketch,
             ) -> EstimatedClassificationMetrics:
    """Estimate the window's classification metrics (see the module docstring)."""
    n, counts = sketch.n, sketch.counts().astype(np.float64)
    status: Status = ("insufficient_labels" if not calibration.ready
                      else "no_scores" if n == 0 else "estimated")
    if status != "estimated":
        return EstimatedClassificationMetrics(status, n, sketch.n_unscored, calibration.n_rows)
    edges = np.linspace(0.0, 1.0, 2 * sketch.n_bins + 1)  # bin edges and midpoints
    at = calibration.predict(edges)
    p = at[1::2]
    rise = np.maximum(p - at[:-1:2], at[2::2] - p)
    pos, neg = counts * p, counts * (1.0 - p)
    tp, fp, fn, tn = (float(cells.sum()) for cells in (pos[1], neg[1], pos[0], neg[0]))
    auc, auc_bound = _weighted_auc(pos.sum(axis=0), neg.sum(axis=0))
    return EstimatedClassificationMetrics(
        status, n, sketch.n_unscored, calibration.n_rows,
        expected_tp=tp, expected_fp=fp, expected_fn=fn, expected_tn=tn,
        accuracy=(tp + tn) / n, precision=_ratio(tp, float(counts[1].sum())),
        recall=_ratio(tp, tp + fn), f1=_ratio(2 * tp, 2 * tp + fp + fn),
        roc_auc=auc, base_rate=(tp + fn) / n,
        probability_error_bound=float(counts.sum(axis=0) @ rise) / n,
        roc_auc_error_bound=auc_bound)

