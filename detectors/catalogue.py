"""The catalogue of drift statistics and of performance metrics: one entry each.

Everything that lists statistics reads ``DRIFT_STATISTICS`` instead of naming
them again: the policy's effect choices and default thresholds
(``detectors/policy.py``), the bin-count statistics of a window and the
kind-specific keys of the report (``detectors/verdict.py``), the
``feature_stats`` columns (``store/tables.py``), the worker's
``driftline_feature_statistic{statistic}`` series
(``streams/runtime/metrics.py``), the alert facts (``FeatureFacts.statistics``,
built in ``streams/ingest/facts.py``), the rule metrics ``feature.<name>``
(``alerting/metrics.py``), the alert evidence (``alerting/evidence.py``) and the
feature lines of Slack messages (``alerting/slack.py``); PagerDuty, webhooks and
the retrain topic carry the same evidence.

Likewise ``PERFORMANCE_METRICS`` is the one list of performance metrics, and
``ESTIMATED_METRICS`` the names the confidence-based estimate has too: rule
metrics ``performance.<name>`` and ``estimate.<name>``, the estimate in the
alert facts, the ``driftline_model_performance{metric="estimated_<name>"}``
series, the dashboards and the ``compare`` table read them.

Decided here:

- An entry's ``name`` is everything at once: the ``ColumnDrift`` attribute (and
  key of the report's JSON), the ``feature_stats`` column, the ``statistic``
  label of ``driftline_feature_statistic``, the key in ``FeatureFacts`` and in
  alert evidence, and the tail of the rule metric ``feature.<name>``. One name
  means no table of renamings to keep in step.
- The order of ``DRIFT_STATISTICS`` is the order choices are listed in (error
  messages, the configuration schema, ``--numeric-effect``), so it is part of
  the contract: add new entries at the end.
- ``thresholds`` makes a statistic eligible as the effect statistic of the
  verdict, with its default (warn, critical); ``alerts`` puts it in the alert
  facts, evidence and payloads and makes ``feature.<name>`` a rule metric;
  ``stored`` gives it a ``feature_stats`` column (which a migration must add).
  Every statistic is exported to Prometheus and kept in the report.

To add a drift statistic:

1. write its function in ``detectors/stats.py`` (a pure function of the
   reference and the window);
2. add one ``Statistic`` entry at the end of ``DRIFT_STATISTICS``; for a
   statistic of the bin counts give ``from_counts`` and the window computes it;
   any other one is computed in ``_numeric_stats``/``_categorical_stats`` of
   ``detectors/verdict.py``;
3. add its attribute to ``ColumnDrift`` (``detectors/verdict.py``, ``= None``):
   the report is a typed, documented contract (``docs/compare-json.md``);
4. only if ``stored``: a migration adding the ``feature_stats`` column;
5. regenerate the committed files that list rule metrics and effect choices
   (``make config-schema``).

Metrics, facts, rule metrics, evidence, payloads and the store's list of
columns follow. ``tests/unit/detectors/test_catalogue.py`` checks that every
consumer's list equals the catalogue's.

To add a performance metric: compute it in ``detectors/performance.py`` (and in
``detectors/estimate.py`` when it is estimated), add one ``PerformanceMetric``
entry, copy the name into ``dashboards/catalogue.py`` when the dashboards draw it
(that package imports only the standard library; a test compares the lists) and
run ``make config-schema``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from detectors.stats import hellinger, js_distance, psi

Kind = Literal["numeric", "categorical"]
BOTH: tuple[Kind, ...] = ("numeric", "categorical")

# (reference counts, current counts, psi_epsilon of the policy) -> the statistic
FromCounts = Callable[[NDArray[np.int64], NDArray[np.int64], float], float]


@dataclass(frozen=True)
class Statistic:
    """One drift statistic of a column (see the module docstring)."""

    name: str
    description: str  # one line, for people (docs, help)
    kinds: tuple[Kind, ...] = BOTH  # the column kinds it applies to
    thresholds: tuple[float, float] | None = None  # default (warn, critical) as the effect
    alerts: bool = True  # in alert facts, evidence and payloads; a rule metric
    stored: bool = True  # a feature_stats column of its own
    from_counts: FromCounts | None = None  # computed from the bin counts

    @property
    def rule_metric(self) -> str:
        """The alert rule metric that reads it per feature."""
        return f"feature.{self.name}"


DRIFT_STATISTICS: tuple[Statistic, ...] = (
    Statistic("psi", "population stability index over the reference's bins",
              thresholds=(0.1, 0.25), from_counts=psi),
    Statistic("wasserstein", "Wasserstein distance in reference standard deviations",
              kinds=("numeric",), thresholds=(0.1, 0.25)),
    Statistic("ks_statistic", "two-sample Kolmogorov–Smirnov statistic D",
              kinds=("numeric",), thresholds=(0.1, 0.2)),
    Statistic("ks_pvalue", "p-value of the two-sample Kolmogorov–Smirnov test",
              kinds=("numeric",)),
    Statistic("js_distance", "Jensen–Shannon distance (base 2) over the bins",
              thresholds=(0.1, 0.2), from_counts=lambda r, c, _: js_distance(r, c)),
    Statistic("hellinger", "Hellinger distance over the bins",
              thresholds=(0.05, 0.15), from_counts=lambda r, c, _: hellinger(r, c)),
    Statistic("chi2_statistic", "chi-square statistic of homogeneity over the categories",
              kinds=("categorical",), alerts=False),
    Statistic("chi2_pvalue", "p-value of the chi-square test of homogeneity",
              kinds=("categorical",), alerts=False),
)


def statistics(*, kind: Kind | None = None, effect: bool = False, alerts: bool = False,
               stored: bool = False, binned: bool = False) -> tuple[Statistic, ...]:
    """The entries, in catalogue order, that apply to ``kind`` (any when None) and have
    every property asked for."""
    return tuple(s for s in DRIFT_STATISTICS
                 if (kind is None or kind in s.kinds)
                 and (not effect or s.thresholds is not None)
                 and (not alerts or s.alerts)
                 and (not stored or s.stored)
                 and (not binned or s.from_counts is not None))


def names(entries: tuple[Statistic, ...]) -> tuple[str, ...]:
    return tuple(s.name for s in entries)


def only_for(kind: Kind) -> tuple[str, ...]:
    """The statistics that apply to ``kind`` and to no other kind."""
    return tuple(s.name for s in DRIFT_STATISTICS if s.kinds == (kind,))


@dataclass(frozen=True)
class PerformanceMetric:
    """One performance metric of a window with labels."""

    name: str
    task: Literal["classification", "regression"]
    estimated: bool = False  # the confidence-based estimate has it too, before labels


PERFORMANCE: tuple[PerformanceMetric, ...] = (
    PerformanceMetric("accuracy", "classification", estimated=True),
    PerformanceMetric("precision", "classification", estimated=True),
    PerformanceMetric("recall", "classification", estimated=True),
    PerformanceMetric("f1", "classification", estimated=True),
    PerformanceMetric("roc_auc", "classification", estimated=True),
    PerformanceMetric("log_loss", "classification"),
    PerformanceMetric("base_rate", "classification"),
    PerformanceMetric("mae", "regression"),
    PerformanceMetric("rmse", "regression"),
    PerformanceMetric("r2", "regression"),
)

PERFORMANCE_METRICS: tuple[str, ...] = tuple(m.name for m in PERFORMANCE)
ESTIMATED_METRICS: tuple[str, ...] = tuple(m.name for m in PERFORMANCE if m.estimated)
REGRESSION_METRICS: tuple[str, ...] = tuple(m.name for m in PERFORMANCE
                                            if m.task == "regression")
