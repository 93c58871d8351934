"""Performance sketches against scikit-learn, merge properties, None conventions, checks.

Tolerances:
- ratios of counts (accuracy, precision, recall, f1, rates): both sides divide the same
  integers, so they agree to the last bit; 1e-12 relative leaves room for a reordering.
- log loss: the same clipped per-row terms summed in another order: 1e-9 relative.
- ROC AUC: the binned value may differ from the exact one by ``roc_auc_error_bound``
  (the documented bound), plus 1e-12 for sklearn's trapezoid sums.
- regression: sums in another order and a shifted two-pass M2: 1e-9 relative, 1e-12 absolute.
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.metrics import (
    accuracy_score,
    f1_score,
    log_loss,
    mean_absolute_error,
    precision_score,
    r2_score,
    recall_score,
    roc_auc_score,
    root_mean_squared_error,
)

from detectors.performance import (
    LOG_LOSS_EPS,
    ClassificationMetrics,
    ClassificationSketch,
    RegressionSketch,
)

NO_DEADLINE = settings(deadline=None)  # sklearn calls are slow to warm up on busy machines
Ints = NDArray[np.int64]
Floats = NDArray[np.float64]
ClassRows = tuple[Ints, Ints, Floats]


def _nan_to_none(value: float) -> float | None:
    return None if math.isnan(value) else float(value)


def _sk_auc(y: Ints, s: Floats) -> float | None:
    with warnings.catch_warnings():  # sklearn >= 1.6 warns and returns NaN for one class
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        try:
            return _nan_to_none(roc_auc_score(y, s))
        except ValueError:  # sklearn < 1.6 raises instead
            return None


def _sklearn(y: Ints, p: Ints) -> dict[str, float | None]:
    def undefined_as_nan(metric: Callable[..., float]) -> float | None:
        return _nan_to_none(metric(y, p, zero_division=np.nan))

    return {"accuracy": float(accuracy_score(y, p)), "precision": undefined_as_nan(precision_score),
            "recall": undefined_as_nan(recall_score), "f1": undefined_as_nan(f1_score)}


def _assert_close(ours: float | None, reference: float | None, rel: float = 1e-12,
                  absolute: float = 0.0) -> None:
    assert (ours is None) == (reference is None), (ours, reference)
    if ours is not None:
        assert ours == pytest.approx(reference, rel=rel, abs=absolute)


def _assert_matches_sklearn(y: Ints, p: Ints, s: Floats, n_bins: int = 1000) -> None:
    m = ClassificationSketch(n_bins).update(y, p, s).result()
    for name, reference in _sklearn(y, p).items():
        _assert_close(getattr(m, name), reference)
    _assert_close(m.base_rate, float(np.mean(y == 1)))
    _assert_close(m.positive_rate, float(np.mean(p == 1)))
    assert m.log_loss == pytest.approx(log_loss(y, s, labels=[0, 1]), rel=1e-9)
    reference_auc = _sk_auc(y, s)
    _assert_close(m.roc_auc, reference_auc, absolute=1.0)
    if m.roc_auc is not None and reference_auc is not None:
        assert m.roc_auc_error_bound is not None
        assert abs(m.roc_auc - reference_auc) <= m.roc_auc_error_bound + 1e-12


def _random_rows(rng: np.random.Generator, n: int) -> ClassRows:
    y = rng.integers(0, 2, n)
    s = np.clip(0.35 * y + 0.65 * rng.random(n), 0.0, 1.0)
    return y, (s >= 0.5).astype(np.int64), s


@pytest.mark.parametrize("seed", range(20))
def test_classification_matches_sklearn_on_random_input(seed: int) -> None:
    rng = np.random.default_rng(seed)
    _assert_matches_sklearn(*_random_rows(rng, int(rng.integers(2, 2000))))


def _case(y: list[int], p: list[int], s: list[float]) -> ClassRows:
    return np.array(y), np.array(p), np.array(s, dtype=np.float64)


ADVERSARIAL = {
    "all positive": _case([1, 1, 1], [1, 0, 1], [0.9, 0.2, 0.6]),
    "all negative": _case([0, 0, 0, 0], [0, 0, 1, 0], [0.1, 0.3, 0.7, 0.0]),
    "all correct": _case([0, 1, 1, 0], [0, 1, 1, 0], [0.0, 1.0, 1.0, 0.0]),
    "all wrong": _case([0, 1, 1, 0], [1, 0, 0, 1], [1.0, 0.0, 0.0, 1.0]),
    "tied scores": _case([0, 1, 0, 1, 1], [1, 1, 1, 1, 1], [0.5] * 5),
    "scores 0 and 1": _case([0, 1, 0, 1, 1, 0], [0, 1, 1, 0, 1, 0], [0, 1, 1, 0, 1, 0]),
    "single row": _case([1], [0], [0.3]),
    "no predicted positive": _case([0, 1, 1, 0], [0, 0, 0, 0], [0.2, 0.4, 0.45, 0.1]),
    "all true negatives": _case([0, 0], [0, 0], [0.2, 0.1]),
}


@pytest.mark.parametrize("rows", ADVERSARIAL.values(), ids=list(ADVERSARIAL))
def test_classification_matches_sklearn_on_adversarial_input(rows: ClassRows) -> None:
    _assert_matches_sklearn(*rows)


def test_all_wrong_with_certain_scores_costs_the_clipping_constant() -> None:
    m = ClassificationSketch().update(*ADVERSARIAL["all wrong"]).result()
    assert m.log_loss == pytest.approx(-math.log(LOG_LOSS_EPS), rel=1e-12)
    assert (m.accuracy, m.precision, m.recall, m.f1, m.roc_auc) == (0.0, 0.0, 0.0, 0.0, 0.0)
    assert np.finfo(np.float64).eps == LOG_LOSS_EPS


def test_undefined_metrics_are_none() -> None:
    empty = ClassificationSketch().result()
    assert empty == ClassificationMetrics(0, 0, *([None] * 9))
    unscored = ClassificationSketch().update(np.array([1, 0]), np.array([0, 0])).result()
    assert (unscored.precision, unscored.log_loss, unscored.roc_auc) == (None, None, None)
    assert (unscored.recall, unscored.f1, unscored.accuracy) == (0.0, 0.0, 0.5)
    one_class = ClassificationSketch().update(*ADVERSARIAL["all positive"]).result()
    assert (one_class.roc_auc, one_class.roc_auc_error_bound) == (None, None)
    assert one_class.log_loss is not None
    assert one_class.precision == 1.0
    negatives = ClassificationSketch().update(*ADVERSARIAL["all true negatives"]).result()
    assert (negatives.precision, negatives.recall, negatives.f1) == (None, None, None)


def test_scored_metrics_cover_only_scored_rows() -> None:
    y, p, s = _random_rows(np.random.default_rng(7), 50)
    sketch = ClassificationSketch().update(y[:30], p[:30], s[:30]).update(y[30:], p[30:])
    m = sketch.result()
    assert (m.n, m.n_scored) == (50, 30)
    assert m.log_loss == pytest.approx(log_loss(y[:30], s[:30], labels=[0, 1]), rel=1e-9)
    assert m.accuracy == accuracy_score(y, p)


def test_boolean_labels_equal_integer_labels() -> None:
    y, p, s = _random_rows(np.random.default_rng(3), 40)
    as_bool = ClassificationSketch().update(y == 1, p == 1, s).result()
    assert as_bool == ClassificationSketch().update(y, p, s).result()


# --- ROC AUC bound ---------------------------------------------------------------------


@pytest.mark.parametrize("n_bins", [1, 2, 5, 10, 100, 1000])
def test_binned_auc_is_within_its_bound_of_sklearn(n_bins: int) -> None:
    rng = np.random.default_rng(n_bins)
    errors = []
    for _ in range(60):
        y, p, s = _random_rows(rng, int(rng.integers(2, 400)))
        y[:2] = [0, 1]
        if rng.random() < 0.3:  # exact ties in the raw scores too
            s = np.round(s, 1)
        m = ClassificationSketch(n_bins).update(y, p, s).result()
        assert m.roc_auc is not None
        assert m.roc_auc_error_bound is not None
        error = abs(m.roc_auc - roc_auc_score(y, s))
        assert error <= m.roc_auc_error_bound + 1e-12
        errors.append(error)
    assert max(errors) > 0  # the binning does lose information: the check is not vacuous


@pytest.mark.parametrize("positives_above", [True, False])
def test_auc_bound_is_attained_when_one_class_tops_every_shared_bin(positives_above: bool) -> None:
    rng = np.random.default_rng(11)
    bins = rng.integers(0, 10, 80)
    low, high = bins / 10 + 0.01, bins / 10 + 0.09
    y = rng.integers(0, 2, 80)
    y[:2] = [0, 1]
    s = np.where((y == 1) == positives_above, high, low)
    m = ClassificationSketch(10).update(y, y, s).result()
    assert m.roc_auc is not None
    assert m.roc_auc_error_bound is not None
    assert m.roc_auc_error_bound > 0.01
    signed = roc_auc_score(y, s) - m.roc_auc
    expected = m.roc_auc_error_bound if positives_above else -m.roc_auc_error_bound
    assert signed == pytest.approx(expected, abs=1e-12)


def test_auc_is_exact_when_no_bin_holds_both_classes() -> None:
    y = np.array([0, 0, 1, 0, 1, 1])
    s = np.array([0.05, 0.15, 0.25, 0.35, 0.95, 1.0])
    m = ClassificationSketch(10).update(y, y, s).result()
    assert m.roc_auc_error_bound == 0.0
    assert m.roc_auc == pytest.approx(roc_auc_score(y, s), abs=1e-15)


def test_score_bins_are_half_open_with_one_in_the_last_bin() -> None:
    y = np.array([0, 1, 0, 1])
    m = ClassificationSketch(2).update(y, y, np.array([0.0, 0.5, 0.4999, 1.0])).result()
    assert (m.roc_auc, m.roc_auc_error_bound) == (1.0, 0.0)
    tied = ClassificationSketch(2).update(y, y, np.array([0.5, 0.6, 0.7, 1.0])).result()
    assert (tied.roc_auc, tied.roc_auc_error_bound) == (0.5, 0.5)


# --- merge properties --------------------------------------------------------------------

SCORES = st.one_of(st.floats(0.0, 1.0), st.sampled_from([0.0, 0.5, 1.0, 0.999, 0.001]))


@st.composite
def class_rows(draw: st.DrawFn, max_size: int = 40) -> ClassRows:
    n = draw(st.integers(0, max_size))
    bits = st.lists(st.integers(0, 1), min_size=n, max_size=n)
    y, p = np.array(draw(bits), dtype=np.int64), np.array(draw(bits), dtype=np.int64)
    return y, p, np.array(draw(st.lists(SCORES, min_size=n, max_size=n)), dtype=np.float64)


def _cls(rows: ClassRows, n_bins: int = 7) -> ClassificationSketch:
    return ClassificationSketch(n_bins).update(*rows)


def _assert_same_cls(a: ClassificationSketch, b: ClassificationSketch) -> None:
    da, db = a.to_dict(), b.to_dict()
    assert da.pop("log_loss_sum") == pytest.approx(db.pop("log_loss_sum"), rel=1e-12, abs=1e-12)
    assert da == db


@NO_DEADLINE
@given(class_rows(), st.data())
def test_classification_merge_of_two_halves_equals_the_whole(rows: ClassRows,
                                                             data: st.DataObject) -> None:
    cut = data.draw(st.integers(0, len(rows[0])))
    y, p, s = rows
    left, right = _cls((y[:cut], p[:cut], s[:cut])), _cls((y[cut:], p[cut:], s[cut:]))
    before = left.to_dict(), right.to_dict()
    _assert_same_cls(left.merge(right), _cls(rows))
    assert (left.to_dict(), right.to_dict()) == before  # merge leaves its inputs alone


@NO_DEADLINE
@given(class_rows(), class_rows(), class_rows())
def test_classification_merge_is_associative_and_commutative(
        a: ClassRows, b: ClassRows, c: ClassRows) -> None:
    x, y, z = _cls(a), _cls(b), _cls(c)
    _assert_same_cls(x.merge(y).merge(z), x.merge(y.merge(z)))
    assert x.merge(y).to_dict() == y.merge(x).to_dict()


@NO_DEADLINE
@given(class_rows(max_size=60), st.sampled_from([1, 3, 10, 1000]))
def test_auc_bound_holds_for_any_scores(rows: ClassRows, n_bins: int) -> None:
    m = _cls(rows, n_bins).result()
    reference = _sk_auc(rows[0], rows[2])
    _assert_close(m.roc_auc, reference, absolute=1.0)
    if m.roc_auc is not None and reference is not None and m.roc_auc_error_bound is not None:
        assert abs(m.roc_auc - reference) <= m.roc_auc_error_bound + 1e-12


VALUES = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)
RegRows = tuple[Floats, Floats]


@st.composite
def reg_rows(draw: st.DrawFn, max_size: int = 40) -> RegRows:
    n = draw(st.integers(0, max_size))
    values = st.lists(VALUES, min_size=n, max_size=n)
    return np.array(draw(values), dtype=np.float64), np.array(draw(values), dtype=np.float64)


def _reg(rows: RegRows) -> RegressionSketch:
    return RegressionSketch().update(*rows)


def _assert_same_reg(a: RegressionSketch, b: RegressionSketch) -> None:
    # Values up to 1e6 over <= 120 rows: sums up to ~1e8, squared sums up to ~1e15. The
    # absolute tolerance is 1e-12 of those magnitudes, for sums that cancel towards 0.
    da, db = a.to_dict(), b.to_dict()
    assert da.keys() == db.keys()
    for key, value in da.items():
        if not isinstance(value, float):  # schema_version, kind, n: exact
            assert value == db[key], key
            continue
        absolute = 1e3 if key in ("sum_sq_error", "m2_true") else 1e-4
        assert value == pytest.approx(db[key], rel=1e-9, abs=absolute), key


@NO_DEADLINE
@given(reg_rows(), st.data())
def test_regression_merge_of_two_halves_equals_the_whole(rows: RegRows,
                                                         data: st.DataObject) -> None:
    cut = data.draw(st.integers(0, len(rows[0])))
    merged = _reg((rows[0][:cut], rows[1][:cut])).merge(_reg((rows[0][cut:], rows[1][cut:])))
    _assert_same_reg(merged, _reg(rows))


@NO_DEADLINE
@given(reg_rows(), reg_rows(), reg_rows())
def test_regression_merge_is_associative_and_commutative(a: RegRows, b: RegRows,
                                                         c: RegRows) -> None:
    x, y, z = _reg(a), _reg(b), _reg(c)
    _assert_same_reg(x.merge(y).merge(z), x.merge(y.merge(z)))
    _assert_same_reg(x.merge(y), y.merge(x))


@NO_DEADLINE
@given(VALUES, st.lists(st.integers(0, 5), min_size=1, max_size=6))
def test_constant_target_gives_no_r2_however_it_is_split(value: float, sizes: list[int]) -> None:
    sketch = RegressionSketch()
    for size in sizes:
        sketch = sketch.merge(_reg((np.full(size, value), np.full(size, value + 1.0))))
    assert sketch.result().r2 is None


# --- regression against scikit-learn -------------------------------------------------------


def _assert_regression_matches_sklearn(y: Floats, p: Floats) -> None:
    m = RegressionSketch().update(y, p).result()
    assert m.n == len(y)
    assert m.mae == pytest.approx(mean_absolute_error(y, p), rel=1e-9, abs=1e-12)
    assert m.rmse == pytest.approx(root_mean_squared_error(y, p), rel=1e-9, abs=1e-12)
    assert m.mean_error == pytest.approx(float(np.mean(p - y)), rel=1e-9, abs=1e-9)
    assert m.r2 == pytest.approx(r2_score(y, p), rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("seed", range(20))
def test_regression_matches_sklearn_on_random_input(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 2000))
    y = rng.normal(rng.normal(0, 100), rng.uniform(0.1, 50), n)
    _assert_regression_matches_sklearn(y, y + rng.normal(rng.normal(), rng.uniform(0.1, 9), n))


REGRESSION_CASES = {
    "perfect": (np.arange(5.0), np.arange(5.0)),
    "far offset": (1e9 + np.arange(6.0), 1e9 + np.arange(6.0)[::-1]),
    "worse than the mean": (np.array([1.0, 2.0, 3.0]), np.array([30.0, -20.0, 10.0])),
    "integers": (np.array([3, -1, 2, 7]), np.array([2, 0, 2, 8])),
    "two rows": (np.array([0.0, 1.0]), np.array([0.0, 0.0])),
}


@pytest.mark.parametrize("rows", REGRESSION_CASES.values(), ids=list(REGRESSION_CASES))
def test_regression_matches_sklearn_on_adversarial_input(rows: RegRows) -> None:
    _assert_regression_matches_sklearn(*rows)


@pytest.mark.parametrize(("y", "p", "sklearn_r2"), [
    ([4.0, 4.0, 4.0], [4.0, 4.0, 4.0], 1.0),  # sklearn: perfect predictions on a constant
    ([4.0, 4.0, 4.0], [4.5, 3.0, 4.0], 0.0),  # sklearn: any error on a constant
])
def test_r2_is_none_for_a_constant_target_where_sklearn_forces_a_value(
        y: list[float], p: list[float], sklearn_r2: float) -> None:
    m = RegressionSketch().update(np.array(y), np.array(p)).result()
    assert m.r2 is None
    assert m.mae == pytest.approx(mean_absolute_error(y, p), rel=1e-12)
    assert r2_score(y, p) == sklearn_r2


def test_r2_is_none_for_a_constant_target_whose_float_mean_is_inexact() -> None:
    # The float mean of [0.1] * 3 is not 0.1, so a plain two-pass M2 is tiny but not 0
    # (sklearn 1.9 then reports r2 = -3.5e31); the shifted M2 here is exactly 0.
    y, p = np.full(3, 0.1), np.array([0.2, 0.0, 0.1])
    assert np.mean(y) != 0.1
    assert RegressionSketch().update(y, p).result().r2 is None


def test_r2_is_none_for_a_single_row_where_sklearn_warns_and_returns_nan() -> None:
    m = RegressionSketch().update(np.array([2.0]), np.array([3.5])).result()
    assert (m.n, m.mae, m.rmse, m.mean_error, m.r2) == (1, 1.5, 1.5, 1.5, None)
    with pytest.warns(UndefinedMetricWarning):
        assert math.isnan(r2_score([2.0], [3.5]))


def test_empty_regression_sketch_has_only_none() -> None:
    m = RegressionSketch().update(np.array([]), np.array([])).result()
    assert (m.n, m.mae, m.rmse, m.r2, m.mean_error) == (0, None, None, None, None)


# --- validation -----------------------------------------------------------------------------

BAD_CLASSIFICATION: list[tuple[tuple[Any, ...], str]] = [
    (([0, 2], [0, 1]), r"y_true must be 0 or 1, got 2 at index 1"),
    (([0, 1], [0, 0.5]), r"y_pred must be 0 or 1, got 0\.5 at index 1"),
    (([0, float("nan")], [0, 1]), r"y_true must be 0 or 1, got nan at index 1"),
    (([0, 1], [0]), r"y_pred must have the length of y_true \(2\), got 1"),
    (([0, 1], [0, 1], [0.5]), r"y_score must have the length of y_true \(2\), got 1"),
    (([0, 1], [0, 1], [0.5, 1.5]), r"y_score must be finite and in \[0, 1\], got 1\.5 at index 1"),
    (([0, 1], [0, 1], [-0.1, 1]), r"y_score must be finite and in \[0, 1\], got -0\.1 at index 0"),
    (([0, 1], [0, 1], [0.5, float("nan")]), r"y_score must be .* got nan at index 1"),
    (([0, 1], [0, 1], [float("inf"), 0.5]), r"y_score must be .* got inf at index 0"),
    (([[0, 1]], [[0, 1]]), r"y_true must be one-dimensional, got shape \(1, 2\)"),
    ((["0", "1"], [0, 1]), r"y_true must be numeric or boolean, got dtype <U1"),
]


@pytest.mark.parametrize(("args", "message"), BAD_CLASSIFICATION)
def test_classification_rejects_bad_input_and_keeps_its_state(args: tuple[Any, ...],
                                                              message: str) -> None:
    sketch = ClassificationSketch().update(np.array([1]), np.array([1]), np.array([0.7]))
    before = sketch.to_dict()
    with pytest.raises(ValueError, match=message):
        sketch.update(*(np.array(a) for a in args))
    assert sketch.to_dict() == before


@pytest.mark.parametrize(("y", "p", "message"), [
    ([1.0, float("nan")], [1.0, 2.0], r"y_true must be finite, got nan at index 1"),
    ([1.0, 2.0], [float("-inf"), 2.0], r"y_pred must be finite, got -inf at index 0"),
    ([1.0, 2.0], [1.0], r"y_pred must have the length of y_true \(2\), got 1"),
    ([1e200, 1.0], [-1e200, 1.0], r"must stay within float64 range"),
])
def test_regression_rejects_bad_input(y: list[float], p: list[float], message: str) -> None:
    sketch = RegressionSketch().update(np.array([1.0, 2.0]), np.array([1.5, 2.0]))
    before = sketch.to_dict()
    with pytest.raises(ValueError, match=message):
        sketch.update(np.array(y), np.array(p))
    assert sketch.to_dict() == before


@pytest.mark.parametrize("n_bins", [0, 1_000_001, 2.5, True, "10"])
def test_n_bins_is_validated(n_bins: Any) -> None:
    with pytest.raises(ValueError, match=r"n_bins must be an integer in \[1, 1000000\], got"):
        ClassificationSketch(n_bins)


def test_sketches_with_different_bins_do_not_merge() -> None:
    with pytest.raises(ValueError, match=r"other.n_bins must equal 10, got 20"):
        ClassificationSketch(10).merge(ClassificationSketch(20))


# --- checkpoints ------------------------------------------------------------------------------


def _through_json(data: dict[str, Any]) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(json.dumps(data, allow_nan=False))
    return loaded


@NO_DEADLINE
@given(class_rows(), st.sampled_from([1, 7, 1000]))
def test_classification_checkpoint_round_trip_is_exact(rows: ClassRows, n_bins: int) -> None:
    sketch = _cls(rows, n_bins)
    restored = ClassificationSketch.from_dict(_through_json(sketch.to_dict()))
    assert restored.to_dict() == sketch.to_dict()
    assert restored.result() == sketch.result()
    assert restored.to_dict()["schema_version"] == 1


@NO_DEADLINE
@given(reg_rows())
def test_regression_checkpoint_round_trip_is_exact(rows: RegRows) -> None:
    sketch = _reg(rows)
    restored = RegressionSketch.from_dict(_through_json(sketch.to_dict()))
    assert restored.to_dict() == sketch.to_dict()
    assert restored.result() == sketch.result()
    extra = (np.array([1.0, 5.0]), np.array([2.0, 4.0]))
    assert restored.update(*extra).to_dict() == sketch.update(*extra).to_dict()


def _classification_checkpoint() -> dict[str, Any]:
    return ClassificationSketch(3).update(np.array([0, 1]), np.array([0, 1]),
                                          np.array([0.2, 0.9])).to_dict()


@pytest.mark.parametrize(("change", "message"), [
    ({"schema_version": 2}, r"schema_version must be 1, got 2"),
    ({"kind": "regression"}, r"kind must be 'classification', got 'regression'"),
    ({"tp": -1}, r"checkpoint key 'tp' must be an integer >= 0, got -1"),
    ({"fn": True}, r"checkpoint key 'fn' must be an integer >= 0, got True"),
    ({"score_hist_pos": [0, 1]}, r"'score_hist_pos' must be a list of n_bins=3 counts"),
    ({"score_hist_neg": [0, 1.5, 0]}, r"'score_hist_neg' must be an integer >= 0, got 1\.5"),
    ({"log_loss_sum": float("inf")}, r"'log_loss_sum' must be a finite number, got inf"),
    ({"log_loss_sum": -1.0}, r"'log_loss_sum' must be >= 0, got -1\.0"),
    ({"n_bins": 0}, r"n_bins must be an integer in \[1, 1000000\], got 0"),
])
def test_bad_classification_checkpoints_are_rejected(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ClassificationSketch.from_dict(_classification_checkpoint() | change)


@pytest.mark.parametrize(("change", "message"), [
    ({"kind": "classification"}, r"kind must be 'regression', got 'classification'"),
    ({"n": 1.0}, r"checkpoint key 'n' must be an integer >= 0, got 1\.0"),
    ({"m2_true": -2.0}, r"'m2_true' must be >= 0, got -2\.0"),
    ({"sum_error": "1"}, r"'sum_error' must be a finite number, got '1'"),
])
def test_bad_regression_checkpoints_are_rejected(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        RegressionSketch.from_dict(_reg((np.arange(3.0), np.ones(3))).to_dict() | change)


def test_checkpoint_missing_a_key_is_rejected() -> None:
    data = _classification_checkpoint()
    del data["log_loss_sum"]
    with pytest.raises(ValueError, match=r"checkpoint is missing key 'log_loss_sum'"):
        ClassificationSketch.from_dict(data)
