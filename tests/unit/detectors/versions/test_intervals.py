"""Per-window differences against published values, scipy and scikit-learn.

References:
- Newcombe (1998), Statistics in Medicine 17:873-890, Table II, method 10 (hybrid
  score interval without continuity correction), 95 %, printed to 4 decimals:
  the eight worked examples (a)-(h), given there as p1 - p2; here p1 is the
  challenger.
- Wilson's interval: ``scipy.stats.binomtest(k, n).proportion_ci(method="wilson")``.
- Welch's and the paired t interval: ``scipy.stats.ttest_ind(equal_var=False)`` and
  ``scipy.stats.ttest_rel``, ``confidence_interval()``.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps
from sklearn.metrics import accuracy_score, precision_score, recall_score

from detectors.performance import ClassificationSketch
from detectors.versions.intervals import (
    compare_classification,
    newcombe_interval,
    paired_interval,
    welch_interval,
    wilson_interval,
)
from detectors.versions.moments import Moments

NEWCOMBE_TABLE_II = [  # (challenger k, n, champion k, n) -> (low, high)
    ((56, 70, 48, 80), (0.0524, 0.3339)),
    ((9, 10, 3, 10), (0.1705, 0.8090)),
    ((6, 7, 2, 7), (0.0582, 0.8062)),
    ((5, 56, 0, 29), (-0.0381, 0.1926)),
    ((0, 10, 0, 20), (-0.1611, 0.2775)),
    ((0, 10, 0, 10), (-0.2775, 0.2775)),
    ((10, 10, 0, 20), (0.6791, 1.0)),
    ((10, 10, 0, 10), (0.6075, 1.0)),
]


@pytest.mark.parametrize(("counts", "published"), NEWCOMBE_TABLE_II)
def test_newcombe_reproduces_the_papers_worked_examples(
        counts: tuple[int, int, int, int], published: tuple[float, float]) -> None:
    k1, n1, k2, n2 = counts
    result = newcombe_interval(k2, n2, k1, n1)
    assert result.difference == pytest.approx(k1 / n1 - k2 / n2, abs=1e-12)
    assert result.low == pytest.approx(published[0], abs=5e-5)
    assert result.high == pytest.approx(published[1], abs=5e-5)


@pytest.mark.parametrize("confidence", [0.8, 0.95, 0.99])
def test_newcombe_combines_scipys_wilson_intervals(confidence: float) -> None:
    rng = np.random.default_rng(21)
    for _ in range(50):
        na, nb = (int(x) for x in rng.integers(1, 3_000, 2))
        ka, kb = int(rng.integers(0, na + 1)), int(rng.integers(0, nb + 1))
        la, ua = sps.binomtest(ka, na).proportion_ci(confidence, method="wilson")
        lb, ub = sps.binomtest(kb, nb).proportion_ci(confidence, method="wilson")
        assert wilson_interval(ka, na, confidence) == pytest.approx((la, ua), abs=1e-12)
        a, b = ka / na, kb / nb
        result = newcombe_interval(ka, na, kb, nb, confidence)
        assert result.low == pytest.approx(b - a - np.hypot(b - lb, ua - a), abs=1e-12)
        assert result.high == pytest.approx(b - a + np.hypot(ub - b, a - la), abs=1e-12)


def test_newcombe_covers_the_true_difference_about_as_often_as_promised() -> None:
    rng = np.random.default_rng(22)
    runs, n = 2_000, 300
    ka, kb = rng.binomial(n, 0.95, runs), rng.binomial(n, 0.92, runs)
    covered = sum(
        r.low is not None and r.high is not None and r.low <= -0.03 <= r.high
        for r in (newcombe_interval(int(a), n, int(b), n) for a, b in zip(ka, kb, strict=True)))
    low, high = sps.binomtest(covered, runs).proportion_ci(0.999)
    assert low <= 0.95 <= high + 0.01  # nominal, or at most a point conservative


def test_empty_sides_give_no_difference() -> None:
    result = newcombe_interval(0, 0, 5, 10)
    assert (result.champion, result.challenger, result.difference) == (None, 0.5, None)
    assert (result.low, result.high) == (None, None)
    with pytest.raises(ValueError, match="challenger_successes must be an integer in"):
        newcombe_interval(1, 2, 3, 2)
    with pytest.raises(ValueError, match="n must be >= 1"):
        wilson_interval(0, 0)


def test_welch_equals_scipy() -> None:
    rng = np.random.default_rng(23)
    for size_a, size_b in [(2, 2), (5, 40), (1_000, 700)]:
        a, b = rng.lognormal(0.0, 1.0, size_a), rng.lognormal(0.2, 0.5, size_b)
        result = welch_interval(Moments.of(a), Moments.of(b), 0.9)
        expected = sps.ttest_ind(b, a, equal_var=False).confidence_interval(0.9)
        assert result.difference == pytest.approx(b.mean() - a.mean(), rel=1e-12)
        assert (result.low, result.high) == pytest.approx(tuple(expected), rel=1e-9)
    assert welch_interval(Moments.of([1.0]), Moments.of([1.0, 2.0])).low is None
    point = welch_interval(Moments.of([1.0, 1.0]), Moments.of([3.0, 3.0]))
    assert (point.low, point.high) == (2.0, 2.0)


def test_paired_equals_scipys_related_t_test() -> None:
    rng = np.random.default_rng(24)
    base = rng.gamma(2.0, 1.0, 400)
    a, b = base + rng.normal(0, 0.2, 400), base + rng.normal(0.05, 0.2, 400)
    result = paired_interval(Moments.of(a), Moments.of(b), Moments.of(b - a))
    expected = sps.ttest_rel(b, a).confidence_interval()
    assert (result.low, result.high) == pytest.approx(tuple(expected), rel=1e-9)
    assert (result.champion, result.challenger) == pytest.approx((a.mean(), b.mean()))
    unpaired = welch_interval(Moments.of(a), Moments.of(b))
    assert result.low is not None
    assert result.high is not None
    assert unpaired.low is not None
    assert unpaired.high is not None
    assert result.high - result.low < (unpaired.high - unpaired.low) / 3
    with pytest.raises(ValueError, match="same requests"):
        paired_interval(Moments.of(a), Moments.of(b[:10]), Moments.of(b - a))


def test_classification_differences_use_each_versions_own_denominators() -> None:
    rng = np.random.default_rng(25)
    truth_a, truth_b = rng.integers(0, 2, 800), rng.integers(0, 2, 900)
    pred_a = np.where(rng.random(800) < 0.85, truth_a, 1 - truth_a)
    pred_b = np.where(rng.random(900) < 0.80, truth_b, 1 - truth_b)
    a = ClassificationSketch().update(truth_a, pred_a)
    b = ClassificationSketch().update(truth_b, pred_b)
    result = compare_classification(a, b)
    for name, metric in [("accuracy", accuracy_score), ("precision", precision_score),
                         ("recall", recall_score)]:
        assert result[name].champion == pytest.approx(metric(truth_a, pred_a), rel=1e-12)
        assert result[name].challenger == pytest.approx(metric(truth_b, pred_b), rel=1e-12)
    confusion = a.confusion()
    assert result["precision"].n_champion == confusion["tp"] + confusion["fp"]
    assert result["recall"].n_champion == confusion["tp"] + confusion["fn"]
    assert result["accuracy"].n_challenger == 900
    expected = newcombe_interval(confusion["tp"] + confusion["tn"], 800,
                                 int((truth_b == pred_b).sum()), 900)
    assert result["accuracy"] == expected
