"""Domain classifier: can a classifier tell a window's rows from the reference's?

A two-sample test of the whole joint distribution: label reference rows 0 and
window rows 1, train a classifier, and score rows it has not seen. If the
window comes from the reference distribution no classifier does better than
chance on new rows, and the held-out AUC is 0.5 up to noise; any change it can
learn (a shift, a rotation, a new dependence) raises it.

Decided here:

- **Rows.** At most ``max_rows`` rows of each side (a seeded uniform choice),
  so the cost is bounded whatever the window size. The encoding
  (``detectors.multivariate._encoding``: missing values imputed, categories
  frequency-encoded) and the standardisation are fitted on the pooled rows of
  both sides, which treats the two sides alike: an encoding fitted on the
  reference rows alone would know the held-out reference rows (their rare
  categories, their means) and not the window's, and break the exchangeability
  the p-value rests on.
- **Classifier.** L2-regularised logistic regression (Newton's method, numpy
  only) on the columns, their squares and, for up to ``MAX_PAIRED_COLUMNS``
  columns, their pairwise products: a linear model on the columns alone sees
  shifts of means but not changes of spread or correlation (the rotated
  butterfly keeps every mean and variance; only the product ``x1 x2`` changes
  sign). Beyond ``MAX_PAIRED_COLUMNS`` columns the products are left out.
- **Cross-fitting and the p-value.** Each side's rows are split in two halves
  at random; a model trained on one half scores the other, and the other way
  round. Given the model, the held-out scores of the two classes are, under
  "no drift", exchangeable, so the Mann–Whitney U of each half has its known
  null distribution whatever the classifier learnt: mean ``n1 n0 / 2``, and
  the variance with the correction for ties; ``z_h`` is its normal
  approximation. The two halves' ``z`` are averaged. The average of two
  standard normal values has a variance of at most 1 (equal to 1 only when
  they are perfectly correlated), so its upper tail under N(0, 1) is a valid,
  conservative one-sided p-value (drift raises the AUC; an AUC below 0.5 is
  noise). The AUC reported is the mean of the two halves' AUCs.

The test needs the reference rows themselves (unlike
``reconstruction.Reconstruction``, whose fitted state is small), and costs a
few Newton steps on up to ``2 max_rows`` rows: about 10 ms at the defaults.
Measured in ``bench/multivariate.py``.

>>> rng = np.random.default_rng(1)
>>> s = rng.standard_normal(3_000)
>>> reference = {"a": s + rng.standard_normal(3_000) / 8, "b": s + rng.standard_normal(3_000) / 8}
>>> t = rng.standard_normal(1_000)
>>> same = {"a": t + rng.standard_normal(1_000) / 8, "b": t + rng.standard_normal(1_000) / 8}
>>> result = classifier_test(reference, same)
>>> round(result.auc, 3), round(result.p_value, 3)
(0.497, 0.577)
>>> result = classifier_test(reference, {"a": -same["b"], "b": same["a"]})  # rotated
>>> round(result.auc, 3), result.p_value < 1e-30
(0.992, True)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import stats as sps

from detectors._checks import check_float, check_int
from detectors.multivariate._encoding import (
    CategoricalEncoding,
    Columns,
    categorical_encoding,
    column,
    encode,
    is_categorical,
    rows,
)

DEFAULT_MAX_ROWS = 2_000  # rows of each side used
DEFAULT_RIDGE = 1.0  # the L2 penalty on the coefficients (not the intercept)
MAX_PAIRED_COLUMNS = 12  # up to this many columns, pairwise products are features too
MIN_ROWS = 50  # rows of each side below which the test is refused
_NEWTON_STEPS = 25


@dataclass(frozen=True)
class ClassifierResult:
    """The held-out AUC of reference against window rows and its one-sided p-value."""

    auc: float  # mean of the two halves' held-out AUCs
    z: float  # mean of the two halves' Mann–Whitney z
    p_value: float  # upper tail of N(0, 1) at z (conservative)
    n_reference: int  # reference rows used
    n_window: int  # window rows used
    features: int  # columns of the classifier (columns, squares, products)

    def to_dict(self) -> dict[str, Any]:
        return {"auc": self.auc, "z": self.z, "p_value": self.p_value,
                "n_reference": self.n_reference, "n_window": self.n_window,
                "features": self.features}


def classifier_test(
    reference: Columns,
    window: Columns,
    *,
    max_rows: int = DEFAULT_MAX_ROWS,
    top_categories: int = 50,
    ridge: float = DEFAULT_RIDGE,
    seed: int = 0,
) -> ClassifierResult:
    """Test whether ``window`` rows differ from ``reference`` rows (the columns of the reference).

    Raises ValueError with fewer than ``MIN_ROWS`` rows on a side, a column of
    the reference missing from the window, or no column with values.
    """
    check_int("max_rows", max_rows, low=2 * MIN_ROWS)
    check_int("top_categories", top_categories, low=1)
    check_float("ridge", ridge, low=0.0, low_open=True)
    n_ref, n_win = rows(reference), rows(window)
    if min(n_ref, n_win) < MIN_ROWS:
        raise ValueError(f"a classifier test needs at least {MIN_ROWS} rows a side, "
                         f"got {n_ref} reference and {n_win} window rows")
    rng = np.random.default_rng(seed)
    ref_rows = _choose(rng, n_ref, max_rows)
    win_rows = _choose(rng, n_win, max_rows)
    pooled: dict[str, NDArray[Any]] = {}  # reference rows, then window rows
    for name, values in reference.items():
        other = column(window, name)
        if is_categorical(values):
            other = other.astype(object)
        elif is_categorical(other):
            raise ValueError(f"column {name!r} is numeric in the reference but not in the window")
        else:
            values, other = values.astype(np.float64), other.astype(np.float64)
        pooled[name] = np.concatenate([values[ref_rows], other[win_rows]])
    numeric: dict[str, float] = {}
    categorical: dict[str, CategoricalEncoding] = {}
    for name, values in pooled.items():
        if is_categorical(values):
            encoding = categorical_encoding(values, top_categories)
            if encoding is not None:
                categorical[name] = encoding
        else:
            finite = values[np.isfinite(values)]
            if finite.size:
                numeric[name] = float(finite.mean())
    if not numeric and not categorical:
        raise ValueError("a classifier test needs at least one column with values")
    encoded = encode(pooled, numeric, categorical)
    spread = encoded.std(axis=0)
    spread[spread == 0] = 1.0
    x = _features((encoded - encoded.mean(axis=0)) / spread)
    y = np.concatenate([np.zeros(ref_rows.size), np.ones(win_rows.size)])
    half = np.empty(y.size, dtype=bool)  # stratified: half of each side in each half
    for side in (0.0, 1.0):
        where = np.flatnonzero(y == side)
        half[where] = rng.permutation(where.size) < where.size // 2
    zs, aucs = [], []
    for train in (half, ~half):
        test = ~train
        weights = _logistic(x[train], y[train], ridge)
        scores = x[test] @ weights[1:] + weights[0]
        z, auc = _mann_whitney(scores[y[test] == 1.0], scores[y[test] == 0.0])
        zs.append(z)
        aucs.append(auc)
    z = float(np.mean(zs))
    return ClassifierResult(float(np.mean(aucs)), z, float(sps.norm.sf(z)), int(ref_rows.size),
                            int(win_rows.size), int(x.shape[1]))


def _choose(rng: np.random.Generator, n: int, most: int) -> NDArray[np.intp]:
    if n <= most:
        return np.arange(n)
    return np.sort(rng.choice(n, most, replace=False))


def _features(z: NDArray[np.float64]) -> NDArray[np.float64]:
    """Standardised columns, their squares and (up to ``MAX_PAIRED_COLUMNS``) pairwise
    products, each standardised in turn."""
    parts = [z, z**2]
    d = z.shape[1]
    if 1 < d <= MAX_PAIRED_COLUMNS:
        i, j = np.triu_indices(d, k=1)
        parts.append(z[:, i] * z[:, j])
    x = np.hstack(parts)
    spread = x.std(axis=0)
    spread[spread == 0] = 1.0
    return np.asarray((x - x.mean(axis=0)) / spread, dtype=np.float64)


def _logistic(x: NDArray[np.float64], y: NDArray[np.float64],
              ridge: float) -> NDArray[np.float64]:
    """Ridge logistic regression by Newton's method: [intercept, coefficients]."""
    design = np.hstack([np.ones((x.shape[0], 1)), x])
    penalty = np.full(design.shape[1], ridge)
    penalty[0] = 0.0
    weights = np.zeros(design.shape[1])
    for _ in range(_NEWTON_STEPS):
        p = 1.0 / (1.0 + np.exp(-np.clip(design @ weights, -30.0, 30.0)))
        gradient = design.T @ (p - y) + penalty * weights
        hessian = (design.T * (p * (1.0 - p))) @ design + np.diag(penalty + 1e-9)
        step = np.linalg.solve(hessian, gradient)
        weights -= step
        if float(np.max(np.abs(step))) < 1e-8:
            break
    return weights


def _mann_whitney(positive: NDArray[np.float64],
                  negative: NDArray[np.float64]) -> tuple[float, float]:
    """(z, AUC) of positives against negatives; z from U's null mean and tie-corrected variance."""
    n1, n0 = positive.size, negative.size
    ranks = sps.rankdata(np.concatenate([positive, negative]))
    u = float(ranks[:n1].sum()) - n1 * (n1 + 1) / 2.0
    _, ties = np.unique(ranks, return_counts=True)
    n = n1 + n0
    tie_term = float(np.sum(ties.astype(np.float64) ** 3 - ties)) / (n * (n - 1))
    variance = n1 * n0 / 12.0 * ((n + 1) - tie_term)
    z = (u - n1 * n0 / 2.0) / math.sqrt(variance) if variance > 0 else 0.0
    return z, u / (n1 * n0)
