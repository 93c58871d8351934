"""How often two versions predict the same class on the same requests (shadow mode).

``agreement(champion_pred, challenger_pred)`` takes the two versions' predicted
classes for the same requests, aligned by position, and returns:

- ``share``: the share of requests with the same predicted class, with its
  Wilson score interval (``intervals.wilson_interval``);
- ``kappa``: Cohen's kappa, ``(p_o - p_e) / (1 - p_e)``, ``p_o`` the observed
  agreement and ``p_e = sum_k a_k b_k`` the agreement expected by chance from
  each version's share ``a_k``, ``b_k`` of class ``k`` (as
  ``sklearn.metrics.cohen_kappa_score``, unweighted). 1 is agreement on every
  request; 0 is no more than chance. None when ``p_e`` is 1 (both versions
  predict one and the same class throughout, so there is nothing to beat), and
  every field but ``n`` is None on no requests.

Classes may be any integers, booleans or strings, more than two of them.
Agreement needs no labels: it can be watched before outcomes arrive, and a
challenger that agrees with the champion on 99.9 % of requests cannot be far
from it in accuracy (by at most the share of disagreements).

>>> r = agreement([0, 1, 1, 0, 1, 1], [0, 1, 0, 0, 1, 1])
>>> r.n, round(r.share, 4), round(r.kappa, 4)
(6, 0.8333, 0.6667)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from detectors.versions.intervals import DEFAULT_CONFIDENCE, wilson_interval


@dataclass(frozen=True)
class Agreement:
    """Agreement of two versions' predicted classes over ``n`` requests."""

    n: int
    share: float | None
    share_low: float | None
    share_high: float | None
    kappa: float | None
    confidence: float


def _classes(name: str, values: ArrayLike) -> NDArray[Any]:
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {array.shape}")
    if array.dtype.kind not in "biuU" and array.size:  # [] is float64
        raise ValueError(f"{name} must hold integer, boolean or string classes, "
                         f"got dtype {array.dtype}")
    return array


def agreement(champion_pred: ArrayLike, challenger_pred: ArrayLike,
              confidence: float = DEFAULT_CONFIDENCE) -> Agreement:
    """Share of equal predictions and Cohen's kappa; see the module docstring."""
    a, b = _classes("champion_pred", champion_pred), _classes("challenger_pred",
                                                               challenger_pred)
    if len(a) != len(b):
        raise ValueError("champion_pred and challenger_pred must count the same requests, "
                         f"got {len(a)} and {len(b)}")
    if len(a) and (a.dtype.kind == "U") != (b.dtype.kind == "U"):
        raise ValueError("champion_pred and challenger_pred must both hold strings or "
                         f"both numbers, got dtypes {a.dtype} and {b.dtype}")
    n = len(a)
    if n == 0:
        wilson_interval(0, 1, confidence)  # checks confidence
        return Agreement(0, None, None, None, None, confidence)
    _, codes = np.unique(np.concatenate([a, b]), return_inverse=True)
    code_a, code_b = codes[:n], codes[n:]
    same = int(np.count_nonzero(code_a == code_b))
    k = int(codes.max()) + 1
    expected = float(np.dot(np.bincount(code_a, minlength=k), np.bincount(code_b, minlength=k))
                     ) / (n * n)
    observed = same / n
    kappa = None if expected >= 1.0 else (observed - expected) / (1.0 - expected)
    low, high = wilson_interval(same, n, confidence)
    return Agreement(n, observed, low, high, kappa, confidence)
