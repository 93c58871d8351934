"""Mergeable model-performance sketches, updated from numpy arrays in batches.

``ClassificationSketch`` (binary: labels and predictions in {0, 1}, optional
scores = probability of class 1 in [0, 1]) keeps the confusion counts, one score
histogram per true class (see ``detectors._auc``) and the summed log loss.
``RegressionSketch`` keeps error sums and Chan-style moments of ``y_true``.

``update`` validates the whole batch before changing anything, mutates the
sketch and returns it. ``merge`` returns a new sketch and leaves both inputs
unchanged; counts merge exactly, floating sums to rounding. ``to_dict`` and
``from_dict`` give an exact JSON-safe checkpoint with a ``schema_version``.

Undefined metrics are ``None``, never NaN:

- every metric when ``n == 0``;
- ``precision`` with no predicted positives, ``recall`` with no true positives
  in ``y_true``, ``f1`` when ``tp + fp + fn == 0`` (otherwise
  ``2 tp / (2 tp + fp + fn)``, which is 0.0 when precision is None and fn > 0);
- ``log_loss`` without scored rows; ``roc_auc`` and its bound unless the scored
  rows hold both classes. Both cover only the ``n_scored`` rows sent with scores;
- ``r2`` when ``n < 2`` or ``y_true`` is constant, where scikit-learn returns
  NaN with a warning (n < 2), or 1.0 (perfect predictions) / 0.0 (otherwise) -
  or a huge negative number when the float mean of the constant is inexact.
  M2 is taken about the batch's first value, so a constant gives exactly 0.

Log loss clips each probability of the true class to ``[LOG_LOSS_EPS,
1 - LOG_LOSS_EPS]``, ``LOG_LOSS_EPS`` being float64's machine epsilon, as
``sklearn.metrics.log_loss`` does (its only behaviour since 1.5, the default
since 1.2; a fixed 1e-15 before). Scores of exactly 0 or 1 thus cost at most
``-log(LOG_LOSS_EPS)`` (about 36.04) per row instead of infinity.

>>> import numpy as np
>>> truth, pred = np.array([1, 0, 1, 1]), np.array([1, 0, 0, 1])
>>> score = np.array([0.9, 0.2, 0.4, 0.8])
>>> m = ClassificationSketch().update(truth, pred, score).result()
>>> m.n, m.accuracy, m.precision, m.recall, m.f1
(4, 0.75, 1.0, 0.6666666666666666, 0.8)
>>> m.roc_auc, m.roc_auc_error_bound, round(m.log_loss, 6)
(1.0, 0.0, 0.366985)
>>> half = ClassificationSketch().update(truth[:2], pred[:2], score[:2])
>>> half.merge(ClassificationSketch().update(truth[2:], pred[2:])).result().n_scored
2
>>> ClassificationSketch().update(np.array([0]), np.array([0])).result().precision is None
True
>>> RegressionSketch().update(np.array([3, -0.5, 2, 7]), np.array([2.5, 0, 2, 8])).result()
RegressionMetrics(n=4, mae=0.5, rmse=0.6123724356957945, r2=0.9486081370449679, mean_error=0.25)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Self

import numpy as np
from numpy.typing import ArrayLike, NDArray

from detectors._auc import DEFAULT_N_BINS, binned_auc, score_histogram, validate_n_bins

SCHEMA_VERSION = 1
LOG_LOSS_EPS = float(np.finfo(np.float64).eps)
_CONFUSION = ("tn", "fp", "fn", "tp")  # index = 2 * y_true + y_pred


@dataclass(frozen=True)
class ClassificationMetrics:
    """Binary classification metrics of one window; None marks an undefined metric."""

    n: int
    n_scored: int
    accuracy: float | None
    precision: float | None
    recall: float | None
    f1: float | None
    roc_auc: float | None
    roc_auc_error_bound: float | None
    log_loss: float | None
    base_rate: float | None
    positive_rate: float | None


@dataclass(frozen=True)
class RegressionMetrics:
    """Regression metrics of one window; ``mean_error`` is mean(y_pred - y_true)."""

    n: int
    mae: float | None
    rmse: float | None
    r2: float | None
    mean_error: float | None


def _array(name: str, values: ArrayLike) -> NDArray[Any]:
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {array.shape}")
    if array.dtype.kind not in "biuf":
        raise ValueError(f"{name} must be numeric or boolean, got dtype {array.dtype}")
    return array


def _reject(name: str, allowed: str, array: NDArray[Any], bad: NDArray[np.bool_]) -> None:
    if bad.any():
        index = int(np.argmax(bad))
        value = array[index].item()
        raise ValueError(f"{name} must be {allowed}, got {value!r} at index {index}")


def _labels(name: str, values: ArrayLike) -> NDArray[np.int64]:
    array = _array(name, values)
    _reject(name, "0 or 1", array, (array != 0) & (array != 1))
    return array.astype(np.int64)


def _finite(name: str, values: ArrayLike) -> NDArray[np.float64]:
    array = _array(name, values).astype(np.float64)
    _reject(name, "finite", array, ~np.isfinite(array))
    return array


def _scores(name: str, values: ArrayLike) -> NDArray[np.float64]:
    array = _array(name, values).astype(np.float64)
    _reject(name, "finite and in [0, 1]", array, ~((array >= 0.0) & (array <= 1.0)))
    return array


def _same_length(reference: NDArray[Any], name: str, other: NDArray[Any]) -> None:
    if len(other) != len(reference):
        raise ValueError(f"{name} must have the length of y_true ({len(reference)}), "
                         f"got {len(other)}")


def _ratio(numerator: float, denominator: float) -> float | None:
    return None if denominator == 0 else numerator / denominator


def _field(data: Mapping[str, Any], key: str) -> Any:
    if key not in data:
        raise ValueError(f"checkpoint is missing key {key!r}")
    return data[key]


def _as_count(key: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"checkpoint key {key!r} must be an integer >= 0, got {value!r}")
    return value


def _count(data: Mapping[str, Any], key: str) -> int:
    return _as_count(key, _field(data, key))


def _number(data: Mapping[str, Any], key: str) -> float:
    value = _field(data, key)
    valid = isinstance(value, int | float) and not isinstance(value, bool)
    if not valid or not math.isfinite(value):
        raise ValueError(f"checkpoint key {key!r} must be a finite number, got {value!r}")
    return float(value)


def _histogram(data: Mapping[str, Any], key: str, n_bins: int) -> NDArray[np.int64]:
    values = _field(data, key)
    if not isinstance(values, list) or len(values) != n_bins:
        raise ValueError(f"checkpoint key {key!r} must be a list of n_bins={n_bins} counts, "
                         f"got {values!r:.80}")
    return np.array([_as_count(key, value) for value in values], dtype=np.int64)


def _check_header(data: Mapping[str, Any], kind: str) -> None:
    version = data.get("schema_version")
    if version != SCHEMA_VERSION:
        raise ValueError(f"schema_version must be {SCHEMA_VERSION}, got {version!r}")
    if data.get("kind") != kind:
        raise ValueError(f"kind must be {kind!r}, got {data.get('kind')!r}")


class ClassificationSketch:
    """Confusion counts, per-class score histograms and summed log loss (binary)."""

    def __init__(self, n_bins: int = DEFAULT_N_BINS) -> None:
        self.n_bins = validate_n_bins(n_bins)
        self._confusion = np.zeros(4, dtype=np.int64)
        self._pos = np.zeros(self.n_bins, dtype=np.int64)
        self._neg = np.zeros(self.n_bins, dtype=np.int64)
        self._log_loss_sum = 0.0

    def update(self, y_true: ArrayLike, y_pred: ArrayLike, y_score: ArrayLike | None = None,
               ) -> Self:
        """Add a batch; ``y_score`` (optional) is the probability of class 1 per row."""
        truth, pred = _labels("y_true", y_true), _labels("y_pred", y_pred)
        _same_length(truth, "y_pred", pred)
        scores = None if y_score is None else _scores("y_score", y_score)
        if scores is not None:
            _same_length(truth, "y_score", scores)
            positive = truth == 1
            self._pos += score_histogram(scores[positive], self.n_bins)
            self._neg += score_histogram(scores[~positive], self.n_bins)
            p_true = np.where(positive, scores, 1.0 - scores)
            clipped = np.clip(p_true, LOG_LOSS_EPS, 1.0 - LOG_LOSS_EPS)
            self._log_loss_sum += float(-np.log(clipped).sum())
        self._confusion += np.bincount(2 * truth + pred, minlength=4)
        return self

    def merge(self, other: ClassificationSketch) -> ClassificationSketch:
        """Return a new sketch equal to one fed both inputs' batches."""
        if other.n_bins != self.n_bins:
            raise ValueError(f"other.n_bins must equal {self.n_bins}, got {other.n_bins}")
        merged = ClassificationSketch(self.n_bins)
        merged._confusion = self._confusion + other._confusion
        merged._pos = self._pos + other._pos
        merged._neg = self._neg + other._neg
        merged._log_loss_sum = self._log_loss_sum + other._log_loss_sum
        return merged

    def confusion(self) -> dict[str, int]:
        """The confusion counts so far: ``tn``, ``fp``, ``fn``, ``tp``."""
        return dict(zip(_CONFUSION, (int(c) for c in self._confusion), strict=True))

    def result(self) -> ClassificationMetrics:
        """Metrics so far; see the module docstring for when each is None."""
        tn, fp, fn, tp = (int(count) for count in self._confusion)
        n = tn + fp + fn + tp
        n_scored = int(self._pos.sum() + self._neg.sum())
        auc = binned_auc(self._pos, self._neg)
        return ClassificationMetrics(
            n=n, n_scored=n_scored, accuracy=_ratio(tp + tn, n),
            precision=_ratio(tp, tp + fp), recall=_ratio(tp, tp + fn),
            f1=_ratio(2 * tp, 2 * tp + fp + fn),
            roc_auc=None if auc is None else auc[0],
            roc_auc_error_bound=None if auc is None else auc[1],
            log_loss=_ratio(self._log_loss_sum, n_scored),
            base_rate=_ratio(tp + fn, n), positive_rate=_ratio(tp + fp, n),
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe checkpoint; ``from_dict(to_dict())`` restores the exact state."""
        confusion = dict(zip(_CONFUSION, (int(c) for c in self._confusion), strict=True))
        return {"schema_version": SCHEMA_VERSION, "kind": "classification",
                "n_bins": self.n_bins, **confusion, "log_loss_sum": self._log_loss_sum,
                "score_hist_pos": self._pos.tolist(), "score_hist_neg": self._neg.tolist()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """Rebuild a sketch from ``to_dict`` output; raise ValueError on a bad checkpoint."""
        _check_header(data, "classification")
        sketch = cls(_count(data, "n_bins"))
        sketch._confusion = np.array([_count(data, key) for key in _CONFUSION], dtype=np.int64)
        sketch._pos = _histogram(data, "score_hist_pos", sketch.n_bins)
        sketch._neg = _histogram(data, "score_hist_neg", sketch.n_bins)
        sketch._log_loss_sum = _number(data, "log_loss_sum")
        if sketch._log_loss_sum < 0:
            raise ValueError("checkpoint key 'log_loss_sum' must be >= 0, "
                             f"got {sketch._log_loss_sum!r}")
        return sketch


@dataclass(frozen=True)
class _Moments:
    n: int = 0
    sum_abs_error: float = 0.0
    sum_sq_error: float = 0.0
    sum_error: float = 0.0
    mean_true: float = 0.0
    m2_true: float = 0.0


_REGRESSION_SUMS = ("sum_abs_error", "sum_sq_error", "sum_error", "mean_true", "m2_true")


def _batch_moments(truth: NDArray[np.float64], pred: NDArray[np.float64]) -> _Moments:
    with np.errstate(over="ignore", invalid="ignore"):  # overflow is reported below
        error = pred - truth
        shifted = truth - truth[0]  # keeps M2 exactly 0 for a constant y_true
        mean_shifted = shifted.mean()
        moments = _Moments(
            n=len(truth), sum_abs_error=float(np.abs(error).sum()),
            sum_sq_error=float(np.square(error).sum()), sum_error=float(error.sum()),
            mean_true=float(truth[0] + mean_shifted),
            m2_true=float(np.square(shifted - mean_shifted).sum()))
    sums = [getattr(moments, key) for key in _REGRESSION_SUMS]
    if not all(math.isfinite(value) for value in sums):
        raise ValueError("y_true and y_pred must stay within float64 range when squared "
                         f"and summed, got sums {sums}")
    return moments


def _combine(a: _Moments, b: _Moments) -> _Moments:
    """Chan et al. pairwise update of mean and M2; plain sums for the errors."""
    n = a.n + b.n
    if a.n == 0 or b.n == 0:
        return b if a.n == 0 else a
    delta = b.mean_true - a.mean_true
    return _Moments(
        n=n, sum_abs_error=a.sum_abs_error + b.sum_abs_error,
        sum_sq_error=a.sum_sq_error + b.sum_sq_error, sum_error=a.sum_error + b.sum_error,
        mean_true=a.mean_true + delta * (b.n / n),
        m2_true=a.m2_true + b.m2_true + delta * delta * (a.n * b.n / n))


class RegressionSketch:
    """Error sums and Chan-style mean / M2 of ``y_true``, mergeable across shards."""

    def __init__(self) -> None:
        self._moments = _Moments()

    @property
    def n(self) -> int:
        """Number of rows seen."""
        return self._moments.n

    def update(self, y_true: ArrayLike, y_pred: ArrayLike) -> Self:
        """Add a batch of finite targets and predictions."""
        truth, pred = _finite("y_true", y_true), _finite("y_pred", y_pred)
        _same_length(truth, "y_pred", pred)
        if len(truth) > 0:
            self._moments = _combine(self._moments, _batch_moments(truth, pred))
        return self

    def merge(self, other: RegressionSketch) -> RegressionSketch:
        """Return a new sketch equal (to float rounding) to one fed both inputs' batches."""
        merged = RegressionSketch()
        merged._moments = _combine(self._moments, other._moments)
        return merged

    def result(self) -> RegressionMetrics:
        """Metrics so far; every metric is None when n == 0, r2 as in the module docstring."""
        m = self._moments
        mse = _ratio(m.sum_sq_error, m.n)
        return RegressionMetrics(
            n=m.n, mae=_ratio(m.sum_abs_error, m.n),
            rmse=None if mse is None else math.sqrt(mse),
            r2=None if m.m2_true == 0 else 1.0 - m.sum_sq_error / m.m2_true,
            mean_error=_ratio(m.sum_error, m.n))

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe checkpoint; ``from_dict(to_dict())`` restores the exact state."""
        sums = {key: getattr(self._moments, key) for key in _REGRESSION_SUMS}
        return {"schema_version": SCHEMA_VERSION, "kind": "regression", "n": self.n, **sums}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """Rebuild a sketch from ``to_dict`` output; raise ValueError on a bad checkpoint."""
        _check_header(data, "regression")
        sums = {key: _number(data, key) for key in _REGRESSION_SUMS}
        if sums["m2_true"] < 0:
            raise ValueError(f"checkpoint key 'm2_true' must be >= 0, got {sums['m2_true']!r}")
        sketch = cls()
        sketch._moments = _Moments(n=_count(data, "n"), **sums)
        return sketch
