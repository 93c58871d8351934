"""Isotonic regression by pool-adjacent-violators, as ``sklearn.isotonic.IsotonicRegression``.

``fit_isotonic(x, y)`` returns the breakpoints ``(thresholds, values)`` of the
non-decreasing fit of ``y`` on ``x`` that minimises the squared error, in the
form scikit-learn keeps (``X_thresholds_``, ``y_thresholds_``): rows sharing an
``x`` are pooled first (their mean, weighted by their number), then adjacent
blocks that violate monotony are pooled until none does, then the interior
points of every constant run are dropped. Between breakpoints the fit is the
straight line joining them (``numpy.interp``); outside it is the end value, as
with ``out_of_bounds="clip"``.

>>> fit_isotonic(np.array([0.1, 0.2, 0.3, 0.4]), np.array([0.0, 1.0, 0.0, 1.0]))
((0.1, 0.2, 0.3, 0.4), (0.0, 0.5, 0.5, 1.0))
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray


def pool_adjacent_violators(y: NDArray[np.float64], w: NDArray[np.float64],
                            ) -> NDArray[np.float64]:
    """The non-decreasing sequence minimising ``sum(w * (y - fit) ** 2)``, weights > 0."""
    sums: list[float] = []
    weights: list[float] = []
    sizes: list[int] = []
    for value, weight in zip(y.tolist(), w.tolist(), strict=True):
        sums.append(value * weight)
        weights.append(weight)
        sizes.append(1)
        while len(sums) > 1 and sums[-2] / weights[-2] > sums[-1] / weights[-1]:
            last_sum, last_weight, last_size = sums.pop(), weights.pop(), sizes.pop()
            sums[-1] += last_sum
            weights[-1] += last_weight
            sizes[-1] += last_size
    means = np.array(sums) / np.array(weights)
    return np.repeat(means, sizes)


def fit_isotonic(x: NDArray[np.float64], y: NDArray[np.float64],
                 ) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Breakpoints of the isotonic fit of ``y`` on ``x`` (both 1-D, same non-zero length)."""
    order = np.argsort(x, kind="stable")
    xs, ys = x[order], y[order]
    unique, start = np.unique(xs, return_index=True)
    sizes = np.diff(np.append(start, len(xs))).astype(np.float64)
    fitted = pool_adjacent_violators(np.add.reduceat(ys, start) / sizes, sizes)
    keep = np.ones(len(fitted), dtype=bool)
    keep[1:-1] = (fitted[1:-1] != fitted[:-2]) | (fitted[1:-1] != fitted[2:])
    return tuple(unique[keep].tolist()), tuple(fitted[keep].tolist())
