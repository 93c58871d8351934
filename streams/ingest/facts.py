"""What alert rules see of a window closed by the ingest: ``drift_facts``.

The facts hold the window's drift report (each feature's alert statistics, from
the catalogue in ``detectors/catalogue.py``), its late and invalid events, and
the performance estimate made at the close (the catalogue's estimated metrics).

Invalid events have no trustworthy event time, so they are attributed to the
first window of their model (the message key) that closes after them; the count
lives in memory, so a restart forgets the invalid events of windows still open.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from alerting.model import FeatureFacts, WindowFacts
from detectors.catalogue import ESTIMATED_METRICS, statistics
from detectors.verdict import ColumnDrift
from streams.ingest.closing import Finalised


def _utc(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def feature_facts(column: ColumnDrift) -> FeatureFacts:
    """One feature of the report as rules see it."""
    return FeatureFacts(
        name=column.name, drifted=column.drifted,
        severity=column.severity if column.severity in ("warn", "critical") else "none",
        statistics={s.name: getattr(column, s.name) for s in statistics(alerts=True)},
        missing_rate=column.missing_rate, effect_statistic=column.effect_statistic,
        effect_value=column.effect_value)


def drift_facts(done: Finalised, n_invalid: int,
                estimate: Mapping[str, Any] | None) -> WindowFacts:
    closed, report = done.closed, done.report
    numbers = {name: estimate.get(name) for name in ESTIMATED_METRICS} if estimate else {}
    return WindowFacts(
        source="drift", model_id=closed.model_id, model_version=closed.model_version,
        window_start=_utc(closed.window.start), window_end=_utc(closed.window.end),
        n_events=closed.window.n_events, n_late=closed.n_late, n_invalid=n_invalid,
        drift_share=report.drift_share, dataset_drift=report.dataset_drift,
        n_drifted=report.n_drifted, features=tuple(feature_facts(c) for c in report.features),
        estimate={k: float(v) for k, v in numbers.items() if isinstance(v, int | float)})
