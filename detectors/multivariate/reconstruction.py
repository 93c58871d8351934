"""Data reconstruction drift: how well the reference's principal components still describe a window.

Per-feature tests miss a change of the joint distribution that keeps every
marginal: two correlated features whose cloud rotates by 90 degrees keep both
of their distributions, and KS or PSI see nothing. This statistic, in the
manner of NannyML's data reconstruction drift, sees it:

1. On the reference: missing values are imputed (numeric: the mean;
   categorical: the most frequent category), categorical columns are
   frequency-encoded (one column each: the category's share of the reference),
   every column is standardised, and a PCA keeps the fewest components that
   explain ``variance`` (65 %, NannyML's default) of the variance. PCA is an
   SVD in numpy; it equals scikit-learn's ``PCA(n_components=0.65)`` up to the
   signs of the components.
2. A row's reconstruction error is the Euclidean distance, in the standardised
   space, between the row and its projection onto the components. A window's
   statistic is the mean error of its rows. Rows whose joint structure the
   reference did not have lie off the components and raise it.

Calibration (where NannyML sets mean ± 3 std of the error over reference
chunks, whatever the chunk size): the reference rows are split at random in
two halves. The PCA is fitted on one; the per-row errors of the other, rows the
fit has not seen, give the null distribution of a new row's error: its mean
``mu``, standard deviation ``sigma``, skewness ``gamma`` and count ``m``. Rows
of a window drawn from the reference distribution have errors from that same
distribution, so the difference between the window's mean error over ``n``
rows and ``mu`` has mean 0, variance ``sigma^2 (1/n + 1/m)`` (the ``1/m``: the
uncertainty of ``mu`` itself) and third cumulant ``gamma sigma^3 (1/n^2 -
1/m^2)``. ``z`` is the difference over its standard deviation.

The p-value is two-sided, as NannyML's band is (a window that lies closer to
the components than the reference does, with variation lost or a column stuck
at one value, is a change too), from a Pearson type III (shifted gamma)
distribution matching those three cumulants rather than from the normal:
errors are distances, skewed to the right (skewness about 1.2 on the mixed
data of the tests), and the mean of 100 of them has a heavier upper tail than
the normal. Measured on a million window means of 100 rows (bench/README.md,
"Multivariate drift"): beyond the upper half of a two-sided 1e-4 the normal
tail puts 3.6 times the nominal share of means, the Pearson III tail 1.5
times; at 1e-2, 1.36 and 1.03 times. At 1,000 rows the two are close. The
per-window false-alarm rate at 0.05 and 0.01 is measured by simulation (tests
and ``bench/multivariate.py``) at 100, 1,000 and 10,000 rows with mixed
numeric and categorical columns and missing values: 0.045, 0.0535 (0.0502 with
another seed) and 0.046 at 0.05, consistent with alpha (the test aims at alpha;
it is not conservative).
Below ``MIN_ROWS`` rows a window is not tested (the p-value is None).

What is decided:

- Numbers that are NaN or infinite are missing. A column with nothing but
  missing values in the fitted half is left out of the statistic, and named in
  ``Reconstruction.dropped``.
- Categories are matched by their text (``str(value)``); the
  ``top_categories`` most frequent keep their own share, the others (and
  categories the reference never had) share one pooled "other" share. The
  fitted state is therefore bounded: at most ``top_categories`` entries a
  categorical column and ``components x columns`` numbers for the PCA.
- A column of the fit missing from a window is an error, not silently
  imputed; extra columns of the window are ignored. Object and string arrays
  are categorical, every other dtype numeric; a column numeric in the
  reference and categorical in a window is an error.
- The split is seeded (``seed``): the same reference gives the same state.

>>> rng = np.random.default_rng(7)
>>> s = rng.standard_normal(10_000)
>>> reference = {"a": s + rng.standard_normal(10_000) / 8,
...              "b": s + rng.standard_normal(10_000) / 8,
...              "c": rng.standard_normal(10_000) / 8}
>>> model = fit(reference)
>>> model.n_components, model.explained_variance
(1, 0.662)
>>> t = rng.standard_normal(500)
>>> same = {"a": t + rng.standard_normal(500) / 8, "b": t + rng.standard_normal(500) / 8,
...         "c": rng.standard_normal(500) / 8}
>>> result = model.test(same)
>>> round(result.error, 3), round(result.expected, 3), round(result.p_value, 3)
(0.844, 0.818, 0.335)
>>> rotated = {"a": -same["b"], "b": same["a"], "c": same["c"]}  # 90 degrees
>>> result = model.test(rotated)
>>> round(result.error, 3), round(result.z, 1), result.p_value < 1e-100
(1.519, 25.5, True)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import stats as sps

from detectors._checks import check_float, check_int
from detectors.multivariate._encoding import (
    CategoricalEncoding,
    Columns,
    categorical_encoding,
    encode,
    is_categorical,
    rows,
)

STATE_VERSION = 1
DEFAULT_VARIANCE = 0.65  # NannyML's default share of variance the components explain
DEFAULT_TOP_CATEGORIES = 50  # categories a column keeps its own share for
MIN_REFERENCE_ROWS = 100  # rows to fit (half fit the PCA, half calibrate)
MIN_ROWS = 100  # a window's rows below which it is not tested


@dataclass(frozen=True)
class ReconstructionResult:
    """One window's reconstruction error and its p-value against the reference's.

    ``p_value`` is None when the window has fewer than ``MIN_ROWS`` rows.
    """

    n: int  # the window's rows
    error: float  # the window's mean reconstruction error (nan without rows)
    expected: float  # the mean error of a held-out reference row (mu)
    standard_error: float  # sigma * sqrt(1/n + 1/m): the null std of error - expected
    z: float | None
    p_value: float | None

    def to_dict(self) -> dict[str, Any]:
        return {"n": self.n, "error": self.error, "expected": self.expected,
                "standard_error": self.standard_error, "z": self.z, "p_value": self.p_value}


@dataclass(frozen=True)
class Reconstruction:
    """A fitted reference: imputation, encoding, scaling, PCA and the null error distribution."""

    numeric: dict[str, float]  # numeric column -> its mean (the imputed value)
    categorical: dict[str, CategoricalEncoding]
    center: NDArray[np.float64]  # the encoded columns' means, numeric then categorical
    scale: NDArray[np.float64]  # their standard deviations (1 where constant)
    components: NDArray[np.float64]  # k x d, orthonormal rows (k = 0: all columns constant)
    explained_variance: float  # the share of variance the k components explain
    error_mean: float  # mu: mean error of a held-out reference row
    error_std: float  # sigma
    error_skewness: float  # gamma
    n_heldout: int  # m
    dropped: tuple[str, ...] = field(default=())  # columns with nothing but missing values

    @property
    def n_components(self) -> int:
        return int(self.components.shape[0])

    @property
    def columns(self) -> list[str]:
        """The columns the statistic uses, in the order of the encoded matrix."""
        return [*self.numeric, *self.categorical]

    def encode(self, columns: Columns) -> NDArray[np.float64]:
        """The standardised n x d matrix of a window (missing values imputed)."""
        return (encode(columns, self.numeric, self.categorical) - self.center) / self.scale

    def errors(self, columns: Columns) -> NDArray[np.float64]:
        """Each row's reconstruction error: its distance to the span of the components."""
        z = self.encode(columns)
        residual = z - (z @ self.components.T) @ self.components
        return np.asarray(np.sqrt(np.einsum("ij,ij->i", residual, residual)), dtype=np.float64)

    def test(self, columns: Columns) -> ReconstructionResult:
        """The window's mean error and its two-sided p-value (None below ``MIN_ROWS`` rows)."""
        errors = self.errors(columns)
        n = int(errors.size)
        error = float(errors.mean()) if n else math.nan
        se = self.error_std * math.sqrt(1.0 / max(n, 1) + 1.0 / self.n_heldout)
        if n < MIN_ROWS:
            return ReconstructionResult(n, error, self.error_mean, se, None, None)
        difference = error - self.error_mean
        if se == 0:  # every held-out row had the same error
            z = 0.0 if difference == 0 else math.copysign(math.inf, difference)
            return ReconstructionResult(n, error, self.error_mean, se, z, float(z == 0))
        z = difference / se
        third = self.error_skewness * self.error_std**3 * (1.0 / n**2 - 1.0 / self.n_heldout**2)
        return ReconstructionResult(n, error, self.error_mean, se, z,
                                    two_sided_p(z, third / se**3))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready state; ``from_dict`` restores it exactly (floats round-trip)."""
        return {
            "version": STATE_VERSION,
            "numeric": dict(self.numeric),
            "categorical": {name: {"shares": dict(enc.shares), "other": enc.other,
                                   "mode": enc.mode}
                            for name, enc in self.categorical.items()},
            "center": self.center.tolist(),
            "scale": self.scale.tolist(),
            "components": self.components.tolist(),
            "explained_variance": self.explained_variance,
            "error_mean": self.error_mean,
            "error_std": self.error_std,
            "error_skewness": self.error_skewness,
            "n_heldout": self.n_heldout,
            "dropped": list(self.dropped),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Reconstruction:
        """The state ``to_dict`` wrote; ValueError for another version or inconsistent shapes."""
        if data.get("version") != STATE_VERSION:
            raise ValueError(f"reconstruction state version must be {STATE_VERSION}, "
                             f"got {data.get('version')!r}")
        numeric = {str(k): float(v) for k, v in data["numeric"].items()}
        categorical = {
            str(name): CategoricalEncoding({str(k): float(v) for k, v in enc["shares"].items()},
                                           float(enc["other"]), str(enc["mode"]))
            for name, enc in data["categorical"].items()}
        d = len(numeric) + len(categorical)
        center = np.asarray(data["center"], dtype=np.float64)
        scale = np.asarray(data["scale"], dtype=np.float64)
        components = np.asarray(data["components"], dtype=np.float64).reshape(-1, d)
        if center.shape != (d,) or scale.shape != (d,) or components.shape[0] > d:
            raise ValueError(f"reconstruction state shapes do not match its {d} columns")
        return cls(numeric, categorical, center, scale, components,
                   float(data["explained_variance"]), float(data["error_mean"]),
                   float(data["error_std"]), float(data["error_skewness"]),
                   int(data["n_heldout"]),
                   tuple(str(c) for c in data.get("dropped", [])))


def fit(
    columns: Columns,
    *,
    variance: float = DEFAULT_VARIANCE,
    top_categories: int = DEFAULT_TOP_CATEGORIES,
    seed: int = 0,
) -> Reconstruction:
    """Fit on reference rows: object and string arrays are categorical, the rest numeric.

    Half the rows (chosen with ``seed``) fit the PCA, the other half calibrate
    the null distribution of the error. Raises ValueError for fewer than
    ``MIN_REFERENCE_ROWS`` rows, columns of unequal length, or no usable column.
    """
    check_float("variance", variance, low=0.0, high=1.0, low_open=True)
    check_int("top_categories", top_categories, low=1)
    n = rows(columns)
    if n < MIN_REFERENCE_ROWS:
        raise ValueError(f"a reconstruction needs at least {MIN_REFERENCE_ROWS} reference rows, "
                         f"got {n}")
    order = np.random.default_rng(seed).permutation(n)
    fit_rows, held_rows = order[: n // 2], order[n // 2:]
    numeric: dict[str, float] = {}
    categorical: dict[str, CategoricalEncoding] = {}
    dropped: list[str] = []
    for name, values in columns.items():
        part = values[fit_rows]
        if is_categorical(values):
            encoding = categorical_encoding(part, top_categories)
            if encoding is None:
                dropped.append(name)
            else:
                categorical[name] = encoding
        else:
            finite = np.asarray(part, dtype=np.float64)
            finite = finite[np.isfinite(finite)]
            if finite.size == 0:
                dropped.append(name)
            else:
                numeric[name] = float(finite.mean())
    if not numeric and not categorical:
        raise ValueError("a reconstruction needs at least one column with values")
    encoded = encode(columns, numeric, categorical)
    train = encoded[fit_rows]
    center = train.mean(axis=0)
    scale = train.std(axis=0)
    scale[scale == 0] = 1.0
    components, explained = _pca((train - center) / scale, variance)
    model = Reconstruction(numeric, categorical, center, scale, components, explained,
                           0.0, 0.0, 0.0, held_rows.size, tuple(dropped))
    held = model.errors({name: values[held_rows] for name, values in columns.items()})
    return Reconstruction(numeric, categorical, center, scale, components, explained,
                          float(held.mean()), float(held.std(ddof=1)),
                          float(sps.skew(held)) if held.std() > 0 else 0.0, held_rows.size,
                          tuple(dropped))


def two_sided_p(z: float, skewness: float) -> float:
    """Two-sided p-value of a standardised ``z`` under Pearson type III with ``skewness``.

    The shifted gamma with mean 0, variance 1 and the given skewness (the
    normal when the skewness is negligible); a negative skewness mirrors it.

    >>> round(two_sided_p(1.96, 0.0), 4)
    0.05
    >>> round(two_sided_p(3.0, 0.1), 5), round(two_sided_p(-3.0, 0.1), 5)
    (0.004, 0.00165)
    """
    if abs(skewness) < 1e-6:
        return min(1.0, math.erfc(abs(z) / math.sqrt(2.0)))
    shape = 4.0 / skewness**2
    x = math.copysign(1.0, skewness) * z  # mirrored for a left skew
    scale = abs(skewness) / 2.0
    position = (x + shape * scale) / scale  # the gamma starts at -shape * scale
    upper = float(sps.gamma.sf(position, shape))
    lower = float(sps.gamma.cdf(position, shape))
    return min(1.0, 2.0 * min(upper, lower))


def _pca(z: NDArray[np.float64], variance: float) -> tuple[NDArray[np.float64], float]:
    """The fewest principal axes of centred ``z`` explaining more than ``variance`` (as sklearn)."""
    _, singular, vt = np.linalg.svd(z, full_matrices=False)
    power = singular**2
    total = power.sum()
    if total == 0:  # every column constant: no axis, any deviation is an error
        return np.zeros((0, z.shape[1])), 0.0
    ratio = np.cumsum(power) / total
    k = min(int(np.searchsorted(ratio, variance, side="right")) + 1, vt.shape[0])
    return np.ascontiguousarray(vt[:k]), round(float(ratio[k - 1]), 3)
