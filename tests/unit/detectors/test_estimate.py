"""Confidence-based performance estimation: calibration, sketch, estimate, tolerances.

Tolerances:
- calibration vs scikit-learn's isotonic fit: the same pooled means summed in another
  order, 1e-12 absolute on probabilities.
- estimate vs the row-wise expectations: a row's probability is read at its bin's
  midpoint, so accuracy and base rate may differ by ``probability_error_bound`` (checked
  to be a true bound and to be small), an expected cell by ``n`` times it; with scores on
  the bin midpoints nothing is approximated and they agree to 1e-9. The AUC may differ by
  ``roc_auc_error_bound`` (pairs sharing a bin) when the rows use midpoint probabilities.
- estimate vs realised metrics without drift (scores calibrated, 20,000 rows each side):
  the realised accuracy given the scores has a standard deviation of
  ``sqrt(sum p (1 - p)) / n <= 0.5 / sqrt(20000) = 0.0035``; precision and recall, over
  about half the rows, about 0.005; the isotonic fit on 20,000 reference rows adds about
  0.005 on average. 0.025 is over 4 standard deviations plus the calibration error.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.frozen import FrozenEstimator
from sklearn.isotonic import IsotonicRegression
from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score, roc_auc_score

from detectors.estimate import (
    EstimatedClassificationMetrics,
    ScoreCalibration,
    ScoreSketch,
    estimate,
)

NO_DEADLINE = settings(deadline=None, max_examples=60)
Floats = NDArray[np.float64]
Ints = NDArray[np.int64]
GRID = st.integers(0, 1000).map(lambda k: k / 1000)  # repeats scores, as models do


def calibrated_rows(seed: int, n: int, a: float = 2.0, b: float = 2.0,
                    ) -> tuple[Ints, Ints, Floats]:
    """Scores ~ Beta(a, b), labels ~ Bernoulli(score): a calibrated model; pred = score >= .5."""
    rng = np.random.default_rng(seed)
    score = rng.beta(a, b, n)
    truth = (rng.random(n) < score).astype(np.int64)
    return truth, (score >= 0.5).astype(np.int64), score


def reference_calibration(seed: int = 0, n: int = 20_000) -> ScoreCalibration:
    truth, _, score = calibrated_rows(seed, n)
    return ScoreCalibration.fit(truth, score)


def bin_midpoint(score: Floats, n_bins: int) -> Floats:
    index = np.minimum((score * n_bins).astype(np.int64), n_bins - 1)
    return (index + 0.5) / n_bins


def row_wise(p: Floats, pred: Ints) -> dict[str, float]:
    """The expectations of the module docstring, one row at a time."""
    tp, fp = float(p[pred == 1].sum()), float((1 - p[pred == 1]).sum())
    fn, tn = float(p[pred == 0].sum()), float((1 - p[pred == 0]).sum())
    return {"tp": tp, "fp": fp, "fn": fn, "tn": tn, "accuracy": (tp + tn) / len(p),
            "base_rate": (tp + fn) / len(p)}


def weighted_auc(score: Floats, p: Floats) -> float:
    """Every row once as a positive weighted p, once as a negative weighted 1 - p."""
    y = np.r_[np.ones(len(score)), np.zeros(len(score))]
    return float(roc_auc_score(y, np.r_[score, score], sample_weight=np.r_[p, 1 - p]))


# ---------------------------------------------------------------- calibration


@NO_DEADLINE
@given(st.lists(st.tuples(GRID, st.integers(0, 1)), min_size=1, max_size=200))
def test_calibration_equals_sklearn_isotonic_regression(rows: list[tuple[float, int]]) -> None:
    score = np.array([s for s, _ in rows])
    truth = np.array([y for _, y in rows])
    ours = ScoreCalibration.fit(truth, score, min_rows=1)
    theirs = IsotonicRegression(out_of_bounds="clip").fit(score, truth)
    probe = np.linspace(0, 1, 2001)
    np.testing.assert_allclose(ours.predict(probe), theirs.predict(probe), rtol=0, atol=1e-12)
    np.testing.assert_allclose(ours.predict(score), theirs.predict(score), rtol=0, atol=1e-12)


def test_calibration_keeps_sklearn_breakpoints() -> None:
    truth, _, score = calibrated_rows(3, 2_000)
    score = np.round(score, 3)
    ours = ScoreCalibration.fit(truth, score)
    theirs = IsotonicRegression(out_of_bounds="clip").fit(score, truth)
    np.testing.assert_array_equal(ours.thresholds, theirs.X_thresholds_)
    np.testing.assert_allclose(ours.values, theirs.y_thresholds_, rtol=0, atol=1e-12)


class _ScoreModel(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """A fitted 'model' whose P(class 1) is its single feature."""

    def fit(self, x: Floats, y: Ints) -> _ScoreModel:
        self.classes_ = np.array([0, 1])
        return self

    def predict_proba(self, x: Floats) -> Floats:
        return np.column_stack([1 - x[:, 0], x[:, 0]])

    def predict(self, x: Floats) -> Ints:
        return (x[:, 0] >= 0.5).astype(np.int64)


def test_calibration_equals_sklearn_calibrated_classifier_isotonic() -> None:
    truth, _, score = calibrated_rows(4, 3_000, a=0.7, b=1.5)
    model = _ScoreModel().fit(score[:, None], truth)
    # ensemble=False: one calibrator on every row's (frozen, so out-of-fold) score
    sk = CalibratedClassifierCV(FrozenEstimator(model), method="isotonic", ensemble=False)
    sk.fit(score[:, None], truth)
    probe = np.linspace(0, 1, 1001)
    expected = sk.predict_proba(probe[:, None])[:, 1]
    got = ScoreCalibration.fit(truth, score).predict(probe)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)


def test_calibration_of_a_calibrated_model_is_near_the_identity() -> None:
    calibration = reference_calibration()
    probe = np.linspace(0.05, 0.95, 19)
    assert np.abs(calibration.predict(probe) - probe).max() < 0.06


def test_too_few_labels_give_an_explicit_status_not_nan() -> None:
    truth, pred, score = calibrated_rows(5, 99)
    calibration = ScoreCalibration.fit(truth, score, min_rows=100)
    assert not calibration.ready
    assert (calibration.n_rows, calibration.thresholds) == (99, ())
    result = estimate(calibration, ScoreSketch().update(pred, score))
    assert result == EstimatedClassificationMetrics("insufficient_labels", 99, 0, 99)
    assert result.accuracy is None
    assert result.roc_auc is None
    with pytest.raises(ValueError, match=r"min_rows=100 labelled rows, got 99"):
        calibration.predict(score)
    assert ScoreCalibration.fit(np.r_[truth, 1], np.r_[score, 0.5], min_rows=100).ready


# ------------------------------------------------------- estimate vs row-wise


@pytest.mark.parametrize("n_bins", [10, 1000])
def test_estimate_equals_row_wise_expectations_on_bin_midpoints(n_bins: int) -> None:
    rng = np.random.default_rng(6)
    score = (rng.integers(0, n_bins, 5_000) + 0.5) / n_bins
    pred = rng.integers(0, 2, 5_000)
    calibration = reference_calibration()
    result = estimate(calibration, ScoreSketch(n_bins).update(pred, score))
    p = calibration.predict(score)
    expected = row_wise(p, pred)
    got = {"tp": result.expected_tp, "fp": result.expected_fp, "fn": result.expected_fn,
           "tn": result.expected_tn, "accuracy": result.accuracy, "base_rate": result.base_rate}
    assert got == pytest.approx(expected, rel=1e-9)
    tp, fp, fn = expected["tp"], expected["fp"], expected["fn"]
    assert result.precision == pytest.approx(tp / (tp + fp), rel=1e-9)
    assert result.recall == pytest.approx(tp / (tp + fn), rel=1e-9)
    assert result.f1 == pytest.approx(2 * tp / (2 * tp + fp + fn), rel=1e-9)
    assert result.roc_auc == pytest.approx(weighted_auc(score, p), abs=1e-9)


@NO_DEADLINE
@given(st.integers(0, 2**32 - 1), st.sampled_from([10, 100, 1000]))
def test_estimate_is_within_its_binning_bounds_of_row_wise(seed: int, n_bins: int) -> None:
    rng = np.random.default_rng(seed)
    score = rng.random(2_000)
    pred = rng.integers(0, 2, 2_000)
    calibration = reference_calibration()
    result = estimate(calibration, ScoreSketch(n_bins).update(pred, score))
    bound = result.probability_error_bound
    assert bound is not None
    assert result.roc_auc_error_bound is not None
    p_row, p_mid = calibration.predict(score), calibration.predict(bin_midpoint(score, n_bins))
    assert float(np.abs(p_row - p_mid).mean()) <= bound + 1e-12  # the bound is a bound
    assert bound <= 2.0 / n_bins  # ... and not a vacuous one (calibration slope ~1)
    exact = row_wise(p_row, pred)
    assert abs(result.accuracy - exact["accuracy"]) <= bound + 1e-12  # type: ignore[operator]
    assert abs(result.base_rate - exact["base_rate"]) <= bound + 1e-12  # type: ignore[operator]
    for cell in ("tp", "fp", "fn", "tn"):
        got = getattr(result, f"expected_{cell}")
        assert abs(got - exact[cell]) <= 2_000 * bound + 1e-9
    auc = weighted_auc(score, p_mid)
    assert abs(result.roc_auc - auc) <= result.roc_auc_error_bound + 1e-9  # type: ignore[operator]


def test_a_coarse_binning_reports_a_larger_auc_bound() -> None:
    _truth, pred, score = calibrated_rows(7, 5_000)
    calibration = reference_calibration()
    coarse = estimate(calibration, ScoreSketch(10).update(pred, score))
    fine = estimate(calibration, ScoreSketch(1000).update(pred, score))
    assert coarse.roc_auc_error_bound > 0.05 > 0.001 > fine.roc_auc_error_bound  # type: ignore[operator]


# -------------------------------------------------- estimate vs realised metrics


@pytest.mark.parametrize("seed", [11, 12, 13])
def test_without_drift_the_estimate_is_near_the_realised_metrics(seed: int) -> None:
    calibration = reference_calibration(seed)
    truth, pred, score = calibrated_rows(seed + 100, 20_000)
    result = estimate(calibration, ScoreSketch().update(pred, score))
    realised = {"accuracy": accuracy_score(truth, pred), "precision": precision_score(truth, pred),
                "recall": recall_score(truth, pred), "f1": f1_score(truth, pred),
                "roc_auc": roc_auc_score(truth, score), "base_rate": truth.mean()}
    for metric, value in realised.items():
        assert abs(getattr(result, metric) - value) <= 0.025, metric
    sd = float(np.sqrt((score * (1 - score)).sum())) / len(score)
    assert abs(result.accuracy - realised["accuracy"]) <= 4 * sd + 0.005


def _shifted(seed: int, a: float, b: float) -> tuple[float, float, float, float]:
    """(estimated accuracy, realised accuracy, estimated base rate, realised base rate)."""
    truth, pred, score = calibrated_rows(seed, 20_000, a, b)
    result = estimate(reference_calibration(), ScoreSketch().update(pred, score))  # no labels
    assert result.accuracy is not None
    assert result.base_rate is not None
    return result.accuracy, accuracy_score(truth, pred), result.base_rate, float(truth.mean())


def test_covariate_shift_moves_the_estimate_the_way_the_realised_metrics_move() -> None:
    base_est, base_real, base_rate_est, base_rate_real = _shifted(21, 2, 2)
    # toward the uncertain region: accuracy falls from about 0.69 to about 0.58
    est, real, _, _ = _shifted(22, 12, 12)
    assert est < base_est - 0.05
    assert real < base_real - 0.05
    assert abs((est - base_est) - (real - base_real)) < 0.03
    # toward the positive class: more positives, more confident, accuracy rises
    est, real, rate_est, rate_real = _shifted(23, 6, 2)
    assert est > base_est + 0.03
    assert real > base_real + 0.03
    assert rate_est > base_rate_est + 0.15
    assert rate_real > base_rate_real + 0.15
    assert abs(rate_est - rate_real) < 0.025


# ------------------------------------------------------------- None, merge, dict


def test_zero_denominators_give_none() -> None:
    calibration = reference_calibration()
    only_negative = estimate(calibration, ScoreSketch().update([0, 0], [0.2, 0.7]))
    assert only_negative.precision is None
    assert only_negative.accuracy is not None
    empty = estimate(calibration, ScoreSketch().update([1, 0]))  # unscored rows only
    assert empty == EstimatedClassificationMetrics("no_scores", 0, 2, 20_000)
    never_positive = ScoreCalibration.fit(np.zeros(100, dtype=int), np.linspace(0, 1, 100))
    result = estimate(never_positive, ScoreSketch().update([1, 0], [0.9, 0.1]))
    assert (result.recall, result.roc_auc, result.f1, result.precision) == (None, None, 0.0, 0.0)


@NO_DEADLINE
@given(st.lists(st.tuples(st.integers(0, 1), st.one_of(GRID, st.just(float("nan")))),
                max_size=60), st.integers(0, 60))
def test_merge_equals_one_pass(rows: list[tuple[int, float]], cut: int) -> None:
    pred = np.array([y for y, _ in rows], dtype=np.int64)
    score = np.array([s for _, s in rows], dtype=np.float64)
    whole = ScoreSketch(50).update(pred, score)
    left, right = ScoreSketch(50).update(pred[:cut], score[:cut]), ScoreSketch(50)
    right.update(pred[cut:], score[cut:])
    merged = left.merge(right)
    assert merged.to_dict() == whole.to_dict()
    assert (merged.n, merged.n_unscored) == (int((~np.isnan(score)).sum()),
                                             int(np.isnan(score).sum()))
    assert left.n + right.n == whole.n  # inputs unchanged


def _json(data: dict[str, Any]) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(json.dumps(data, allow_nan=False))
    return loaded


def test_round_trips_through_json() -> None:
    truth, pred, score = calibrated_rows(8, 3_000)
    calibration = ScoreCalibration.fit(truth, score)
    assert ScoreCalibration.from_dict(_json(calibration.to_dict())) == calibration
    thin = ScoreCalibration.fit(truth[:5], score[:5])
    assert ScoreCalibration.from_dict(_json(thin.to_dict())) == thin
    sketch = ScoreSketch().update(pred, np.where(truth == 1, score, np.nan))
    restored = ScoreSketch.from_dict(_json(sketch.to_dict()))
    assert restored.to_dict() == sketch.to_dict()
    assert estimate(calibration, restored) == estimate(calibration, sketch)
    result = estimate(calibration, sketch).to_dict()
    assert _json(result) == result
    assert result["kind"] == "cbpe_estimate"


# ------------------------------------------------------------------ validation


@pytest.mark.parametrize(("call", "message"), [
    (lambda: ScoreCalibration.fit([0, 1], [0.1, 0.2], min_rows=0),
     r"min_rows must be an integer >= 1, got 0"),
    (lambda: ScoreCalibration.fit([0, 1], [0.1, 0.2], min_rows=True),
     r"min_rows must be an integer >= 1, got True"),
    (lambda: ScoreCalibration.fit([0, 2], [0.1, 0.2]), r"y_true must be 0 or 1, got 2 at index 1"),
    (lambda: ScoreCalibration.fit([0, 1], [0.1, 1.5]),
     r"y_score must be finite and in \[0, 1\], got 1.5 at index 1"),
    (lambda: ScoreCalibration.fit([0, 1], [0.1, float("nan")]),
     r"y_score must be finite and in \[0, 1\], got nan at index 1"),
    (lambda: ScoreCalibration.fit([0, 1], [0.1]), r"y_score must have the length of y_true"),
    (lambda: ScoreSketch().update([0, 1], [0.1, -0.1]),
     r"y_score must be in \[0, 1\] or NaN \(no score\), got -0.1 at index 1"),
    (lambda: ScoreSketch().update([0, 1], [0.1, float("inf")]),
     r"y_score must be in \[0, 1\] or NaN \(no score\), got inf at index 1"),
    (lambda: ScoreSketch().update([0, 3], [0.1, 0.2]), r"y_pred must be 0 or 1, got 3"),
    (lambda: ScoreSketch(0), r"n_bins must be an integer in \[1, 1000000\], got 0"),
    (lambda: ScoreSketch(10).merge(ScoreSketch(20)), r"other.n_bins must equal 10, got 20"),
])
def test_bad_arguments_name_the_parameter_range_and_value(call: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()


def test_sketch_update_is_all_or_nothing() -> None:
    sketch = ScoreSketch().update([1], [0.5])
    with pytest.raises(ValueError, match="y_score"):
        sketch.update([0, 1], [0.2, 2.0])
    assert (sketch.n, sketch.n_unscored) == (1, 0)


@pytest.mark.parametrize(("change", "message"), [
    ({"schema_version": 2}, r"schema_version must be 1, got 2"),
    ({"kind": "score_sketch"}, r"kind must be 'score_calibration', got 'score_sketch'"),
    ({"method": "binning"}, r"method must be 'isotonic', got 'binning'"),
    ({"values": [0.5, 0.2]}, r"values must be non-decreasing in \[0, 1\]"),
    ({"thresholds": [0.5, 0.5]}, r"thresholds must be increasing in \[0, 1\]"),
    ({"thresholds": [0.1]}, r"thresholds and values must have one equal length"),
    ({"n_positive": 11}, r"n_positive must be an integer in \[0, 10\], got 11"),
    ({"min_rows": 11}, r"thresholds and values must have one equal length, >= 1 exactly"),
    ({"thresholds": "x"}, r"checkpoint key 'thresholds' must be a list of numbers"),
])
def test_bad_calibration_documents_are_rejected(change: dict[str, Any], message: str) -> None:
    good = ScoreCalibration(10, 4, 10, (0.1, 0.9), (0.2, 0.8)).to_dict()
    with pytest.raises(ValueError, match=message):
        ScoreCalibration.from_dict({**good, **change})


@pytest.mark.parametrize(("change", "message"), [
    ({"kind": "classification"}, r"kind must be 'score_sketch'"),
    ({"pred1": [1, 2]}, r"'pred1' must be a list of n_bins=3 counts"),
    ({"unscored_pred0": -1}, r"'unscored_pred0' must be an integer >= 0, got -1"),
])
def test_bad_sketch_checkpoints_are_rejected(change: dict[str, Any], message: str) -> None:
    good = ScoreSketch(3).update([0, 1], [0.1, 0.9]).to_dict()
    with pytest.raises(ValueError, match=message):
        ScoreSketch.from_dict({**good, **change})
