"""The budget verdict: calm on healthy windows at every size, flags the shifts that matter.

Each case is one seeded draw; the rates over many draws, and the peers' defaults on the
same data, are measured in ``bench/`` (``docs/statistics.md``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray
from scipy import stats as sps

from detectors import DriftPolicy, ProfileOptions, compare
from detectors.batch import build_profile, sketch_columns
from detectors.policy import DEFAULT_WINDOW_ALPHA, window_alpha
from detectors.stats import chi2_homogeneity
from detectors.verdict import evaluate

Draw = Callable[[np.random.Generator, int], NDArray[Any]]
SHARES = np.array([0.4, 0.2, 0.2, 0.1, 0.1])


def categories(shares: NDArray[np.float64]) -> Draw:
    def draw(rng: np.random.Generator, n: int) -> NDArray[Any]:
        values: NDArray[Any] = rng.choice(np.array(list("abcde"), dtype=object), n, p=shares)
        return values
    return draw


def moved(points: float) -> NDArray[np.float64]:
    """SHARES with b's share up by ``points`` (out of 100), the others down in proportion."""
    shares: NDArray[np.float64] = SHARES * (1 - SHARES[1] - points / 100) / (1 - SHARES[1])
    shares[1] = SHARES[1] + points / 100
    return shares


def flagged(reference: NDArray[np.generic], window: NDArray[np.generic], kind: str,
            policy: DriftPolicy | None = None) -> bool:
    report = compare({"x": reference}, {"x": window}, {"x": kind}, policy=policy)  # type: ignore[dict-item]
    return report.features[0].drifted


NORMAL: Draw = lambda rng, n: rng.normal(0.0, 1.0, n)  # noqa: E731


@pytest.mark.parametrize(("name", "shifted", "kind"), [
    ("mean +0.2 sd", lambda rng, n: rng.normal(0.2, 1.0, n), "numeric"),
    ("sd x1.25", lambda rng, n: rng.normal(0.0, 1.25, n), "numeric"),
    ("exponential scale x1.25", lambda rng, n: rng.exponential(1.25, n), "numeric"),
    ("a category +10 points", categories(moved(10)), "categorical"),
])
@pytest.mark.parametrize("size", [10_000, 100_000])
def test_shifts_that_matter_are_flagged_in_one_window_from_10000_rows(
        name: str, shifted: Draw, kind: str, size: int) -> None:
    rng = np.random.default_rng(size)
    base: Draw = (lambda r, n: r.exponential(1.0, n)) if "exponential" in name else (
        categories(SHARES) if kind == "categorical" else NORMAL)
    assert flagged(base(rng, 10_000), shifted(rng, size), kind), name


@pytest.mark.parametrize(("name", "shifted", "kind"), [
    ("mean +0.05 sd", lambda rng, n: rng.normal(0.05, 1.0, n), "numeric"),
    ("sd x1.05", lambda rng, n: rng.normal(0.0, 1.05, n), "numeric"),
    ("a category +2 points", categories(moved(2)), "categorical"),
])
def test_shifts_too_small_to_matter_stay_calm_on_a_large_window(
        name: str, shifted: Draw, kind: str) -> None:
    rng = np.random.default_rng(3)
    base = categories(SHARES) if kind == "categorical" else NORMAL
    reference, window = base(rng, 100_000), shifted(rng, 1_000_000)
    report = compare({"x": reference}, {"x": window}, {"x": kind})  # type: ignore[dict-item]
    feature = report.features[0]
    assert feature.pvalue is not None
    assert feature.pvalue < 0.01  # beyond chance: a bare test would page someone
    assert not feature.drifted, name


def test_the_false_flag_rate_of_healthy_windows_stays_within_the_budget() -> None:
    # A budget of 3 windows in 100 (so that 400 windows measure it): 8 streams, each
    # with its own 10,000-row reference (every window of a stream shares its sampling
    # error), 50 windows of 1,000 rows each, 4 columns of different shapes. The long
    # measurements, at the default budget and every window size, are bench/'s.
    alpha = 0.03
    policy = DriftPolicy(alpha=alpha)
    options = ProfileOptions()
    draws: dict[str, Callable[[np.random.Generator, int], NDArray[np.generic]]] = {
        "normal": NORMAL, "lognormal": lambda r, n: r.lognormal(0.0, 1.0, n),
        "t3": lambda r, n: r.standard_t(3, n), "category": categories(SHARES)}
    kinds = {name: "categorical" if name == "category" else "numeric" for name in draws}
    flags = 0
    windows = 0
    for seed in range(8):
        rng = np.random.default_rng(1000 + seed)
        profile = build_profile({name: draw(rng, 10_000) for name, draw in draws.items()},
                                kinds, options=options)  # type: ignore[arg-type]
        for _ in range(50):
            window = {name: draw(rng, 1_000) for name, draw in draws.items()}
            report = evaluate(profile, sketch_columns(profile, window, options=options), policy)
            flags += any(f.drifted for f in report.features)
            windows += 1
    rate = flags / windows
    assert rate <= 2 * alpha, f"{flags} of {windows} healthy windows flagged"


def test_the_correction_is_bonferroni_across_the_tested_columns() -> None:
    rng = np.random.default_rng(8)
    reference = {f"f{i}": rng.normal(size=10_000) for i in range(4)}
    window = {f"f{i}": rng.normal(0.05 * i, 1.0, 2_000) for i in range(4)}
    report = compare(reference, window, dict.fromkeys(reference, "numeric"))
    for feature in report.features:
        assert feature.pvalue is not None
        assert feature.pvalue_adjusted == min(1.0, 4 * feature.pvalue)


def test_below_min_reference_rows_every_column_is_insufficient() -> None:
    rng = np.random.default_rng(9)
    reference, window = rng.normal(size=9_999), rng.normal(3.0, 1.0, 5_000)
    report = compare({"x": reference}, {"x": window}, {"x": "numeric"})
    assert (report.status, report.features[0].severity) == ("insufficient_data",
                                                            "insufficient_data")
    assert report.n_reference_rows == 9_999
    lower = compare({"x": reference}, {"x": window}, {"x": "numeric"},
                    policy=DriftPolicy(min_reference_rows=5_000))
    assert lower.features[0].severity == "critical"


def test_the_window_alpha_follows_the_budget_and_the_window_size() -> None:
    assert window_alpha(1, 30 * 86400, 300) == DEFAULT_WINDOW_ALPHA
    assert window_alpha(1, 30 * 86400, 3600) == pytest.approx(12 * DEFAULT_WINDOW_ALPHA)
    assert window_alpha(4, 86400, 3600) == pytest.approx(4 / 24)
    with pytest.raises(ValueError, match="false_alarms must be a number"):
        window_alpha(0, 86400, 60)


def test_pooled_chi_square_equals_scipy_on_the_pooled_table() -> None:
    a = np.array([500, 300, 150, 3, 2, 1, 0])
    b = np.array([40, 35, 20, 1, 0, 2, 1])
    result = chi2_homogeneity(a, b, 5.0)
    # The four small buckets pooled (6 and 4); still expected below 5 in the smaller
    # sample, so the pool takes the smallest bucket left (150 and 20).
    pooled = np.array([[300, 500, 156], [35, 40, 24]])
    expected = sps.chi2_contingency(pooled, correction=False)
    assert result.dof == 2
    assert result.statistic == pytest.approx(float(expected.statistic), rel=1e-12)
    assert result.pvalue == pytest.approx(float(expected.pvalue), rel=1e-9)
