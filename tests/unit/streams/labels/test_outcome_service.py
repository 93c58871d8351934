"""The outcome consumer judges a window's performance rules once the detector has seen it."""

from __future__ import annotations

import math
import time
from pathlib import Path

from prometheus_client import CollectorRegistry
from sqlalchemy.engine import Engine

from store.alerts import list_transitions
from store.performance import list_detections
from streams.config.settings import load_settings
from streams.labels.join import Outcome
from streams.labels.outcome_service import OutcomeService
from streams.runtime.metrics import Metrics
from tests.unit.streams.labels.outcome_consumer import Consumer

CONFIG = """\
topics: {partitions: 1}  # every outcome below comes from join partition 0
models:
  default:
    performance: {alert_after: 0s, detector_delay: 600s}
alerting:
  receivers:
    hook: {type: webhook, url: "http://127.0.0.1:9/alerts", signing_secret: "whsec_dGVzdC1rZXk="}
  rules:
    - {name: concept, metric: concept_drift, severity: warning, receivers: [hook]}
"""




# Two hours ago on a window boundary: alert rules judge live windows only (a window that
# ended before ingest.max_past holds backfill events and pages no one).
BASE = math.floor((time.time() - 7200) / 300) * 300


def outcomes(start: float, wrong: bool) -> list[Outcome]:
    """Four labelled predictions a second over one 300 s window, all right or all wrong."""
    return [Outcome("fraud", "1", f"p{start + i / 4}", start + i / 4, start + i / 4 + 5, 1, 0.9,
                    0 if wrong else 1, 5.0) for i in range(1200)]


def test_a_window_is_judged_once_its_errors_were_fed_so_its_detection_alerts(
        tmp_path: Path, engine: Engine) -> None:
    path = tmp_path / "driftline.yaml"
    path.write_text(CONFIG, encoding="utf-8")
    consumer = Consumer(engine)
    consumer.service = OutcomeService(load_settings(path, {}), engine,
                                      Metrics(CollectorRegistry()), "outcomes")
    consumer.service.restore_state(0, None)
    # Right until 600 s, wrong from then on: ADWIN fires in the window [600, 900).
    for offset in (0.0, 300.0, 600.0, 900.0, 1200.0, 1500.0):
        consumer.feed(outcomes(BASE + offset, wrong=offset >= 600.0))
        consumer.checkpoint()
    with engine.connect() as conn:
        detections = list_detections(conn, "fraud")
        transitions = list_transitions(conn, "fraud")
    assert [600.0 <= d["event_time"].timestamp() - BASE < 900.0 for d in detections] == [True]
    # Judged when the newest labelled prediction passed 900 + 600 s, not at 900 s (when
    # its errors still waited and it would have been judged without its detection).
    assert [(t["status"], t["window_start"].timestamp() - BASE) for t in transitions] == [
        ("firing", 600.0)]
