"""What alert rules see of a window's realised performance: ``performance_facts``.

A window is judged once its labels are in: when the newest labelled prediction
of the model is ``performance.alert_after`` later than the window's end (event
time). The facts hold its performance metrics (every number but the count
``n``), its label coverage and the concept-drift detections of the window.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from alerting.model import WindowFacts


def _utc(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def performance_facts(model_id: str, version: str, start: float, end: float,
                      metrics: Mapping[str, Any], label_coverage: float | None,
                      detections: int) -> WindowFacts:
    values = {k: float(v) for k, v in metrics.items()
              if isinstance(v, int | float) and not isinstance(v, bool) and k != "n"}
    return WindowFacts(
        source="performance", model_id=model_id, model_version=version,
        window_start=_utc(start), window_end=_utc(end), performance=values,
        label_coverage=label_coverage, concept_detections=detections)
