"""The verdict: effect size AND corrected p-value AND sample size, calm on large windows.

The classic rule (PSI and Benjamini–Hochberg) is tested here with ``CLASSIC``; the
default budget verdict in ``test_budget.py``.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray
from scipy import stats as sps

from detectors import DriftPolicy, compare
from detectors.batch import build_profile
from detectors.reference import CategoricalReference, NumericReference
from detectors.sketch import WindowSketch
from detectors.verdict import evaluate

CLASSIC = DriftPolicy.of("classic")


def _normal(seed: int, n: int, shift: float = 0.0) -> NDArray[np.float64]:
    return np.random.default_rng(seed).normal(shift, 1.0, n)


def test_large_window_with_negligible_shift_is_calm() -> None:
    ref, cur = _normal(1, 100_000), _normal(2, 100_000, shift=0.03)
    report = compare({"x": ref}, {"x": cur}, {"x": "numeric"}, policy=CLASSIC)
    feature = report.features[0]
    assert feature.ks_pvalue is not None
    assert feature.ks_pvalue < 1e-6  # a bare KS test would page someone
    assert feature.psi is not None
    assert feature.psi < 0.1
    assert (feature.drifted, feature.severity) == (False, "none")


@pytest.mark.parametrize(("shift", "severity"), [(0.0, "none"), (0.4, "warn"), (1.5, "critical")])
def test_severity_tiers_follow_psi(shift: float, severity: str) -> None:
    report = compare({"x": _normal(3, 5_000)}, {"x": _normal(4, 5_000, shift)}, {"x": "numeric"},
                     policy=CLASSIC)
    feature = report.features[0]
    assert feature.psi is not None
    assert feature.severity == severity
    assert feature.drifted == (severity != "none")
    if severity == "warn":
        assert 0.1 <= feature.psi < 0.25


def test_small_samples_are_insufficient_data_never_nan() -> None:
    report = compare({"x": _normal(5, 5_000)}, {"x": _normal(6, 50, shift=3.0)}, {"x": "numeric"})
    feature = report.features[0]
    assert feature.severity == "insufficient_data"
    assert feature.drifted is False
    assert feature.pvalue_adjusted is None
    assert report.status == "insufficient_data"
    assert report.drift_share is None
    json.dumps(report.to_dict(), allow_nan=False)


def test_empty_and_all_missing_windows_give_explicit_results() -> None:
    profile = build_profile({"x": _normal(7, 500), "c": np.array(["a"] * 500, dtype=object)},
                            {"x": "numeric", "c": "categorical"})
    sketch = WindowSketch(profile).update(
        {"x": np.full(300, np.nan), "c": np.array([None] * 300, dtype=object)})
    report = evaluate(profile, sketch)
    for feature in report.features:
        assert feature.severity == "insufficient_data"
        assert feature.psi is None
        assert feature.n_current == 0
    text = json.dumps(report.to_dict(), allow_nan=False)
    assert "NaN" not in text
    empty = evaluate(profile, WindowSketch(profile))
    assert empty.status == "insufficient_data"
    assert empty.features[0].missing_rate is None


def test_large_effect_without_significance_is_not_drift() -> None:
    policy = DriftPolicy.of("classic", min_samples=3)
    report = compare({"x": np.array([0.0, 1.0, 2.0, 3.0])}, {"x": np.array([1.5, 2.5, 3.5])},
                     {"x": "numeric"}, policy=policy)
    feature = report.features[0]
    assert feature.psi is not None
    assert feature.psi > 0.25
    assert feature.pvalue_adjusted is not None
    assert feature.pvalue_adjusted > 0.05
    assert feature.severity == "none"


def test_correction_is_benjamini_hochberg_across_tested_columns() -> None:
    rng = np.random.default_rng(8)
    shifts = [0.0, 0.02, 0.05, 0.08, 0.3, 0.0]
    ref = {f"f{i}": rng.normal(size=800) for i in range(len(shifts))}
    cur = {f"f{i}": rng.normal(s, 1.0, 800) for i, s in enumerate(shifts)}
    cur["f5"][40:] = np.nan  # 40 usable values, below min_samples: out of the family
    kinds: dict[str, Any] = dict.fromkeys(ref, "numeric")
    report = compare(ref, cur, kinds, policy=CLASSIC)
    tested = [f for f in report.features if f.severity != "insufficient_data"]
    assert [f.name for f in tested] == ["f0", "f1", "f2", "f3", "f4"]
    raw = np.array([f.pvalue for f in tested])
    expected = sps.false_discovery_control(raw, method="bh")
    adjusted = np.array([f.pvalue_adjusted for f in tested], dtype=float)
    np.testing.assert_allclose(adjusted, expected, rtol=1e-12)
    no_correction = compare(ref, cur, kinds, policy=DriftPolicy.of("classic", correction="none"))
    assert all(f.pvalue == f.pvalue_adjusted for f in no_correction.features[:5])
    assert report.features[2].pvalue_adjusted != report.features[2].pvalue


def test_policy_severity_needs_all_three_conditions() -> None:
    policy = CLASSIC
    assert policy.severity("psi", 0.3, 0.001, sufficient=True) == "critical"
    assert policy.severity("psi", 0.15, 0.001, sufficient=True) == "warn"
    assert policy.severity("psi", 0.3, 0.05, sufficient=True) == "none"  # p not below alpha
    assert policy.severity("psi", 0.09, 0.001, sufficient=True) == "none"
    assert policy.severity("psi", 0.3, 0.001, sufficient=False) == "insufficient_data"


def test_dataset_drift_share_and_prediction_drift() -> None:
    rng = np.random.default_rng(9)
    ref = {n: rng.normal(size=3_000) for n in ("a", "b", "c", "d", "score")}
    cur = {"a": rng.normal(2, 1, 3_000), "b": rng.normal(2, 1, 3_000),
           "c": rng.normal(size=3_000), "d": rng.normal(size=3_000),
           "score": rng.normal(2, 1, 3_000)}
    kinds: dict[str, Any] = dict.fromkeys(ref, "numeric")
    report = compare(ref, cur, kinds, roles={"score": "prediction"}, policy=CLASSIC)
    assert [f.name for f in report.features] == ["a", "b", "c", "d"]
    assert (report.n_drifted, report.n_evaluated, report.drift_share) == (2, 4, 0.5)
    assert report.dataset_drift is True
    assert report.prediction_drift is True
    stricter = compare(ref, cur, kinds, roles={"score": "prediction"},
                       policy=DriftPolicy.of("classic", drift_share_threshold=0.75))
    assert (stricter.dataset_drift, stricter.status) == (False, "no_drift")


def test_unseen_categories_drive_categorical_drift() -> None:
    rng = np.random.default_rng(10)
    ref = rng.choice(["a", "b", "c"], 4_000).astype(object)
    cur = rng.choice(["a", "b", "c", "new"], 4_000, p=[0.2, 0.2, 0.2, 0.4]).astype(object)
    feature = compare({"c": ref}, {"c": cur}, {"c": "categorical"}, policy=CLASSIC).features[0]
    assert feature.unseen_rate == pytest.approx(np.mean(cur == "new"))
    assert feature.unseen_categories == ("new",)
    assert feature.severity == "critical"
    table = np.array([[np.sum(ref == k) for k in "abc"] + [0],
                      [np.sum(cur == k) for k in "abc"] + [np.sum(cur == "new")]])
    expected = sps.chi2_contingency(table, correction=False)
    assert feature.chi2_statistic == pytest.approx(float(expected.statistic), rel=1e-12)


def test_effect_statistic_is_configurable() -> None:
    policy = DriftPolicy.of("classic", numeric_effect="wasserstein",
                            thresholds={"wasserstein": (0.2, 0.5)})
    report = compare({"x": _normal(11, 3_000)}, {"x": _normal(12, 3_000, 0.3)}, {"x": "numeric"},
                     policy=policy)
    feature = report.features[0]
    assert (feature.effect_statistic, feature.warn_threshold) == ("wasserstein", 0.2)
    assert feature.severity == "warn"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"alpha": 0.0}, "alpha must be a number in \\(0.0, 1.0\\), got 0.0"),
        ({"min_samples": 0}, "min_samples must be an integer >= 1, got 0"),
        ({"numeric_effect": "psy"}, "numeric_effect must be one of psi, .*; got 'psy'"),
        ({"categorical_effect": "wasserstein"}, "categorical_effect must be one of"),
        ({"thresholds": {"psi": (0.3, 0.2)}}, "thresholds.psi.critical must be a number in"),
        ({"thresholds": {"bogus": (0.1, 0.2)}}, "thresholds must be one of"),
        ({"drift_share_threshold": 1.5}, "drift_share_threshold must be a number in"),
        ({"verdict": "strict"}, "verdict must be one of budget, classic; got 'strict'"),
        ({"min_reference_rows": -1}, "min_reference_rows must be an integer >= 0, got -1"),
        ({"correction": "holm"}, "correction must be one of bonferroni, bh, none"),
    ],
)
def test_policy_validation_names_key_and_value(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        DriftPolicy(**kwargs)


def test_a_category_flood_keeps_the_stored_counts_at_the_reference_length() -> None:
    """A producer sending 20,000 new categories in one window: the window's counts stay one
    per reference category plus "other known" and "unseen", and still count every value."""
    rng = np.random.default_rng(3)
    reference = build_profile({"c": rng.choice(np.array(list("abcde"), dtype=object), 5000),
                               "x": rng.normal(size=5000)},
                              {"c": "categorical", "x": "numeric"})
    flood = np.array([f"new-{i}" for i in range(20_000)], dtype=object)
    sketch = WindowSketch(reference).update({"c": flood, "x": rng.normal(size=20_000)})
    columns = {c.name: c for c in evaluate(reference, sketch, DriftPolicy()).features}
    categorical, numeric = reference["c"], reference["x"]
    assert isinstance(categorical, CategoricalReference)
    assert isinstance(numeric, NumericReference)
    assert len(columns["c"].counts or ()) == len(categorical.categories) + 2 == 7
    assert columns["c"].counts == (0, 0, 0, 0, 0, 0, 20_000)
    assert len(columns["x"].counts or ()) == len(numeric.edges) + 1
    assert sum(columns["x"].counts or ()) == 20_000
