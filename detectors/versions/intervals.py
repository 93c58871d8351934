"""One window's difference between two versions, with a fixed-sample confidence interval.

Every difference is challenger minus champion, in the metric's units. These
intervals answer "how different were the versions in this window?" once; asked
again every window they are not a decision rule (that is what
``sequential.SequentialTest`` is for: the same question asked forever).

- Proportions (accuracy, precision, recall of unpaired traffic): Newcombe's
  hybrid score interval, method 10 of Newcombe, "Interval estimation for the
  difference between independent proportions: comparison of eleven methods",
  Statistics in Medicine 17, 1998, pp. 873–890. Each side's Wilson score
  interval ``(l, u)`` around its proportion ``p`` is combined in quadrature:
  ``d - sqrt((p_B - l_B)^2 + (u_A - p_A)^2)`` to
  ``d + sqrt((u_B - p_B)^2 + (p_A - l_A)^2)``. Chosen over Wald's
  ``d ± z sqrt(p_A q_A / n_A + p_B q_B / n_B)`` because Wald's collapses to
  zero width at proportions of 0 or 1 and undercovers near them, where good
  models' accuracies sit; Newcombe's stays within [-1, 1] and has coverage
  close to nominal at every size. It reproduces the eight worked examples of
  the paper's Table II (the tests). Precision and recall are proportions over
  each version's own predicted positives and true positives.
- Means of a per-row loss (absolute error, log loss): Welch's interval,
  ``d ± t sqrt(s_A^2 / n_A + s_B^2 / n_B)`` with the Welch–Satterthwaite
  degrees of freedom, as ``scipy.stats.ttest_ind(equal_var=False)``.
- Paired (shadow mode, both versions on the same requests): the t interval of
  the mean per-request difference, as ``scipy.stats.ttest_rel``; for
  correctness this is the Wald interval of a difference of paired proportions.

Undefined results are None: the difference when a side has no rows, the
interval when a side has none (proportions) or fewer than 2 (means). When
every value on both sides is equal to its side's mean, a mean's interval is
the point ``(d, d)``.

Newcombe's first example: 48 of 80 right for the champion, 56 of 70 for the
challenger (Table II (a): 0.0524 to 0.3339):

>>> r = newcombe_interval(48, 80, 56, 70)
>>> r.champion, r.challenger, round(r.difference, 4), round(r.low, 4), round(r.high, 4)
(0.6, 0.8, 0.2, 0.0524, 0.3339)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy import stats as sps

from detectors._checks import check_float, check_int
from detectors.performance import ClassificationSketch
from detectors.versions.moments import Moments

DEFAULT_CONFIDENCE = 0.95


@dataclass(frozen=True)
class Difference:
    """Challenger minus champion in one window, with its interval at ``confidence``."""

    method: str
    champion: float | None
    challenger: float | None
    difference: float | None
    low: float | None
    high: float | None
    n_champion: int
    n_challenger: int
    confidence: float


def _z(confidence: float) -> float:
    level = check_float("confidence", confidence, low=0.0, high=1.0, low_open=True,
                        high_open=True)
    return float(sps.norm.ppf(0.5 + level / 2.0))


def _counts(successes: int, n: int, side: str) -> None:
    check_int(f"{side}_n", n, low=0)
    check_int(f"{side}_successes", successes, low=0, high=n)


def wilson_interval(successes: int, n: int, confidence: float = DEFAULT_CONFIDENCE,
                    ) -> tuple[float, float]:
    """Wilson's score interval of a proportion; ValueError when ``n`` is 0.

    >>> [round(x, 4) for x in wilson_interval(0, 10)]
    [0.0, 0.2775]
    """
    _counts(successes, n, "side")
    if n == 0:
        raise ValueError("a proportion of no rows has no interval: n must be >= 1")
    z = _z(confidence)
    p, z2 = successes / n, z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z / (1 + z2 / n) * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def newcombe_interval(champion_successes: int, champion_n: int, challenger_successes: int,
                      challenger_n: int, confidence: float = DEFAULT_CONFIDENCE) -> Difference:
    """Newcombe's hybrid score interval of challenger minus champion proportions."""
    _counts(champion_successes, champion_n, "champion")
    _counts(challenger_successes, challenger_n, "challenger")
    _z(confidence)
    a = champion_successes / champion_n if champion_n else None
    b = challenger_successes / challenger_n if challenger_n else None
    if a is None or b is None:
        return Difference("newcombe", a, b, None, None, None, champion_n, challenger_n,
                          confidence)
    la, ua = wilson_interval(champion_successes, champion_n, confidence)
    lb, ub = wilson_interval(challenger_successes, challenger_n, confidence)
    d = b - a
    low = d - math.sqrt((b - lb) ** 2 + (ua - a) ** 2)
    high = d + math.sqrt((ub - b) ** 2 + (a - la) ** 2)
    return Difference("newcombe", a, b, d, max(-1.0, low), min(1.0, high), champion_n,
                      challenger_n, confidence)


def welch_interval(champion: Moments, challenger: Moments,
                   confidence: float = DEFAULT_CONFIDENCE) -> Difference:
    """Welch's interval of challenger minus champion means.

    >>> a, b = Moments.of([1.0, 2.0, 3.0, 4.0]), Moments.of([2.0, 4.0, 6.0])
    >>> r = welch_interval(a, b)
    >>> r.difference, round(r.low, 4), round(r.high, 4)
    (1.5, -2.5423, 5.5423)
    """
    _z(confidence)
    a = champion.mean if champion.n else None
    b = challenger.mean if challenger.n else None
    d = None if a is None or b is None else b - a
    va, vb = champion.variance, challenger.variance
    if d is None or va is None or vb is None:
        return Difference("welch", a, b, d, None, None, champion.n, challenger.n, confidence)
    sa, sb = va / champion.n, vb / challenger.n
    if sa + sb == 0.0:
        return Difference("welch", a, b, d, d, d, champion.n, challenger.n, confidence)
    dof = (sa + sb) ** 2 / (sa * sa / (champion.n - 1) + sb * sb / (challenger.n - 1))
    half = float(sps.t.ppf(0.5 + confidence / 2.0, dof)) * math.sqrt(sa + sb)
    return Difference("welch", a, b, d, d - half, d + half, champion.n, challenger.n,
                      confidence)


def paired_interval(champion: Moments, challenger: Moments, difference: Moments,
                    confidence: float = DEFAULT_CONFIDENCE) -> Difference:
    """The t interval of the mean per-request difference (challenger - champion).

    ``champion`` and ``challenger`` give the two means shown; the three must
    count the same requests.

    >>> a, b = [1.0, 2.0, 3.0], [3.0, 4.0, 6.0]
    >>> r = paired_interval(Moments.of(a), Moments.of(b), Moments.of([2.0, 2.0, 3.0]))
    >>> round(r.difference, 4), round(r.low, 4), round(r.high, 4)
    (2.3333, 0.8991, 3.7676)
    """
    _z(confidence)
    if not champion.n == challenger.n == difference.n:
        raise ValueError("paired moments must count the same requests, got champion "
                         f"{champion.n}, challenger {challenger.n}, difference {difference.n}")
    n = difference.n
    a, b = (champion.mean, challenger.mean) if n else (None, None)
    d = difference.mean if n else None
    variance = difference.variance
    if d is None or variance is None:
        return Difference("paired_t", a, b, d, None, None, n, n, confidence)
    half = float(sps.t.ppf(0.5 + confidence / 2.0, n - 1)) * math.sqrt(variance / n)
    return Difference("paired_t", a, b, d, d - half, d + half, n, n, confidence)


def compare_classification(champion: ClassificationSketch, challenger: ClassificationSketch,
                           confidence: float = DEFAULT_CONFIDENCE) -> dict[str, Difference]:
    """Accuracy, precision and recall differences of two versions' unpaired windows.

    >>> import numpy as np
    >>> a = ClassificationSketch().update(np.array([1, 1, 0, 0]), np.array([1, 0, 0, 0]))
    >>> b = ClassificationSketch().update(np.array([1, 1, 0, 0]), np.array([1, 1, 0, 1]))
    >>> {name: r.difference for name, r in compare_classification(a, b).items()}
    {'accuracy': 0.0, 'precision': -0.33333333333333337, 'recall': 0.5}
    """
    a, b = champion.confusion(), challenger.confusion()

    def proportion(successes: tuple[str, ...], rows: tuple[str, ...]) -> Difference:
        return newcombe_interval(sum(a[k] for k in successes), sum(a[k] for k in rows),
                                 sum(b[k] for k in successes), sum(b[k] for k in rows),
                                 confidence)

    return {"accuracy": proportion(("tp", "tn"), ("tn", "fp", "fn", "tp")),
            "precision": proportion(("tp",), ("tp", "fp")),
            "recall": proportion(("tp",), ("tp", "fn"))}
