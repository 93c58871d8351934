"""Binned ROC AUC: mergeable per-class score histograms and a worst-case error bound.

Scores in [0, 1] fall into ``n_bins`` equal-width bins: a score ``s`` goes to bin
``min(floor(s * n_bins), n_bins - 1)``, so the last bin also holds ``s == 1``.
The AUC (the probability that a random positive outscores a random negative,
ties counting one half, as in ``sklearn.metrics.roc_auc_score``) is computed
from the bin counts, scoring every positive/negative pair that shares a bin as
a tie. Such a pair truly contributes 0, 1/2 or 1, so with ``P`` positives and
``N`` negatives the binned value differs from the exact one by at most::

    roc_auc_error_bound = 0.5 * sum_b(pos_b * neg_b) / (P * N)

The bound is attained when, inside every shared bin, all positives outscore all
negatives (or the reverse); it is 0 when no bin holds both classes.

>>> import numpy as np
>>> pos = score_histogram(np.array([0.95, 0.55]), 10)
>>> neg = score_histogram(np.array([0.05, 0.51]), 10)
>>> binned_auc(pos, neg)  # exact AUC is 1.0: the shared bin 5 hides 0.55 > 0.51
(0.875, 0.125)
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from detectors._checks import check_int

DEFAULT_N_BINS = 1000
MAX_N_BINS = 1_000_000

Counts = NDArray[np.int64]


def validate_n_bins(n_bins: object) -> int:
    """Return ``n_bins`` if it is an integer in [1, MAX_N_BINS]; raise ValueError otherwise."""
    return check_int("n_bins", n_bins, low=1, high=MAX_N_BINS)


def score_histogram(scores: NDArray[np.float64], n_bins: int) -> Counts:
    """Count validated scores in [0, 1] per bin (see the module docstring for the edges)."""
    index = np.minimum((scores * n_bins).astype(np.int64), n_bins - 1)
    return np.bincount(index, minlength=n_bins).astype(np.int64)


def binned_auc(pos: Counts, neg: Counts) -> tuple[float, float] | None:
    """Return ``(auc, error_bound)`` from per-class histograms, or None if a class is empty."""
    n_pos, n_neg = int(pos.sum()), int(neg.sum())
    if n_pos == 0 or n_neg == 0:
        return None
    p = pos.astype(np.float64)
    q = neg.astype(np.float64)
    negatives_below = np.cumsum(q) - q
    wins = float(p @ negatives_below)
    ties = float(p @ q)
    pairs = float(n_pos) * float(n_neg)
    return (wins + 0.5 * ties) / pairs, 0.5 * ties / pairs
