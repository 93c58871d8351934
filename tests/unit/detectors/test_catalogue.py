"""The catalogue is the one list: every consumer reads it, and a new entry reaches all.

Adding a statistic should mean its function and one entry of
``detectors/catalogue.py``. These tests check each consumer's list against the
catalogue, and register an extra entry to see it reach the Prometheus series,
the alert facts, the evidence and the Slack message.
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from prometheus_client import CollectorRegistry

from alerting import metrics as rule_metrics
from alerting.evidence import drifted_feature_keys
from alerting.model import AlertEvent, FeatureFacts
from alerting.payloads import cloudevent, json_body, pagerduty
from alerting.slack import feature_stats, slack
from dashboards import catalogue as dashboard_catalogue
from detectors import ColumnDrift, DriftPolicy, catalogue, policy
from detectors.catalogue import Statistic, names, statistics
from detectors.verdict import _CATEGORICAL_ONLY, _NUMERIC_ONLY
from store.tables import STAT_COLUMNS
from store.tables import feature_stats as feature_stats_table
from streams.batch.report import PERFORMANCE_KEYS
from streams.ingest.facts import feature_facts
from streams.runtime.metrics import Metrics
from tests.unit.alerting.streams import Runner, rule
from tests.unit.alerting.streams import drift_facts as window

ALERTED = names(statistics(alerts=True))


def column(**values: object) -> ColumnDrift:
    base: dict[str, object] = {
        "name": "amount", "kind": "categorical", "role": "feature", "n_reference": 1000,
        "n_current": 1000, "n_missing": 0, "missing_rate": 0.0,
        "reference_missing_rate": 0.0, "drifted": True, "severity": "critical"}
    return ColumnDrift(**(base | values))  # type: ignore[arg-type]


def test_names_are_unique_and_columns_of_the_report() -> None:
    every = names(catalogue.DRIFT_STATISTICS)
    assert len(set(every)) == len(every)
    fields = {f.name for f in dataclasses.fields(ColumnDrift)}
    assert set(every) <= fields
    for entry in catalogue.DRIFT_STATISTICS:
        assert entry.kinds
        assert set(entry.kinds) <= {"numeric", "categorical"}


def test_policy_reads_the_catalogue() -> None:
    assert policy.NUMERIC_EFFECTS == ("psi", "wasserstein", "ks_statistic", "js_distance",
                                      "hellinger")
    assert policy.CATEGORICAL_EFFECTS == ("psi", "js_distance", "hellinger")
    assert dict(policy.DEFAULT_THRESHOLDS) == {
        s.name: s.thresholds for s in statistics(effect=True)}


def test_report_keys_of_one_kind_come_from_the_catalogue() -> None:
    assert set(catalogue.only_for("numeric")) <= set(_NUMERIC_ONLY)
    assert set(catalogue.only_for("categorical")) <= set(_CATEGORICAL_ONLY)


def test_store_columns_are_the_stored_statistics() -> None:
    stored = names(statistics(stored=True))
    assert STAT_COLUMNS[:len(stored)] == stored
    assert set(stored) <= set(feature_stats_table.c.keys())


def test_rule_metrics_are_the_alert_statistics() -> None:
    per_feature = {n for n, m in rule_metrics.METRICS.items()
                   if m.per_feature and not m.boolean}
    assert per_feature == {f"feature.{n}" for n in ALERTED} | {
        "feature.missing_rate", "feature.effect"}
    assert "feature.hellinger" in rule_metrics.METRICS
    assert "feature.chi2_pvalue" not in rule_metrics.METRICS


def test_payload_keys_are_the_alert_statistics() -> None:
    assert set(ALERTED) <= set(feature_stats())
    assert set(ALERTED) <= set(drifted_feature_keys())
    facts = FeatureFacts(name="x", drifted=False, severity="none")
    assert set(ALERTED) <= facts.to_dict().keys()


def test_performance_lists_are_the_catalogue() -> None:
    assert rule_metrics.PERFORMANCE_METRICS == catalogue.PERFORMANCE_METRICS
    assert rule_metrics.ESTIMATE_METRICS == catalogue.ESTIMATED_METRICS
    estimates = {n for n in rule_metrics.METRICS if n.startswith("estimate.")}
    assert estimates == {f"estimate.{n}" for n in catalogue.ESTIMATED_METRICS}
    assert PERFORMANCE_KEYS == catalogue.PERFORMANCE_METRICS
    assert dashboard_catalogue.CLASSIFICATION_METRICS == catalogue.ESTIMATED_METRICS
    assert dashboard_catalogue.REGRESSION_METRICS == catalogue.REGRESSION_METRICS


def _event(feature: FeatureFacts, metric: str, above: float) -> AlertEvent:
    """The firing event of a rule on ``metric`` for a window holding ``feature``."""
    (event,) = Runner(rule(metric=metric, above=above)).feed(window(0, feature))
    return event


def test_a_hellinger_effect_reaches_the_alert_facts_and_payloads() -> None:
    drift = column(hellinger=0.31, psi=0.2, js_distance=0.25,
                   effect_statistic="hellinger", effect_value=0.31)
    facts = feature_facts(drift)
    assert facts.statistic("hellinger") == 0.31
    assert rule_metrics.feature_value("feature.hellinger", facts) == 0.31
    for metric in ("feature.hellinger", "feature.effect"):
        event = _event(facts, metric, 0.15)
        assert event.evidence["feature"]["hellinger"] == 0.31
        assert event.evidence["feature"]["effect_statistic"] == "hellinger"
        assert "hellinger 0.31" in json.dumps(slack(event, None))
        assert json.loads(json_body(cloudevent(event)))["data"]["evidence"]["feature"][
            "hellinger"] == 0.31
    (event,) = Runner(rule(metric="dataset_drift")).feed(
        window(0, facts, dataset_drift=True))
    assert event.evidence["drifted_features"][0]["hellinger"] == 0.31
    assert "hellinger 0.31" in json.dumps(slack(event, None))
    details = pagerduty(event, None)["payload"]["custom_details"]
    assert details["drifted_features"][0]["hellinger"] == 0.31


def test_the_default_categorical_verdict_decides_on_hellinger() -> None:
    assert DriftPolicy().effect_for("categorical") == "hellinger"


def test_an_extra_entry_reaches_metrics_facts_evidence_and_slack(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # unseen_rate is a ColumnDrift attribute not yet in the catalogue: register it.
    extra = Statistic("unseen_rate", "share of the window in unseen categories",
                      kinds=("categorical",), stored=False)
    monkeypatch.setattr(catalogue, "DRIFT_STATISTICS", (*catalogue.DRIFT_STATISTICS, extra))
    drift = column(unseen_rate=0.125, psi=0.2)
    facts = feature_facts(drift)
    assert facts.statistic("unseen_rate") == 0.125
    assert facts.to_dict()["unseen_rate"] == 0.125
    assert "unseen_rate" in drifted_feature_keys()
    assert rule_metrics.feature_metrics()["feature.unseen_rate"] == "unseen_rate"
    assert rule_metrics.feature_value("feature.unseen_rate", facts) == 0.125
    assert "unseen_rate 0.125" in json.dumps(slack(_event(facts, "feature.psi", 0.1), None))
    registry = CollectorRegistry()
    metrics = Metrics(registry)
    report = _report(drift)
    metrics.window_closed("fraud", "3", report, 1000, 0.0)
    labels = {"model": "fraud", "version": "3", "feature": "amount",
              "statistic": "unseen_rate"}
    assert registry.get_sample_value("driftline_feature_statistic", labels) == 0.125
    metrics.retire("fraud", "3")
    assert registry.get_sample_value("driftline_feature_statistic", labels) is None


def _report(drift: ColumnDrift):  # type: ignore[no-untyped-def]
    from detectors.verdict import DriftReport
    return DriftReport(
        features=(drift,), predictions=(), targets=(), n_reference_rows=1000,
        n_current_rows=1000, n_evaluated=1, n_drifted=1, drift_share=1.0,
        dataset_drift=True, prediction_drift=None, status="drift", policy=DriftPolicy())


def test_binned_statistics_are_computed_from_the_catalogue() -> None:
    from detectors.stats import hellinger
    ref, cur = np.array([50, 30, 20]), np.array([20, 30, 50])
    (entry,) = [s for s in catalogue.DRIFT_STATISTICS if s.name == "hellinger"]
    assert entry.from_counts is not None
    assert entry.from_counts(ref, cur, 1e-4) == hellinger(ref, cur)
