"""The statistics of ``detectors.stats`` against scipy and published values."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray
from scipy import stats as sps
from scipy.spatial.distance import jensenshannon

from detectors.correction import benjamini_hochberg
from detectors.stats import (
    PSI_EPSILON,
    chi2_homogeneity,
    ecdf_distances,
    hellinger,
    js_distance,
    ks_2samp_sorted,
    psi,
)

RNG = np.random.default_rng(20261122)


def _case_id(value: object) -> str:
    return value if isinstance(value, str) else ""


def _ks_cases() -> list[tuple[str, NDArray[np.float64], NDArray[np.float64]]]:
    rng = np.random.default_rng(1)
    return [
        ("normal-small", rng.normal(size=40), rng.normal(0.5, size=55)),
        ("normal-exact-edge", rng.normal(size=10_000), rng.normal(0.02, size=9_000)),
        ("normal-asymp", rng.normal(size=12_000), rng.normal(0.01, size=20_000)),
        ("ties", rng.integers(0, 5, 3_000).astype(float), rng.integers(0, 6, 2_500).astype(float)),
        ("ties-asymp", rng.integers(0, 3, 15_000).astype(float),
         rng.integers(0, 3, 11_000).astype(float)),
        ("constant-vs-constant", np.full(300, 2.0), np.full(200, 2.0)),
        ("constant-vs-other", np.full(300, 2.0), np.full(200, 3.0)),
        ("single-values", np.array([1.0]), np.array([2.0])),
        ("single-vs-many", np.array([0.3]), rng.random(50)),
        ("huge-magnitudes", rng.normal(size=500) * 1e300, rng.normal(size=600) * 1e300),
        ("tiny-magnitudes", rng.normal(size=500) * 1e-300, rng.normal(size=400) * 1e-300),
        ("mixed-signs-zero", np.array([-0.0, 0.0, 1.0, -1.0] * 50), np.array([0.0, 2.0] * 80)),
        ("heavy-tail", rng.standard_cauchy(5_000), rng.standard_cauchy(5_000)),
        ("equal-n-asymp", rng.normal(size=20_000), rng.normal(size=20_000)),
    ]


def _ks_method_cases() -> list[tuple[str, NDArray[np.float64], NDArray[np.float64], str]]:
    # scipy's exact distribution takes minutes beyond about 5e7 pairs: not run there.
    return [(case, a, b, method) for case, a, b in _ks_cases()
            for method in ("auto", "exact", "asymp")
            if method != "exact" or a.size * b.size <= 5e7]


@pytest.mark.parametrize(("case", "a", "b", "method"), _ks_method_cases(), ids=_case_id)
def test_ks_equals_scipy(
    case: str, a: NDArray[np.float64], b: NDArray[np.float64], method: str
) -> None:
    with np.errstate(divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        expected = sps.ks_2samp(a, b, method=method)
    if method == "asymp" and a.size == b.size == 1:  # scipy: NaN; driftline: exact
        expected = sps.ks_2samp(a, b, method="exact")
    got = ks_2samp_sorted(np.sort(a), np.sort(b), method)  # type: ignore[arg-type]
    assert got.statistic == pytest.approx(float(expected.statistic), abs=1e-12, rel=0)
    assert got.pvalue == pytest.approx(float(expected.pvalue), abs=1e-12, rel=1e-12)


def test_ks_auto_switches_to_asymptotic_above_ten_thousand() -> None:
    a, b = np.sort(RNG.normal(size=10_001)), np.sort(RNG.normal(size=50))
    assert ks_2samp_sorted(a, b).method == "asymp"
    assert ks_2samp_sorted(a[:10_000], b).method == "exact"


def test_ks_rejects_empty_samples() -> None:
    with pytest.raises(ValueError, match="must not be empty"):
        ks_2samp_sorted(np.empty(0), np.ones(3))


def test_ks_rejects_unknown_method() -> None:
    with pytest.raises(ValueError, match="method must be one of auto, exact, asymp; got 'fast'"):
        ks_2samp_sorted(np.ones(3), np.ones(3), "fast")  # type: ignore[arg-type]


@pytest.mark.parametrize(("case", "a", "b"), _ks_cases(), ids=_case_id)
def test_wasserstein_equals_scipy(
    case: str, a: NDArray[np.float64], b: NDArray[np.float64]
) -> None:
    if case == "huge-magnitudes":
        a, b = a / 1e290, b / 1e290  # scipy overflows to inf at 1e300 as well
    expected = sps.wasserstein_distance(a, b)
    got = ecdf_distances(np.sort(a), np.sort(b)).wasserstein
    assert got == pytest.approx(expected, rel=1e-9, abs=1e-300)


def test_published_ks_value() -> None:
    # The example of scipy's ks_2samp documentation, statistic 6/11 on these data
    # (Hollander & Wolfe style two-sample example with 11 and 10 values).
    a = np.array([0.61, 0.29, 0.06, 0.59, -1.73, -0.74, 0.51, -0.56, 0.39, 1.64, 0.05])
    b = np.array([-8.68, -4.2, -3.19, -1.61, -0.9, -0.6, -0.4, -0.2, 0.15, 0.2])
    got = ks_2samp_sorted(np.sort(a), np.sort(b))
    assert got.statistic == pytest.approx(float(sps.ks_2samp(a, b).statistic), abs=1e-15)
    assert got.statistic == pytest.approx(
        max(abs(np.mean(a <= x) - np.mean(b <= x)) for x in np.concatenate([a, b])), abs=1e-15
    )


def test_psi_published_value() -> None:
    # Siddiqi (2006) style two-bin example: 50/50 against 90/10.
    expected = (0.9 - 0.5) * math.log(0.9 / 0.5) + (0.1 - 0.5) * math.log(0.1 / 0.5)
    assert psi(np.array([50, 50]), np.array([90, 10])) == pytest.approx(expected, rel=1e-15)
    assert expected == pytest.approx(0.8788898, abs=1e-7)


def test_psi_uses_named_epsilon_for_empty_bins() -> None:
    got = psi(np.array([100, 0]), np.array([50, 50]))
    p, q = np.array([1.0, PSI_EPSILON]), np.array([0.5, 0.5])
    assert got == pytest.approx(float(np.sum((q - p) * np.log(q / p))), rel=1e-15)
    assert math.isfinite(got)


counts = st.lists(st.integers(0, 10_000), min_size=2, max_size=30)


@given(counts, st.data())
@settings(max_examples=200, deadline=None)
def test_psi_non_negative_and_zero_on_identical(a: list[int], data: st.DataObject) -> None:
    b = data.draw(st.lists(st.integers(0, 10_000), min_size=len(a), max_size=len(a)))
    ref, cur = np.array(a), np.array(b)
    assert psi(ref, cur) >= 0.0
    assert psi(ref, ref) == 0.0
    assert psi(ref, ref * 7) == pytest.approx(0.0, abs=1e-12)


@given(counts, st.data())
@settings(max_examples=200, deadline=None)
def test_js_and_hellinger_match_definitions(a: list[int], data: st.DataObject) -> None:
    b = data.draw(st.lists(st.integers(0, 10_000), min_size=len(a), max_size=len(a)))
    p, q = np.array(a, dtype=float), np.array(b, dtype=float)
    if p.sum() == 0 or q.sum() == 0:
        return
    js = js_distance(np.array(a), np.array(b))
    assert js == pytest.approx(float(jensenshannon(p, q, base=2)), abs=1e-7)
    assert 0.0 <= js <= 1.0
    h = hellinger(np.array(a), np.array(b))
    pn, qn = p / p.sum(), q / q.sum()
    assert h == pytest.approx(float(np.linalg.norm(np.sqrt(pn) - np.sqrt(qn)) / math.sqrt(2)),
                              abs=1e-7)
    assert 0.0 <= h <= 1.0


def test_js_and_hellinger_extremes() -> None:
    assert js_distance(np.array([10, 0]), np.array([0, 10])) == pytest.approx(1.0)
    assert hellinger(np.array([10, 0]), np.array([0, 10])) == pytest.approx(1.0)
    assert js_distance(np.array([3, 4]), np.array([6, 8])) == pytest.approx(0.0, abs=1e-8)


def test_chi2_equals_scipy_contingency() -> None:
    rng = np.random.default_rng(3)
    for _ in range(50):
        k = int(rng.integers(2, 12))
        a = rng.integers(0, 500, k)
        b = rng.integers(0, 500, k)
        a[rng.integers(0, k)] = 0  # an empty bucket on one side (an unseen category)
        table = np.vstack([a, b])
        table = table[:, table.sum(axis=0) > 0]
        expected = sps.chi2_contingency(table, correction=False)
        got = chi2_homogeneity(a, b)
        assert got.statistic == pytest.approx(float(expected.statistic), rel=1e-12)
        assert got.pvalue == pytest.approx(float(expected.pvalue), rel=1e-9, abs=1e-300)
        assert got.dof == int(expected.dof)


def test_chi2_degenerate_tables_are_explicit() -> None:
    assert chi2_homogeneity(np.array([5, 0]), np.array([7, 0])).pvalue == 1.0
    assert chi2_homogeneity(np.array([0, 0]), np.array([3, 4])).statistic == 0.0


def test_benjamini_hochberg_equals_scipy() -> None:
    rng = np.random.default_rng(5)
    for size in (1, 2, 7, 50, 500):
        p = rng.random(size) ** 3
        p[: size // 3] = p[0]  # ties
        got = np.array(benjamini_hochberg(list(p)))
        np.testing.assert_allclose(got, sps.false_discovery_control(p, method="bh"),
                                   rtol=1e-14, atol=0)


@pytest.mark.parametrize("bad", [-0.1, 1.5, float("nan")])
def test_benjamini_hochberg_rejects_invalid(bad: float) -> None:
    with pytest.raises(ValueError, match="pvalues must be in \\[0, 1\\]"):
        benjamini_hochberg([0.1, bad])


@given(st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=60),
       st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=60))
@settings(max_examples=200, deadline=None)
def test_ks_symmetry_and_bounds(a: list[float], b: list[float]) -> None:
    x, y = np.sort(np.array(a)), np.sort(np.array(b))
    ab, ba = ks_2samp_sorted(x, y), ks_2samp_sorted(y, x)
    assert ab.statistic == ba.statistic
    assert ab.pvalue == pytest.approx(ba.pvalue, abs=1e-12)
    assert 0.0 <= ab.statistic <= 1.0
    assert 0.0 <= ab.pvalue <= 1.0


@given(st.lists(st.sampled_from([-2.0, -0.5, 0.0, 0.25, 1.0, 3.5]), min_size=1, max_size=40),
       st.lists(st.sampled_from([-2.0, -0.5, 0.0, 0.25, 1.0, 3.5]), min_size=1, max_size=40))
@settings(max_examples=300, deadline=None)
def test_ecdf_distances_with_ties_equal_scipy(a: list[float], b: list[float]) -> None:
    x, y = np.sort(np.array(a)), np.sort(np.array(b))
    got = ecdf_distances(x, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # scipy's exact-to-asymp fallback
        expected = float(sps.ks_2samp(x, y).statistic)
    assert got.ks_statistic == pytest.approx(expected, abs=1e-12, rel=0)
    assert got.wasserstein == pytest.approx(sps.wasserstein_distance(x, y), rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("values", [
    [1.5], [2.0, 2.0, 2.0], [0.0, 1.0, 1.0, 1.0, 4.0], list(np.round(RNG.normal(size=500), 1)),
], ids=["single", "all-equal", "ties", "many-ties"])
def test_ecdf_distances_of_equal_samples_are_zero(values: list[float]) -> None:
    x = np.sort(np.array(values))
    got = ecdf_distances(x, x.copy())
    assert (got.ks_statistic, got.wasserstein) == (0.0, 0.0)
    assert not math.copysign(1.0, got.wasserstein) < 0  # +0.0, as the full computation gives
    assert got.ks_statistic == float(sps.ks_2samp(x, x).statistic)
    assert got.wasserstein == sps.wasserstein_distance(x, x)


def test_ecdf_distances_see_a_difference_inside_equal_ends() -> None:
    a = np.array([0.0, 1.0, 2.0, 3.0])
    b = np.array([0.0, 1.5, 2.0, 3.0])  # same size, first and last values
    got = ecdf_distances(a, b)
    assert got.ks_statistic == pytest.approx(float(sps.ks_2samp(a, b).statistic), abs=1e-12)
    assert got.ks_statistic > 0.0
    assert got.wasserstein == pytest.approx(sps.wasserstein_distance(a, b), rel=1e-12)


def test_ecdf_distances_of_single_values() -> None:
    got = ecdf_distances(np.array([1.0]), np.array([3.0]))
    assert (got.ks_statistic, got.wasserstein) == (1.0, 2.0)


def test_ecdf_distances_reject_empty_samples() -> None:
    with pytest.raises(ValueError, match="must not be empty"):
        ecdf_distances(np.empty(0), np.ones(3))
    with pytest.raises(ValueError, match="must not be empty"):
        ecdf_distances(np.ones(3), np.empty(0))
