"""Two-sample statistics on reference bins, category counts and sorted samples.

Every function here is pure and checked against scipy in the tests:

* ``psi`` — Population Stability Index over the reference's bins, natural log,
  with empty-bin proportions replaced by ``PSI_EPSILON``. Each term
  ``(q - p) * ln(q / p)`` is non-negative, so PSI >= 0, and 0 on equal histograms.
* ``ks_2samp_sorted`` — the two-sided two-sample Kolmogorov–Smirnov test; equal
  to ``scipy.stats.ks_2samp`` (statistic and p-value) with the same ``method``
  semantics: ``auto`` is exact when both samples have at most 10,000 values and
  asymptotic (``kstwo.sf(d, round(n*m/(n+m)))``) otherwise.
* ``wasserstein_sorted`` — the 1-Wasserstein distance, equal to
  ``scipy.stats.wasserstein_distance``.
* ``js_distance`` — Jensen–Shannon distance in base 2 (in [0, 1]), equal to
  ``scipy.spatial.distance.jensenshannon(p, q, base=2)``.
* ``hellinger`` — Hellinger distance ``sqrt(1 - sum(sqrt(p*q)))`` in [0, 1].
* ``chi2_homogeneity`` — Pearson's chi-square test of homogeneity of two count
  vectors, equal to ``scipy.stats.chi2_contingency(table, correction=False)``.

>>> round(psi(np.array([50, 50]), np.array([50, 50])), 12)
0.0
>>> round(psi(np.array([50, 50]), np.array([90, 10])), 6)
0.87889
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray
from scipy import stats as sps

from detectors._checks import check_choice

PSI_EPSILON = 1e-4
"""Proportion used in place of an empty bin's zero, so PSI stays finite."""

KS_MAX_AUTO_N = 10_000
"""``method="auto"`` runs the exact KS distribution up to this many values per sample."""

KSMethod = Literal["auto", "exact", "asymp"]


def proportions(counts: NDArray[np.int64] | NDArray[np.float64]) -> NDArray[np.float64]:
    """Counts divided by their total (all zeros when the total is zero)."""
    total = float(np.sum(counts))
    values = np.asarray(counts, dtype=np.float64)
    return values / total if total > 0 else np.zeros_like(values)


def psi(
    reference_counts: NDArray[np.int64],
    current_counts: NDArray[np.int64],
    epsilon: float = PSI_EPSILON,
) -> float:
    """Population Stability Index of two histograms over the same bins."""
    p = np.maximum(proportions(reference_counts), epsilon)
    q = np.maximum(proportions(current_counts), epsilon)
    return float(np.sum((q - p) * np.log(q / p)))


def js_distance(p_counts: NDArray[np.int64], q_counts: NDArray[np.int64]) -> float:
    """Jensen–Shannon distance (base 2) between two histograms over the same bins."""
    p, q = proportions(p_counts), proportions(q_counts)
    m = (p + q) / 2.0
    divergence = (_kl2(p, m) + _kl2(q, m)) / 2.0
    return math.sqrt(max(divergence, 0.0))


def _kl2(p: NDArray[np.float64], m: NDArray[np.float64]) -> float:
    used = p > 0
    return float(np.sum(p[used] * np.log2(p[used] / m[used])))


def hellinger(p_counts: NDArray[np.int64], q_counts: NDArray[np.int64]) -> float:
    """Hellinger distance between two histograms over the same bins, in [0, 1]."""
    p, q = proportions(p_counts), proportions(q_counts)
    return math.sqrt(max(1.0 - float(np.sum(np.sqrt(p * q))), 0.0))


@dataclass(frozen=True)
class Chi2Result:
    statistic: float
    pvalue: float
    dof: int


def chi2_homogeneity(a_counts: NDArray[np.int64], b_counts: NDArray[np.int64],
                     min_expected: float = 0.0) -> Chi2Result:
    """Chi-square test that two samples share one categorical distribution.

    Buckets empty in both samples are dropped. With ``min_expected`` > 0, the
    buckets whose smaller expected count is below it are pooled into one (and
    that pool with the next smallest bucket while it is still below), the usual
    condition for the chi-square approximation to hold in the tail, where a
    monitor's small levels are. With fewer than two buckets left there is
    nothing to compare and the result is (0, 1, 0).

    >>> round(chi2_homogeneity(np.array([50, 50, 1, 1]), np.array([40, 60, 0, 2])).dof)
    3
    >>> chi2_homogeneity(np.array([50, 50, 1, 1]), np.array([40, 60, 0, 2]), 5.0).dof
    1
    """
    table = np.vstack([a_counts, b_counts]).astype(np.float64)
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2 or np.any(table.sum(axis=1) == 0):
        return Chi2Result(0.0, 1.0, max(table.shape[1] - 1, 0))
    if min_expected > 0:
        table = _pooled(table, min_expected)
        if table.shape[1] < 2:
            return Chi2Result(0.0, 1.0, 0)
    expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / table.sum()
    statistic = float(np.sum((table - expected) ** 2 / expected))
    dof = table.shape[1] - 1
    return Chi2Result(statistic, float(sps.chi2.sf(statistic, dof)), dof)


def _pooled(table: NDArray[np.float64], min_expected: float) -> NDArray[np.float64]:
    """``table`` with its small buckets pooled (``chi2_homogeneity``)."""
    share = table.sum(axis=1).min() / table.sum()  # the smaller sample's share
    totals = table.sum(axis=0)
    small = totals * share < min_expected
    if not small.any():
        return table
    pool = table[:, small].sum(axis=1, keepdims=True)
    rest = table[:, ~small]
    rest = rest[:, np.argsort(rest.sum(axis=0), kind="stable")]
    while rest.shape[1] and pool.sum() * share < min_expected:
        pool = pool + rest[:, :1]
        rest = rest[:, 1:]
    return np.hstack([rest, pool])


@dataclass(frozen=True)
class ECDFDistances:
    """KS statistic and Wasserstein distance of two sorted samples, computed together."""

    ks_statistic: float
    wasserstein: float


def ecdf_distances(a: NDArray[np.float64], b: NDArray[np.float64]) -> ECDFDistances:
    """Both ECDF distances of two *sorted*, non-empty samples in one pass.

    The samples are merged (a stable sort of two sorted runs is a linear merge),
    the ECDFs are counted along the merge, and D is read at the end of each run
    of equal values, where both ECDFs are right-continuous; the values are then
    exactly those of ``scipy.stats.ks_2samp``. Two equal samples are 0 apart.

    The gaps inside a run of equal values meet a zero step in the Wasserstein
    sum, so they are zeroed after it and D is the largest gap left; the counts
    are whole numbers held as float64 (exactly), for the same proportions as
    dividing integer counts.
    """
    if a.size == 0 or b.size == 0:
        raise ValueError(f"samples must not be empty, got sizes {a.size} and {b.size}")
    if a.size == b.size and a[0] == b[0] and a[-1] == b[-1] and np.array_equal(a, b):
        return ECDFDistances(0.0, 0.0)
    merged = np.concatenate([a, b])
    order = np.argsort(merged, kind="stable")
    values = merged[order]
    count_type = np.dtype(np.int32 if values.size < 2**31 else np.int64)  # int32 sums fastest
    count_a = np.cumsum(order < a.size, dtype=count_type).astype(np.float64)
    gaps = np.arange(1.0, values.size + 1.0)  # rows so far, then the gaps
    gaps -= count_a
    gaps /= b.size
    count_a /= a.size
    gaps -= count_a
    np.abs(gaps, out=gaps)
    steps = np.diff(values)
    wasserstein = float(np.dot(gaps[:-1], steps))
    gaps[:-1] *= steps != 0.0  # only the ends of runs of equal values remain
    return ECDFDistances(float(gaps.max()), wasserstein)


def wasserstein_sorted(a: NDArray[np.float64], b: NDArray[np.float64]) -> float:
    """1-Wasserstein distance of two sorted, non-empty samples."""
    return ecdf_distances(a, b).wasserstein


@dataclass(frozen=True)
class KSResult:
    statistic: float
    pvalue: float
    method: Literal["exact", "asymp"]


def ks_pvalue(statistic: float, n1: int, n2: int, method: KSMethod = "auto") -> KSResult | None:
    """The asymptotic p-value when ``method`` resolves to it; None when it resolves to exact.

    Where scipy's asymptotic formula is undefined (one value in each sample, so
    ``round(n*m/(n+m)) == 0``, for which scipy answers NaN) the exact
    distribution is used instead.
    """
    check_choice("method", method, ("auto", "exact", "asymp"))
    if method == "exact" or (method == "auto" and max(n1, n2) <= KS_MAX_AUTO_N):
        return None
    m, n = sorted([float(n1), float(n2)], reverse=True)
    en = m * n / (m + n)
    if np.round(en) < 1:  # scipy returns NaN here (1 vs 1 value); use the exact distribution
        return None
    prob = float(np.clip(sps.kstwo.sf(statistic, np.round(en)), 0.0, 1.0))
    return KSResult(statistic, prob, "asymp")


def ks_2samp_sorted(
    a: NDArray[np.float64],
    b: NDArray[np.float64],
    method: KSMethod = "auto",
    statistic: float | None = None,
) -> KSResult:
    """Two-sided two-sample KS test of sorted, non-empty samples (``scipy.stats.ks_2samp``).

    ``statistic`` may be passed when already known (from ``ecdf_distances``).
    Where scipy would compute the exact distribution, scipy itself is called, so
    the result is scipy's to the last bit.
    """
    if a.size == 0 or b.size == 0:
        raise ValueError(f"samples must not be empty, got sizes {a.size} and {b.size}")
    d = ecdf_distances(a, b).ks_statistic if statistic is None else statistic
    asymptotic = ks_pvalue(d, a.size, b.size, method)
    if asymptotic is not None:
        return asymptotic
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RuntimeWarning)
        exact = sps.ks_2samp(a, b, method="exact" if method == "asymp" else method)
    used: Literal["exact", "asymp"] = "asymp" if caught else "exact"  # scipy's own fallback
    return KSResult(float(exact.statistic), float(exact.pvalue), used)
