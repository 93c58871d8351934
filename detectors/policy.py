"""The verdict policy: when a feature counts as drifted, and how badly.

A monitor judges every window of every model, forever, so the default verdict,
``budget``, is built from a false-alarm budget rather than a per-test level
(``docs/statistics.md``). A column drifts only when all four hold:

1. **the reference is large enough**: at least ``min_reference_rows`` rows
   (10,000). A window compared with a smaller reference shares that
   reference's sampling error with every later window; until the reference
   holds that much the whole window is ``insufficient_data``;
2. **both samples hold** at least ``min_samples`` (100) usable values;
3. **the change is beyond chance under the budget**: its p-value (two-sample
   KS for numeric columns, exact or asymptotic as scipy's; chi-square for
   categorical ones, over categories pooled so that every expected count is at
   least 5), multiplied by the number of columns tested in the window
   (Bonferroni), is below ``alpha``, the probability that a window with no
   drift at all is flagged. Its default, ``DEFAULT_WINDOW_ALPHA``, is one
   false drift window per 30 days of 5-minute windows; the stream derives it
   from ``false_alarms`` per ``false_alarm_period`` at the model's window size.
   Both samples' sizes enter the test, so the critical value shrinks as the
   windows and the reference grow;
4. **the change is large enough to matter**: its effect reaches the ``warn``
   threshold of the effect statistic. By default the Wasserstein distance in
   reference standard deviations for numeric columns (0.1: a 0.2σ shift of the
   mean, σ ×1.25 and an exponential scale ×1.25 are all 0.2 or more, while a
   0.05σ shift is 0.05) and the Hellinger distance for categorical ones (0.05:
   one category's share moving 10 points out of 20 is about 0.08, 2 points
   about 0.017). Without it, a large window flags any shift at all.

A window of fewer than ``pool_below_rows`` (10,000) events that follows other
windows of the same reference is judged twice: alone, and pooled with the
``pool_windows - 1`` (2) windows before it (``detectors.pooling``). Each test
gets half of ``alpha`` (Bonferroni over the two), both must pass condition 4,
and the column drifts when either flags it.

The ``classic`` verdict (``DriftPolicy.of("classic")``) is the rule of a
one-off comparison: effect ≥ ``warn`` of PSI (0.1), Benjamini–Hochberg
corrected p-value below ``alpha`` = 0.05, no reference minimum, no pooling. Repeated on
every window it flags healthy windows often at small sizes (5 % per test), and
PSI's upward bias of about ``(bins - 1)(1/n + 1/m)`` makes a fixed threshold a
size-dependent test.

A column below a minimum size gets the severity ``insufficient_data`` (never
NaN, never a silent "no drift") and stays out of the correction and of the
drifted share. A drifted column is ``critical`` when the effect also reaches the
``critical`` threshold, ``warn`` otherwise; an undrifted column is ``none``.

The model-level verdict: ``drift_share`` is the share of drifted columns among
the evaluated *feature* columns, and the dataset drifts when it reaches
``drift_share_threshold`` (0.5). Prediction columns (the model's prediction and
score) are judged by the same rules and reported as prediction drift; target
columns (the label, where the reference has it) likewise, as target drift.
Prediction and target columns share the correction with the features but not
the drifted share.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

from detectors._checks import check_choice, check_float, check_int
from detectors.catalogue import names, statistics
from detectors.stats import PSI_EPSILON, KSMethod

Severity = Literal["none", "warn", "critical", "insufficient_data"]
Verdict = Literal["budget", "classic"]
Correction = Literal["bonferroni", "bh", "none"]
VERDICTS = ("budget", "classic")

# One false drift window per 30 days of 5-minute windows.
DEFAULT_WINDOW_ALPHA = 300.0 / (30 * 86400.0)
DEFAULT_MIN_REFERENCE_ROWS = 10_000
DEFAULT_POOL_WINDOWS = 3
DEFAULT_POOL_BELOW_ROWS = 10_000

# The effect statistics and their default (warn, critical), from detectors/catalogue.py.
NUMERIC_EFFECTS = names(statistics(kind="numeric", effect=True))
CATEGORICAL_EFFECTS = names(statistics(kind="categorical", effect=True))

DEFAULT_THRESHOLDS: Mapping[str, tuple[float, float]] = MappingProxyType(
    {s.name: s.thresholds for s in statistics(effect=True) if s.thresholds is not None}
)

# What ``DriftPolicy.of("classic")`` sets unless given: the one-off comparison's rule.
CLASSIC: Mapping[str, object] = MappingProxyType({
    "alpha": 0.05, "correction": "bh", "numeric_effect": "psi", "categorical_effect": "psi",
    "min_reference_rows": 0, "pool_windows": 1})


def window_alpha(false_alarms: float, period: float, window: float) -> float:
    """The probability a healthy window may be flagged so that ``false_alarms`` windows
    are flagged per ``period`` seconds of ``window``-second windows (both in seconds).

    >>> round(window_alpha(1, 30 * 86400, 300), 8)
    0.00011574
    >>> window_alpha(1, 30 * 86400, 300) == DEFAULT_WINDOW_ALPHA
    True
    """
    check_float("false_alarms", false_alarms, low=0.0, low_open=True)
    check_float("period", period, low=0.0, low_open=True)
    check_float("window", window, low=0.0, low_open=True)
    return min(false_alarms * window / period, 0.5)


@dataclass(frozen=True)
class DriftPolicy:
    """Every threshold of the verdict, with its default (see the module docstring)."""

    verdict: Verdict = "budget"
    alpha: float = DEFAULT_WINDOW_ALPHA
    min_samples: int = 100
    min_reference_rows: int = DEFAULT_MIN_REFERENCE_ROWS
    numeric_effect: str = "wasserstein"
    categorical_effect: str = "hellinger"
    thresholds: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    drift_share_threshold: float = 0.5
    correction: Correction = "bonferroni"
    ks_method: KSMethod = "auto"
    psi_epsilon: float = PSI_EPSILON
    # Evidence across windows (``detectors.pooling``): a window of fewer than
    # ``pool_below_rows`` events is also tested pooled with the windows before it,
    # ``pool_windows`` in all; 1 tests every window alone.
    pool_windows: int = DEFAULT_POOL_WINDOWS
    pool_below_rows: int = DEFAULT_POOL_BELOW_ROWS

    @classmethod
    def of(cls, verdict: str, **given: object) -> DriftPolicy:
        """A policy of ``verdict`` with its own defaults for whatever is not ``given``."""
        check_choice("verdict", verdict, VERDICTS)
        defaults = dict(CLASSIC) if verdict == "classic" else {}
        return cls(verdict=verdict, **{**defaults, **given})  # type: ignore[arg-type]

    def __post_init__(self) -> None:
        check_choice("verdict", self.verdict, VERDICTS)
        check_float("alpha", self.alpha, low=0.0, high=1.0, low_open=True, high_open=True)
        check_int("min_samples", self.min_samples, low=1)
        check_int("min_reference_rows", self.min_reference_rows, low=0)
        check_choice("numeric_effect", self.numeric_effect, NUMERIC_EFFECTS)
        check_choice("categorical_effect", self.categorical_effect, CATEGORICAL_EFFECTS)
        check_float("drift_share_threshold", self.drift_share_threshold, low=0.0, high=1.0,
                    low_open=True)
        check_choice("correction", self.correction, ("bonferroni", "bh", "none"))
        check_choice("ks_method", self.ks_method, ("auto", "exact", "asymp"))
        check_float("psi_epsilon", self.psi_epsilon, low=0.0, high=1.0, low_open=True,
                    high_open=True)
        check_int("pool_windows", self.pool_windows, low=1)
        check_int("pool_below_rows", self.pool_below_rows, low=0)
        merged = dict(DEFAULT_THRESHOLDS)
        for name, pair in self.thresholds.items():
            check_choice("thresholds", name, tuple(DEFAULT_THRESHOLDS))
            warn = check_float(f"thresholds.{name}.warn", pair[0], low=0.0, low_open=True)
            critical = check_float(f"thresholds.{name}.critical", pair[1], low=warn)
            merged[name] = (warn, critical)
        object.__setattr__(self, "thresholds", MappingProxyType(merged))

    def effect_for(self, kind: str) -> str:
        return self.numeric_effect if kind == "numeric" else self.categorical_effect

    def severity(
        self, effect: str, value: float, adjusted_pvalue: float, sufficient: bool
    ) -> Severity:
        """The severity of one column; drifted means ``warn`` or ``critical``."""
        if not sufficient:
            return "insufficient_data"
        warn, critical = self.thresholds[effect]
        if value < warn or adjusted_pvalue >= self.alpha:
            return "none"
        return "critical" if value >= critical else "warn"

    def to_dict(self) -> dict[str, object]:
        return {
            "verdict": self.verdict,
            "alpha": self.alpha,
            "min_samples": self.min_samples,
            "min_reference_rows": self.min_reference_rows,
            "numeric_effect": self.numeric_effect,
            "categorical_effect": self.categorical_effect,
            "thresholds": {k: {"warn": w, "critical": c} for k, (w, c) in self.thresholds.items()},
            "drift_share_threshold": self.drift_share_threshold,
            "correction": self.correction,
            "ks_method": self.ks_method,
            "psi_epsilon": self.psi_epsilon,
            "pool_windows": self.pool_windows,
            "pool_below_rows": self.pool_below_rows,
        }
