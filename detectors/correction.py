"""Multiple-testing correction across the features of one window.

Testing 50 features at alpha = 0.05 flags two or three of them on a window with
no drift at all. driftline controls the false discovery rate instead, with the
Benjamini–Hochberg step-up procedure, equal to
``scipy.stats.false_discovery_control(p, method="bh")``.

>>> benjamini_hochberg([0.01, 0.02, 0.03, 0.5])
[0.04, 0.04, 0.04, 0.5]
>>> benjamini_hochberg([])
[]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def benjamini_hochberg(pvalues: Sequence[float]) -> list[float]:
    """Benjamini–Hochberg adjusted p-values, in the order given.

    Raises ValueError for a p-value outside [0, 1] or NaN.
    """
    p = np.asarray(pvalues, dtype=np.float64)
    if p.size == 0:
        return []
    bad = ~((p >= 0.0) & (p <= 1.0))
    if bad.any():
        raise ValueError(f"pvalues must be in [0, 1], got {p[bad][0]!r}")
    order = np.argsort(p)
    ranked = p[order] * p.size / np.arange(1, p.size + 1)
    adjusted = np.minimum.accumulate(ranked[::-1])[::-1]
    out = np.empty_like(p)
    out[order] = np.minimum(adjusted, 1.0)
    return [float(v) for v in out]
