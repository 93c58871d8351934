"""Alert events for the payload, config and deployer tests."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from alerting.model import AlertEvent

START = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
END = datetime(2026, 11, 22, 10, 5, tzinfo=UTC)


def feature_event(**changes: Any) -> AlertEvent:
    """A firing feature-drift event (psi of ``amount`` on fraud v7)."""
    event = AlertEvent(
        rule="psi-critical", status="firing", severity="critical", model_id="fraud",
        model_version="7", feature="amount", episode=2, metric="psi", value=0.41,
        threshold=0.25, window_start=START, window_end=END,
        started_at=datetime(2026, 11, 22, 9, 55, tzinfo=UTC),
        summary="fraud v7: feature amount psi 0.41 > 0.25 for 2 windows",
        receivers=("oncall-slack", "pagerduty"), runbook_url="https://runbooks.example/psi",
        retrain=True,
        evidence={"window_id": "fraud/7/2026-11-22T10:00:00+00:00", "metric": "psi",
                  "value": 0.41, "threshold": 0.25, "breaches": 2, "psi": 0.41,
                  "ks_statistic": 0.21, "ks_pvalue": 1.2e-6})
    return replace(event, **changes)


def model_event(**changes: Any) -> AlertEvent:
    """A firing model-level drift event with two drifted features."""
    drifted = [
        {"name": "amount", "psi": 0.41, "ks_statistic": 0.21, "ks_pvalue": 1e-6,
         "js_distance": None, "effect_statistic": "psi", "effect_value": 0.41,
         "severity": "critical"},
        {"name": "country", "psi": None, "ks_statistic": None, "ks_pvalue": None,
         "js_distance": 0.3, "effect_statistic": "js", "effect_value": 0.3,
         "severity": "warn"},
    ]
    defaults: dict[str, Any] = {
        "rule": "dataset-drift", "feature": "", "metric": "drift_share", "value": 0.6,
        "threshold": 0.5, "summary": "fraud v7: drift share 0.6 > 0.5",
        "evidence": {"window_id": "fraud/7/2026-11-22T10:00:00+00:00",
                     "metric": "drift_share", "value": 0.6, "threshold": 0.5, "breaches": 1,
                     "drift_share": 0.6, "drifted_features": drifted}}
    return feature_event(**(defaults | changes))
