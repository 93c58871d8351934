"""Late labels end to end: real embedded broker, real PostgreSQL, a worker in its own process.

One partition per topic and labels produced in prediction order, so no outcome comes
behind one already fed to the detector even with ``detector_delay: 0s``, and the
detector's positions (errors in event-time order) can be checked offline.
"""

from __future__ import annotations

import json
import math
import signal
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from sklearn import metrics as skm

from detectors.online import make_detector
from store.engine import make_engine
from store.performance import list_detections, list_performance
from streams.cli.main import main
from streams.config.performance import PerformanceSettings
from streams.devtools.broker import EmbeddedBroker
from tests.integration.event_stream import produce
from tests.integration.sea_stream import iso, sea_stream
from tests.integration.worker_harness import WINDOW, Worker, wait_for

pytestmark = pytest.mark.integration


@pytest.fixture
def start(tmp_path: Path, broker: EmbeddedBroker, database_url: str) -> Iterator[Any]:
    """Start a worker with one partition per topic and the label settings of these tests."""
    workers: list[Worker] = []

    def run(ttl: float = 7 * 86400) -> Worker:
        worker = Worker(tmp_path, broker, database_url, idle=2, grace=5, partitions=1,
                        extra=f"labels: {{prediction_ttl: {ttl}s, early_label_hold: 1h}}\n",
                        model="    performance: {calibration_rows: 200, detector_delay: 0s}\n")
        workers.append(worker)
        worker.start()
        return worker

    yield run
    for worker in workers:
        worker.stop(signal.SIGKILL)


def test_concept_change_detected_where_river_detects_it_and_metrics_equal_sklearn(
        start: Any, broker: EmbeddedBroker, database_url: str) -> None:
    n, change = 6000, 3000
    t0 = math.floor((datetime.now(UTC) - timedelta(hours=3)).timestamp() / WINDOW) * WINDOW
    predictions, labels = sea_stream(n, change, t0)
    worker = start()
    topics = worker.settings.topics
    produce(broker.bootstrap, topics.predictions, predictions)
    wait_for(lambda: worker.metric("driftline_pending_predictions", model="sea") == n, 90,
             "every prediction to wait for its label")
    produce(broker.bootstrap, topics.labels, labels)
    wait_for(lambda: worker.metric("driftline_labels_total", model="sea", outcome="joined")
             == n, 90, "every label to join")
    engine = make_engine(database_url)

    def stored() -> list[dict[str, Any]]:
        with engine.connect() as conn:
            return list_performance(conn, "sea")
    wait_for(lambda: sum(r["n_labels"] for r in stored()) == n, 60, "performance rows")
    # The detector, offline, on the error sequence in event-time order (the last error
    # waits for a later prediction: with detector_delay 0s only earlier ones are final).
    errors = [int(p["prediction"] != lab["label"]) for p, lab in zip(predictions, labels,
                                                                      strict=True)]
    assert np.mean(errors[:change]) < 0.08 < 0.12 < np.mean(errors[change:])
    # The worker's default detector offline: the worker adds no delay in rows to it.
    service = make_detector("adwin", **PerformanceSettings().detector_params)
    offline = service.update_many(errors[:-1])
    with engine.connect() as conn:
        detections = list_detections(conn, "sea")
    assert offline
    assert min(offline) >= change
    assert [d["position"] for d in detections] == offline
    assert all(d["detector"] == "ADWIN" for d in detections)
    first = detections[0]
    assert first["event_time"] == datetime.fromtimestamp(t0 + offline[0] * 0.05, UTC)
    assert worker.metric("driftline_concept_drift_detections_total", model="sea") == len(offline)
    # Metrics per window equal scikit-learn's on the same joined rows.
    rows = stored()
    assert len(rows) == math.ceil(n * 0.05 / WINDOW)
    for row in rows:
        lo = row["window_start"].timestamp()
        index = [i for i in range(n) if lo <= t0 + i * 0.05 < lo + WINDOW]
        y = np.array([labels[i]["label"] for i in index])
        pred = np.array([predictions[i]["prediction"] for i in index])
        score = np.array([predictions[i]["score"] for i in index])
        m = row["metrics"]
        assert row["n_labels"] == m["n"] == len(index)
        assert m["accuracy"] == pytest.approx(skm.accuracy_score(y, pred), abs=1e-12)
        assert m["precision"] == pytest.approx(skm.precision_score(y, pred), abs=1e-12)
        assert m["recall"] == pytest.approx(skm.recall_score(y, pred), abs=1e-12)
        assert m["f1"] == pytest.approx(skm.f1_score(y, pred), abs=1e-12)
        assert m["log_loss"] == pytest.approx(skm.log_loss(y, score, labels=[0, 1]), rel=1e-9)
        assert abs(m["roc_auc"] - skm.roc_auc_score(y, score)) <= m["roc_auc_error_bound"]
        assert m["base_rate"] == pytest.approx(y.mean(), abs=1e-12)
        assert row["label_coverage"] == pytest.approx(1.0)
        assert 29.9 <= row["latency_p50"] <= 30.1
    engine.dispose()
    # The same through the command line, in JSON.
    runner = CliRunner()
    shown = runner.invoke(main, ["detections", "sea", "--format", "json", "--database",
                                 database_url])
    assert shown.exit_code == 0, shown.output
    assert [(d["detector"], d["position"]) for d in json.loads(shown.output)] == [
        ("ADWIN", p) for p in offline]
    assert all(d["event_time"].endswith("Z") for d in json.loads(shown.output))
    listed = runner.invoke(main, ["windows", "sea", "--format", "json", "--database",
                                  database_url])
    assert listed.exit_code == 0, listed.output
    windows = json.loads(listed.output)
    assert windows
    assert [w["performance"]["n_labels"] for w in windows] == [r["n_labels"] for r in rows]
    assert all(w["performance"]["label_coverage"] == pytest.approx(1.0) for w in windows)
    assert windows[0]["performance"]["metrics"]["accuracy"] == rows[0]["metrics"]["accuracy"]
    assert all("performance_estimate" in w for w in windows)


def test_late_duplicate_missing_and_early_labels_are_each_handled_and_counted(
        start: Any, broker: EmbeddedBroker, database_url: str) -> None:
    t0 = math.floor((datetime.now(UTC) - timedelta(hours=3)).timestamp() / WINDOW) * WINDOW
    n = 2400  # 0.1 s apart: four windows of 600
    predictions, labels = [], []
    for i in range(n):
        t = t0 + i * 0.1
        predictions.append({"event_id": f"e{i}", "model_id": "late", "event_time": iso(t),
                            "prediction_id": f"q{i}", "features": {"x": float(i % 7)},
                            "prediction": i % 2, "score": 0.8 if i % 2 else 0.2})
        labels.append({"prediction_id": f"q{i}", "model_id": "late", "label": (i // 2) % 2,
                       "event_time": iso(t + 5)})
    worker = start(ttl=100)
    topics = worker.settings.topics
    early = labels[:100]  # labels before their predictions
    produce(broker.bootstrap, topics.labels, early)
    produce(broker.bootstrap, topics.predictions, predictions)
    on_time = labels[100:1500] + labels[100:200]  # 100 duplicates
    produce(broker.bootstrap, topics.labels, on_time)
    wait_for(lambda: worker.metric("driftline_labels_total", model="late", outcome="joined")
             == 1500, 90, "early and on-time labels to join")
    assert worker.metric("driftline_labels_total", model="late", outcome="duplicate") == 100
    engine = make_engine(database_url)

    def rows() -> list[dict[str, Any]]:
        with engine.connect() as conn:
            return list_performance(conn, "late")
    wait_for(lambda: sum(r["n_labels"] for r in rows()) == 1500, 60, "performance rows")
    wait_for(lambda: all(r["n_predictions"] == 600 for r in rows()), 60, "drift windows")
    before = rows()
    assert [r["n_labels"] for r in before] == [600, 600, 300]
    # Late labels, after the drift windows closed: the third window is re-finalised.
    produce(broker.bootstrap, topics.labels, [labels[i] for i in range(1500, 2400) if i % 3 == 0])
    wait_for(lambda: sum(r["n_labels"] for r in rows()) == 1800, 60, "late labels stored")
    after = rows()
    assert [r["n_labels"] for r in after] == [600, 600, 400, 200]  # never a second row
    assert [r["revision"] for r in after[:2]] == [r["revision"] for r in before[:2]]
    assert after[2]["revision"] > before[2]["revision"]
    assert after[2]["label_coverage"] == pytest.approx(400 / 600)
    # The predictions without a label expire once the label watermark passes them + TTL.
    produce(broker.bootstrap, topics.labels, [{"prediction_id": "none", "model_id": "late",
                                               "label": 1,
                                               "event_time": iso(t0 + n * 0.1 + 300)}])
    wait_for(lambda: worker.metric("driftline_labels_total", model="late", outcome="expired")
             == 600, 60, "unlabelled predictions to expire")
    wait_for(lambda: worker.metric("driftline_pending_predictions", model="late") == 0, 30,
             "no prediction left pending")
    engine.dispose()
