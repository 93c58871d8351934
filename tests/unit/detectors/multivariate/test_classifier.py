"""Domain classifier: its parts against scipy and scikit-learn, its calibration and the butterfly.

Calibration as for the reconstruction: windows drawn from the reference's own
distribution are flagged at ``ALPHA`` no more often than the 99.9 % quantile of
Binomial(windows, ALPHA) allows.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps

from detectors.multivariate import classifier_test
from detectors.multivariate.classifier import MIN_ROWS, _logistic, _mann_whitney
from tests.unit.detectors.multivariate.data import WEEK, butterfly, mixed

ALPHA = 0.05


def test_mann_whitney_equals_scipy_with_ties() -> None:
    rng = np.random.default_rng(1)
    positive = np.round(rng.normal(0.2, 1.0, 300), 1)  # rounded: many ties
    negative = np.round(rng.normal(0.0, 1.0, 500), 1)
    z, auc = _mann_whitney(positive, negative)
    scipy = sps.mannwhitneyu(positive, negative, alternative="greater", use_continuity=False,
                             method="asymptotic")
    assert auc == pytest.approx(scipy.statistic / (300 * 500), rel=1e-12)
    assert sps.norm.sf(z) == pytest.approx(scipy.pvalue, rel=1e-9)


def test_logistic_regression_equals_scikit_learn() -> None:
    linear_model = pytest.importorskip("sklearn.linear_model")
    rng = np.random.default_rng(2)
    x = rng.standard_normal((400, 3))
    y = (x @ np.array([1.0, -0.5, 0.0]) + rng.logistic(size=400) > 0).astype(np.float64)
    weights = _logistic(x, y, ridge=2.0)
    model = linear_model.LogisticRegression(C=0.5, tol=1e-12, max_iter=10_000).fit(x, y)
    np.testing.assert_allclose(weights[1:], model.coef_[0], atol=1e-6)
    assert weights[0] == pytest.approx(model.intercept_[0], abs=1e-6)


@pytest.mark.parametrize(("rows", "windows"), [(100, 200), (1_000, 100)])
def test_null_false_alarm_rate_is_within_alpha(rows: int, windows: int) -> None:
    rng = np.random.default_rng(rows)
    flagged = 0
    for w in range(windows):
        if w % 10 == 0:
            reference = mixed(rng, 3_000)
        flagged += classifier_test(reference, mixed(rng, rows), max_rows=1_000,
                                   seed=w).p_value < ALPHA
    assert flagged <= sps.binom.ppf(0.999, windows, ALPHA), flagged


def test_butterfly_rotation_is_flagged() -> None:
    rng = np.random.default_rng(23)
    reference = butterfly(rng, 10 * WEEK, rotated=False)
    level = ALPHA / (len(reference) + 1)
    for week in range(6):
        rotated = week >= 3
        result = classifier_test(reference, butterfly(rng, WEEK, rotated), max_rows=1_000,
                                 seed=week)
        assert (result.p_value < level) == rotated, (week, result)
    assert result.auc > 0.9


def test_shift_of_one_categorical_share_is_seen() -> None:
    rng = np.random.default_rng(3)
    reference = mixed(rng, 4_000)
    window = mixed(rng, 2_000)
    window["colour"] = np.where(rng.random(2_000) < 0.3, "grey", window["colour"])
    assert classifier_test(reference, window).p_value < 1e-6


def test_bad_input_is_refused() -> None:
    rng = np.random.default_rng(4)
    reference = mixed(rng, 500)
    with pytest.raises(ValueError, match=f"at least {MIN_ROWS} rows a side"):
        classifier_test(reference, mixed(rng, MIN_ROWS - 1))
    window = mixed(rng, 200)
    del window["city"]
    with pytest.raises(ValueError, match="no column 'city'"):
        classifier_test(reference, window)
    with pytest.raises(ValueError, match="max_rows must be an integer"):
        classifier_test(reference, mixed(rng, 200), max_rows=10)
    with pytest.raises(ValueError, match="at least one column with values"):
        classifier_test({"x": np.full(200, np.nan)}, {"x": np.full(200, np.nan)})
    window = mixed(rng, 200)
    with pytest.raises(ValueError, match="'a' is numeric in the reference"):
        classifier_test(reference, {**window, "a": window["a"].astype(object)})


def test_results_are_reproducible_with_the_seed() -> None:
    rng = np.random.default_rng(5)
    reference, window = mixed(rng, 3_000), mixed(rng, 3_000)
    assert classifier_test(reference, window, seed=9) == classifier_test(reference, window,
                                                                         seed=9)


def test_string_arrays_are_categories() -> None:
    rng = np.random.default_rng(6)
    kinds = np.array(["x", "y", "z"])
    reference = {"kind": kinds[rng.integers(0, 3, 1_000)], "n": rng.poisson(4, 1_000)}
    window = {"kind": kinds[rng.choice(3, 1_000, p=[0.6, 0.2, 0.2])].astype(object),
              "n": rng.poisson(4, 1_000)}
    assert classifier_test(reference, window).p_value < 1e-6


def test_a_change_of_spread_away_from_zero_is_seen() -> None:
    """Squares of standardised columns see it; squares of raw values (mean 50) would not."""
    rng = np.random.default_rng(7)
    reference = {"x": rng.normal(50.0, 2.0, 2_000), "y": rng.standard_normal(2_000)}
    window = {"x": rng.normal(50.0, 2.6, 1_000), "y": rng.standard_normal(1_000)}
    assert classifier_test(reference, window).p_value < 1e-4
