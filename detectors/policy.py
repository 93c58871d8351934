"""The verdict policy: when a feature counts as drifted, and how badly.

A feature drifts only when all three hold:

1. its effect size reaches the ``warn`` threshold of the policy's effect
   statistic (PSI by default: 0.1 warn, 0.25 critical);
2. its p-value, corrected with Benjamini–Hochberg across the window's tested
   columns, is below ``alpha`` (0.05) — KS for numeric columns, chi-square for
   categorical ones;
3. both samples hold at least ``min_samples`` (100) usable values.

A column below the minimum size gets the severity ``insufficient_data`` (never
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

Requiring an effect size is what keeps large windows calm: with 100k rows a KS
test rejects for shifts far too small to matter, but PSI does not grow with the
sample size.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

from detectors._checks import check_choice, check_float, check_int
from detectors.stats import PSI_EPSILON, KSMethod

Severity = Literal["none", "warn", "critical", "insufficient_data"]

NUMERIC_EFFECTS = ("psi", "wasserstein", "ks_statistic", "js_distance", "hellinger")
CATEGORICAL_EFFECTS = ("psi", "js_distance", "hellinger")

DEFAULT_THRESHOLDS: Mapping[str, tuple[float, float]] = MappingProxyType(
    {
        "psi": (0.1, 0.25),
        "wasserstein": (0.1, 0.25),  # in reference standard deviations
        "ks_statistic": (0.1, 0.2),
        "js_distance": (0.1, 0.2),
        "hellinger": (0.1, 0.2),
    }
)


@dataclass(frozen=True)
class DriftPolicy:
    """Every threshold of the verdict, with its default (see the module docstring)."""

    alpha: float = 0.05
    min_samples: int = 100
    numeric_effect: str = "psi"
    categorical_effect: str = "psi"
    thresholds: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    drift_share_threshold: float = 0.5
    correction: Literal["bh", "none"] = "bh"
    ks_method: KSMethod = "auto"
    psi_epsilon: float = PSI_EPSILON

    def __post_init__(self) -> None:
        check_float("alpha", self.alpha, low=0.0, high=1.0, low_open=True, high_open=True)
        check_int("min_samples", self.min_samples, low=1)
        check_choice("numeric_effect", self.numeric_effect, NUMERIC_EFFECTS)
        check_choice("categorical_effect", self.categorical_effect, CATEGORICAL_EFFECTS)
        check_float("drift_share_threshold", self.drift_share_threshold, low=0.0, high=1.0,
                    low_open=True)
        check_choice("correction", self.correction, ("bh", "none"))
        check_choice("ks_method", self.ks_method, ("auto", "exact", "asymp"))
        check_float("psi_epsilon", self.psi_epsilon, low=0.0, high=1.0, low_open=True,
                    high_open=True)
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
            "alpha": self.alpha,
            "min_samples": self.min_samples,
            "numeric_effect": self.numeric_effect,
            "categorical_effect": self.categorical_effect,
            "thresholds": {k: {"warn": w, "critical": c} for k, (w, c) in self.thresholds.items()},
            "drift_share_threshold": self.drift_share_threshold,
            "correction": self.correction,
            "ks_method": self.ks_method,
            "psi_epsilon": self.psi_epsilon,
        }
