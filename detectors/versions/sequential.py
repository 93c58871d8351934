"""An always-valid sequential test of a challenger version against the champion.

Two versions of a model serve live traffic side by side. After every window the
question is the same: is the challenger better, worse, or can we not tell yet?
A fixed-sample test (a z-test at 5 %) asked after every window is wrong far more
often than 5 %: each look is another chance for noise to cross the line, and
over hundreds of looks a healthy A/A pair is eventually declared different
(``bench/sequential.py`` measures it). This test keeps its error rate at most
``alpha`` however many looks are taken, every window forever.

Method: the mixture sequential probability ratio test (mSPRT) with a normal
mixture, as in Johari, Koomen, Pekelis and Walsh, "Always valid inference:
continuous monitoring of A/B tests", Operations Research 70(3), 2022, with the
normal-mixture boundary of Robbins (1970) in the form of Howard, Ramdas,
McAuliffe and Sekhon, "Time-uniform, nonparametric, nonasymptotic confidence
sequences", Annals of Statistics 49(2), 2021. With ``d`` the estimated
difference (challenger mean minus champion mean), ``V`` its plug-in variance
and ``tau`` the mixture's standard deviation:

    Lambda = sqrt(V / (V + tau^2)) * exp(tau^2 d^2 / (2 V (V + tau^2)))

``Lambda`` is a likelihood ratio averaged over differences drawn from
N(0, tau^2); under "no difference" it is a martingale with mean 1, so by Ville's
inequality it ever reaches ``1 / alpha`` with probability at most ``alpha``. The
always-valid p-value is the running minimum of ``min(1, 1 / Lambda)`` over the
looks; the always-valid confidence interval is ``d ± r`` with

    r = sqrt(V (V + tau^2) / tau^2 * (log((V + tau^2) / V) + 2 log(1 / alpha)))

the set of differences that ``Lambda`` (centred there) would not reject. At
every look, ``p <= alpha`` exactly when the interval excludes 0.

What is compared (``metric``):

- ``"accuracy"``: per-row correctness, 1 right and 0 wrong (``rows.correct``):
  a difference of two proportions, higher is better. ``V`` uses each side's
  sample variance, ``p (1 - p) n / (n - 1)``.
- ``"loss"``: a per-row loss (``rows.absolute_error``, ``rows.log_loss``): a
  difference of means, lower is better; ``V = s_A^2 / n_A + s_B^2 / n_B``.

Unpaired (A/B: each request served by one version) or ``paired=True`` (shadow
mode: both versions score the same requests, and the test runs on the
per-request difference ``challenger - champion``, whose variance ``s_d^2 / n``
is smaller when the versions err on the same requests).

Settings:

- ``alpha`` (0.05): the probability, over the whole unbounded run, that two
  versions that perform alike are ever declared different.
- ``mde``, the minimum detectable effect, in the metric's units (0.01 = one
  accuracy point; a loss difference for ``"loss"``): the mixture's ``tau``. The
  test is quickest for differences around it; larger ones are found sooner and
  smaller ones later, never falsely. It has no default: the effect worth
  finding is the user's choice.
- ``min_n`` (1,000): no look is tested before both sides hold ``min_n`` rows.
  The plug-in variances are then close to the true ones and the normal
  approximation of the means is good; below it the result is "inconclusive"
  with no interval and a p-value of 1, and such looks do not count.

Guarantees and their limits: the bound is exact for normal values with known
variances; with plug-in variances and means of many rows it holds
asymptotically (Waudby-Smith, Arbour, Sinha, Kennedy and Ramdas, "Time-uniform
central limit theory and asymptotic confidence sequences", 2021), which is why
``min_n`` exists. The unpaired form was measured with equal rows a side in every
window; a traffic split that swings widely between windows is outside what was
measured. The measured false-decision rate on A/A runs and the power are in
docs/versions.md.

Decided here:

- **The test stops at its first decision.** The look whose evidence reaches
  ``alpha`` fixes the decision; after it ``update`` and ``look`` raise
  ``StoppedError`` and the state (counts, estimate, interval, p-value) stays as
  it was at that look, so the evidence shown is the evidence that decided. To
  compare again, start a new test.
- Windows are merged before a look, tests are not: ``Window.merge`` adds up
  shards of one window (counts add, means and M2 combine exactly to rounding);
  one ``look`` is one test.
- The state is three ``Moments`` (champion, challenger, and in paired mode the
  difference), the running minimum p-value, the number of looks and the
  decision: O(1) memory; ``to_dict``/``from_dict`` give a JSON-safe checkpoint.
- A look with no variance at all (every value the same on both sides) gives no
  evidence when the means are equal and decides when they differ.

The challenger is 5 accuracy points worse; windows of 1,000 rows per side:

>>> import numpy as np
>>> rng = np.random.default_rng(7)
>>> test = SequentialTest("accuracy", mde=0.02)
>>> for window in range(1, 101):
...     result = test.update(rng.binomial(1, 0.80, 1000), rng.binomial(1, 0.75, 1000))
...     if test.stopped:
...         break
>>> result.decision, result.decided_at, result.n_champion, result.n_challenger
('challenger_worse', 2, 2000, 2000)
>>> round(result.estimate, 4), round(result.low, 4), round(result.high, 4)
(-0.047, -0.0896, -0.0044)
>>> round(result.p_value, 5), result.alpha, result.mde
(0.02285, 0.05, 0.02)

A window given as counts (what a window's confusion counts hold):

>>> test = SequentialTest("accuracy", mde=0.02, min_n=100)
>>> test.look(Window(Moments.of_counts(80, 100), Moments.of_counts(78, 100))).decision
'inconclusive'
>>> SequentialTest.from_dict(test.to_dict()).decision() == test.decision()
True
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, Self

import numpy as np
from numpy.typing import ArrayLike

from detectors._checks import check_checkpoint, check_choice, check_float, check_int
from detectors.performance import _labels
from detectors.versions.moments import Moments

SCHEMA_VERSION = 1
Metric = Literal["accuracy", "loss"]
METRICS: tuple[Metric, ...] = ("accuracy", "loss")
Decision = Literal["challenger_better", "challenger_worse", "inconclusive"]
DECISIONS: tuple[Decision, ...] = ("challenger_better", "challenger_worse", "inconclusive")
DEFAULT_MIN_N = 1000


class StoppedError(RuntimeError):
    """Raised by ``update``/``look`` after the test has decided."""


def mixture_p_value(estimate: float, variance: float, tau: float) -> float:
    """``min(1, 1 / Lambda)`` of one look (see the module docstring).

    >>> round(mixture_p_value(0.02, 0.0001, 0.02), 4)
    0.4515
    >>> mixture_p_value(0.0, 0.0, 0.02), mixture_p_value(0.01, 0.0, 0.02)
    (1.0, 0.0)
    """
    if variance == 0.0:
        return 1.0 if estimate == 0.0 else 0.0
    tau2 = tau * tau
    log_ratio = (0.5 * math.log(variance / (variance + tau2))
                 + tau2 * estimate * estimate / (2.0 * variance * (variance + tau2)))
    return 1.0 if log_ratio <= 0.0 else math.exp(-log_ratio)


def mixture_radius(variance: float, tau: float, alpha: float) -> float:
    """Half-width of the always-valid interval at ``1 - alpha`` (module docstring).

    >>> round(mixture_radius(0.0001, 0.02, 0.05), 4)
    0.0308
    """
    if variance == 0.0:
        return 0.0
    tau2 = tau * tau
    return math.sqrt(variance * (variance + tau2) / tau2
                     * (math.log((variance + tau2) / variance) - 2.0 * math.log(alpha)))


@dataclass(frozen=True)
class Window:
    """The sufficient statistics of one look: one window, or shards of it merged.

    ``difference`` holds the per-request ``challenger - champion`` values in
    paired (shadow) mode, and is None for unpaired traffic; paired sides have
    the same number of rows.
    """

    champion: Moments
    challenger: Moments
    difference: Moments | None = None

    def __post_init__(self) -> None:
        for name in ("champion", "challenger"):
            if not isinstance(getattr(self, name), Moments):
                raise ValueError(f"{name} must be Moments, got {getattr(self, name)!r:.80}")
        if self.difference is not None:
            if not isinstance(self.difference, Moments):
                raise ValueError(f"difference must be Moments or None, "
                                 f"got {self.difference!r:.80}")
            if not self.champion.n == self.challenger.n == self.difference.n:
                raise ValueError("a paired window needs as many rows on each side as "
                                 f"differences, got champion {self.champion.n}, "
                                 f"challenger {self.challenger.n}, "
                                 f"difference {self.difference.n}")

    @property
    def paired(self) -> bool:
        """True when the window holds per-request differences (shadow mode)."""
        return self.difference is not None

    @classmethod
    def of(cls, champion_values: ArrayLike, challenger_values: ArrayLike, *,
           paired: bool = False) -> Self:
        """The window of two arrays of per-row values; paired arrays align by request."""
        champion, challenger = np.asarray(champion_values), np.asarray(challenger_values)
        if not paired:
            return cls(Moments.of(champion), Moments.of(challenger))
        if champion.shape != challenger.shape:
            raise ValueError("paired values must have the same shape, got champion "
                             f"{champion.shape} and challenger {challenger.shape}")
        both = Moments.of(champion), Moments.of(challenger)
        return cls(*both, Moments.of(challenger.astype(np.float64)
                                     - champion.astype(np.float64)))

    def merge(self, other: Window) -> Window:
        """The window of both inputs' rows; both must be paired or both unpaired."""
        if self.paired != other.paired:
            raise ValueError("cannot merge a paired window with an unpaired one")
        difference = (None if self.difference is None or other.difference is None
                      else self.difference.merge(other.difference))
        return Window(self.champion.merge(other.champion),
                      self.challenger.merge(other.challenger), difference)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe checkpoint."""
        return {"champion": self.champion.to_dict(), "challenger": self.challenger.to_dict(),
                "difference": None if self.difference is None else self.difference.to_dict()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """Rebuild from ``to_dict`` output; raise ValueError on a bad checkpoint."""
        for key in ("champion", "challenger", "difference"):
            if key not in data:
                raise ValueError(f"checkpoint is missing key {key!r}")
        difference = data["difference"]
        return cls(Moments.from_dict(data["champion"]), Moments.from_dict(data["challenger"]),
                   None if difference is None else Moments.from_dict(difference))


@dataclass(frozen=True)
class SequentialResult:
    """The decision after the latest look, with its evidence.

    ``estimate`` is challenger minus champion in the metric's units (None until
    both sides have rows); ``low``/``high`` the always-valid interval at
    ``1 - alpha`` and ``p_value`` the always-valid p-value (None and 1.0 until
    both sides hold ``min_n`` rows); ``decided_at`` the look that decided.
    """

    decision: Decision
    metric: Metric
    paired: bool
    estimate: float | None
    low: float | None
    high: float | None
    p_value: float
    champion_mean: float | None
    challenger_mean: float | None
    n_champion: int
    n_challenger: int
    alpha: float
    mde: float
    min_n: int
    looks: int
    decided_at: int | None


class SequentialTest:
    """The mSPRT of the module docstring: ``update`` or ``look`` once a window."""

    def __init__(self, metric: Metric, *, mde: float, alpha: float = 0.05,
                 paired: bool = False, min_n: int = DEFAULT_MIN_N) -> None:
        self.metric: Metric = "accuracy" if check_choice("metric", metric,
                                                         METRICS) == "accuracy" else "loss"
        self.mde = check_float("mde", mde, low=0.0, low_open=True)
        if not math.isfinite(self.mde):
            raise ValueError(f"mde must be a finite number > 0, got {mde!r}")
        self.alpha = check_float("alpha", alpha, low=0.0, high=1.0, low_open=True,
                                 high_open=True)
        if not isinstance(paired, bool):
            raise ValueError(f"paired must be True or False, got {paired!r}")
        self.paired = paired
        self.min_n = check_int("min_n", min_n, low=2)
        self._total = Window(Moments(), Moments(), Moments() if paired else None)
        self._looks = 0
        self._p_value = 1.0
        self._decision: Decision = "inconclusive"
        self._decided_at: int | None = None

    @property
    def stopped(self) -> bool:
        """True once the test has decided; it takes no more looks."""
        return self._decided_at is not None

    def update(self, champion_values: ArrayLike, challenger_values: ArrayLike,
               ) -> SequentialResult:
        """Take one look with a window of per-row values (``rows``); see ``look``.

        Accuracy values must be 0 or 1; loss values finite. Paired values align
        by request (same length).
        """
        if self.metric == "accuracy":
            champion_values = _labels("champion_values", champion_values)
            challenger_values = _labels("challenger_values", challenger_values)
        return self.look(Window.of(champion_values, challenger_values, paired=self.paired))

    def look(self, window: Window) -> SequentialResult:
        """Add a window's statistics, test, and return the decision with its evidence.

        Raises StoppedError once the test has decided, ValueError when the window
        is paired and the test is not (or the reverse), or for accuracy when a
        side's mean lies outside [0, 1].
        """
        if self.stopped:
            raise StoppedError(f"the test stopped at look {self._decided_at} with "
                               f"{self._decision}; start a new test to compare again")
        if window.paired != self.paired:
            raise ValueError(f"the test is {'paired' if self.paired else 'unpaired'}, "
                             f"got a{' paired' if window.paired else 'n unpaired'} window")
        if self.metric == "accuracy":
            for name, side in (("champion", window.champion),
                               ("challenger", window.challenger)):
                if not 0.0 <= side.mean <= 1.0:
                    raise ValueError(f"accuracy values must be 0 or 1, but the {name}'s "
                                     f"mean is {side.mean!r}")
        self._total = self._total.merge(window)
        self._looks += 1
        evidence = self._evidence()
        if evidence is not None:
            estimate, variance = evidence
            self._p_value = min(self._p_value, mixture_p_value(estimate, variance, self.mde))
            if self._p_value <= self.alpha:
                gained = estimate > 0.0 if self.metric == "accuracy" else estimate < 0.0
                self._decision = "challenger_better" if gained else "challenger_worse"
                self._decided_at = self._looks
        return self.decision()

    def _evidence(self) -> tuple[float, float] | None:
        """(estimate, its variance) once both sides hold ``min_n`` rows, else None."""
        total = self._total
        if min(total.champion.n, total.challenger.n) < self.min_n:
            return None
        if total.difference is not None:
            variance = total.difference.variance
            assert variance is not None  # n >= min_n >= 2
            return total.difference.mean, variance / total.difference.n
        champion, challenger = total.champion.variance, total.challenger.variance
        assert champion is not None
        assert challenger is not None
        return (total.challenger.mean - total.champion.mean,
                champion / total.champion.n + challenger / total.challenger.n)

    def decision(self) -> SequentialResult:
        """The decision and evidence as of the latest look (frozen once decided)."""
        total = self._total
        champion_n, challenger_n = total.champion.n, total.challenger.n
        champion_mean = total.champion.mean if champion_n else None
        challenger_mean = total.challenger.mean if challenger_n else None
        estimate = (None if champion_mean is None or challenger_mean is None
                    else challenger_mean - champion_mean)
        if total.difference is not None and total.difference.n:
            estimate = total.difference.mean
        low = high = None
        evidence = self._evidence()
        if evidence is not None:
            radius = mixture_radius(evidence[1], self.mde, self.alpha)
            low, high = evidence[0] - radius, evidence[0] + radius
        return SequentialResult(
            decision=self._decision, metric=self.metric, paired=self.paired,
            estimate=estimate, low=low, high=high, p_value=self._p_value,
            champion_mean=champion_mean, challenger_mean=challenger_mean,
            n_champion=champion_n, n_challenger=challenger_n, alpha=self.alpha,
            mde=self.mde, min_n=self.min_n, looks=self._looks, decided_at=self._decided_at)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe checkpoint; ``from_dict(to_dict())`` restores the exact state."""
        return {"schema_version": SCHEMA_VERSION, "kind": "sequential_test",
                "metric": self.metric, "paired": self.paired, "alpha": self.alpha,
                "mde": self.mde, "min_n": self.min_n, "looks": self._looks,
                "p_value": self._p_value, "decision": self._decision,
                "decided_at": self._decided_at, "total": self._total.to_dict()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """Rebuild from ``to_dict`` output; raise ValueError on a bad checkpoint."""
        check_checkpoint(data, SCHEMA_VERSION, ("metric", "paired", "alpha", "mde", "min_n",
                                                "looks", "p_value", "decision",
                                                "decided_at", "total"),
                         kind="sequential_test")
        test = cls(data["metric"], mde=data["mde"], alpha=data["alpha"],
                   paired=data["paired"], min_n=data["min_n"])
        total = Window.from_dict(data["total"])
        if total.paired != test.paired:
            raise ValueError("checkpoint key 'total' must match 'paired'")
        looks = check_int("looks", data["looks"], low=0)
        p_value = check_float("p_value", data["p_value"], low=0.0, high=1.0)
        decision = check_choice("decision", data["decision"], DECISIONS)
        decided_at = data["decided_at"]
        if decided_at is not None:
            check_int("decided_at", decided_at, low=1, high=looks)
        if (decided_at is None) != (decision == "inconclusive"):
            raise ValueError(f"decision {decision!r} does not match decided_at {decided_at!r}")
        if decided_at is not None and p_value > test.alpha:
            raise ValueError(f"a decided test must have p_value <= alpha, got {p_value!r}")
        test._total, test._looks, test._p_value = total, looks, p_value
        test._decision = next(d for d in DECISIONS if d == decision)
        test._decided_at = decided_at
        return test
