"""Multiple-testing correction across the columns of one window.

Testing 50 features at alpha = 0.05 flags two or three of them on a window with
no drift at all. The budget verdict bounds the probability that a healthy
window is flagged at all, with Bonferroni's correction (each p-value times the
number tested, at most 1). The classic verdict controls the false discovery
rate instead, with the Benjamini–Hochberg step-up procedure, equal to
``scipy.stats.false_discovery_control(p, method="bh")``.

>>> bonferroni([0.01, 0.02, 0.3, 0.5])
[0.04, 0.08, 1.0, 1.0]

>>> benjamini_hochberg([0.01, 0.02, 0.03, 0.5])
[0.04, 0.04, 0.04, 0.5]
>>> benjamini_hochberg([])
[]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray


def _checked(pvalues: Sequence[float]) -> NDArray[np.float64]:
    p = np.asarray(pvalues, dtype=np.float64)
    bad = ~((p >= 0.0) & (p <= 1.0))
    if bad.any():
        raise ValueError(f"pvalues must be in [0, 1], got {p[bad][0]!r}")
    return p


def benjamini_hochberg(pvalues: Sequence[float]) -> list[float]:
    """Benjamini–Hochberg adjusted p-values, in the order given.

    Raises ValueError for a p-value outside [0, 1] or NaN.
    """
    p = _checked(pvalues)
    if p.size == 0:
        return []
    order = np.argsort(p)
    ranked = p[order] * p.size / np.arange(1, p.size + 1)
    adjusted = np.minimum.accumulate(ranked[::-1])[::-1]
    out = np.empty_like(p)
    out[order] = np.minimum(adjusted, 1.0)
    return [float(v) for v in out]


def bonferroni(pvalues: Sequence[float]) -> list[float]:
    """Bonferroni adjusted p-values (times the number of p-values, at most 1)."""
    p = _checked(pvalues)
    return [float(v) for v in np.minimum(p * p.size, 1.0)]


def correct(pvalues: Sequence[float], method: str) -> list[float]:
    """``pvalues`` adjusted by ``method``: ``bonferroni``, ``bh`` or ``none`` (as given)."""
    if method == "bonferroni":
        return bonferroni(pvalues)
    if method == "bh":
        return benjamini_hochberg(pvalues)
    if method == "none":
        return [float(v) for v in _checked(pvalues)]
    raise ValueError(f"correction must be one of bonferroni, bh, none; got {method!r}")
