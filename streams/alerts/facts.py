"""What alert rules see of a window: ``WindowFacts`` built from the stored results.

- ``drift_facts``: a window closed by the ingest (its drift report, late and
  invalid events, and the performance estimate made at the close).
- ``performance_facts``: a window's realised performance, judged once its
  labels are in: when the newest labelled prediction of the model is
  ``performance.alert_after`` later than the window's end (event time).

Invalid events have no trustworthy event time, so they are attributed to the
first window of their model (the message key) that closes after them; the count
lives in memory, so a restart forgets the invalid events of windows still open.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from alerting.model import FeatureFacts, WindowFacts
from streams.ingest.closing import Finalised

ESTIMATED = ("accuracy", "precision", "recall", "f1", "roc_auc")


def _utc(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def drift_facts(done: Finalised, n_invalid: int,
                estimate: Mapping[str, Any] | None) -> WindowFacts:
    closed, report = done.closed, done.report
    features = tuple(FeatureFacts(
        name=c.name, drifted=c.drifted,
        severity=c.severity if c.severity in ("warn", "critical") else "none",
        psi=c.psi, ks_statistic=c.ks_statistic, ks_pvalue=c.ks_pvalue,
        js_distance=c.js_distance, wasserstein=c.wasserstein, missing_rate=c.missing_rate,
        effect_statistic=c.effect_statistic, effect_value=c.effect_value)
        for c in report.features)
    numbers = {name: estimate.get(name) for name in ESTIMATED} if estimate else {}
    return WindowFacts(
        source="drift", model_id=closed.model_id, model_version=closed.model_version,
        window_start=_utc(closed.window.start), window_end=_utc(closed.window.end),
        n_events=closed.window.n_events, n_late=closed.n_late, n_invalid=n_invalid,
        drift_share=report.drift_share, dataset_drift=report.dataset_drift,
        n_drifted=report.n_drifted, features=features,
        estimate={k: float(v) for k, v in numbers.items() if isinstance(v, int | float)})


def performance_facts(model_id: str, version: str, start: float, end: float,
                      metrics: Mapping[str, Any], label_coverage: float | None,
                      detections: int) -> WindowFacts:
    values = {k: float(v) for k, v in metrics.items()
              if isinstance(v, int | float) and not isinstance(v, bool) and k != "n"}
    return WindowFacts(
        source="performance", model_id=model_id, model_version=version,
        window_start=_utc(start), window_end=_utc(end), performance=values,
        label_coverage=label_coverage, concept_detections=detections)
