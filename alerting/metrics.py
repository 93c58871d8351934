"""The catalogue of metrics an alert rule may watch, and how each is read from the facts.

Every metric has a source: ``"drift"`` (facts of a window closed by the ingest),
``"performance"`` (facts of a window's realised performance) or ``"silence"``
(the no-data timer, driven by the clock, not by facts). ``feature.*`` metrics
are read per feature, so a rule on one has one alert instance per feature; the
others have one instance per (model, version), with feature ``""``.

Decided here:

- Boolean metrics (``feature.drifted``, ``dataset_drift``) read as 1.0 / 0.0 and
  take no threshold: true is a breach.
- ``estimate.*`` (the confidence-based estimate of a classifier's performance)
  is made when the window closes, before its labels, so its source is
  ``"drift"``: that is the point of an estimate.
- ``concept_drift`` is the number of concept-drift detections of the window; a
  rule without a threshold on it breaches when it is above 0.
- A value that is None or NaN is "unknown": the state machine leaves the
  instance as it is.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from alerting.model import FeatureFacts, WindowFacts
from detectors import catalogue

Source = Literal["drift", "performance", "silence"]
PERFORMANCE_METRICS = catalogue.PERFORMANCE_METRICS
ESTIMATE_METRICS = catalogue.ESTIMATED_METRICS


@dataclass(frozen=True)
class Metric:
    """One entry of the catalogue."""

    name: str
    source: Source
    per_feature: bool = False
    boolean: bool = False
    default_above: float | None = None  # the threshold when a rule gives none


# The per-feature metrics that are not catalogue statistics, and the fields they read.
OTHER_FEATURE_FIELDS = {"feature.missing_rate": "missing_rate", "feature.effect": "effect_value"}


def feature_metrics() -> dict[str, str]:
    """Every ``feature.*`` metric with a value, and the statistic or field it reads: the
    catalogue's alert statistics (``detectors/catalogue.py``), then the others."""
    return {**{s.rule_metric: s.name for s in catalogue.statistics(alerts=True)},
            **OTHER_FEATURE_FIELDS}


def _catalogue() -> dict[str, Metric]:
    metrics = [Metric("feature.drifted", "drift", per_feature=True, boolean=True,
                      default_above=0.0)]
    metrics += [Metric(name, "drift", per_feature=True) for name in feature_metrics()]
    metrics += [Metric(name, "drift") for name in
                ("drift_share", "n_drifted", "invalid_rate", "late_rate")]
    metrics.append(Metric("dataset_drift", "drift", boolean=True, default_above=0.0))
    metrics += [Metric(f"performance.{name}", "performance") for name in PERFORMANCE_METRICS]
    metrics += [Metric(f"estimate.{name}", "drift") for name in ESTIMATE_METRICS]
    metrics.append(Metric("label_coverage", "performance"))
    metrics.append(Metric("concept_drift", "performance", default_above=0.0))
    metrics.append(Metric("no_data", "silence"))
    return {metric.name: metric for metric in metrics}


METRICS: dict[str, Metric] = _catalogue()


def _known(value: float | int | bool | None) -> float | None:
    if value is None:
        return None
    number = float(value)
    return None if math.isnan(number) else number


def feature_value(metric: str, feature: FeatureFacts) -> float | None:
    """The value of a ``feature.*`` metric for one feature (None when unknown)."""
    if metric == "feature.drifted":
        return _known(feature.drifted)
    name = feature_metrics()[metric]
    if name in OTHER_FEATURE_FIELDS.values():
        value: float | None = getattr(feature, name)
        return _known(value)
    return _known(feature.statistic(name))


_WINDOW_READERS: dict[str, Callable[[WindowFacts], float | int | bool | None]] = {
    "drift_share": lambda facts: facts.drift_share,
    "n_drifted": lambda facts: facts.n_drifted,
    "dataset_drift": lambda facts: facts.dataset_drift,
    "invalid_rate": lambda facts: facts.invalid_rate,
    "late_rate": lambda facts: facts.late_rate,
    "label_coverage": lambda facts: facts.label_coverage,
    "concept_drift": lambda facts: facts.concept_detections,
}


def window_value(metric: str, facts: WindowFacts) -> float | None:
    """The value of a metric that is not per feature (None when unknown)."""
    family, _, name = metric.partition(".")
    if family == "performance":
        return _known(facts.performance.get(name))
    if family == "estimate":
        return _known(facts.estimate.get(name))
    return _known(_WINDOW_READERS[metric](facts))
