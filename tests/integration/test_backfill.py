"""A month of history backfilled end to end: embedded broker, SQLite, a worker process.

``driftline backfill`` sends a month-old stream of predictions (with a data drift)
and their labels (with a concept change); the worker must store every window with
its exact count, the performance of every window and the concept-drift detection,
as it would have live, and page no one for them.
"""

from __future__ import annotations

import json
import math
import random
import signal
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from detectors.online import make_detector
from store.engine import make_engine
from store.performance import list_detections, list_performance
from store.queries import list_windows
from store.tables import alerts, outbox, retrain_requests
from streams.cli.main import main
from streams.config.performance import PerformanceSettings
from streams.devtools.broker import EmbeddedBroker
from tests.integration.sea_stream import sea_stream
from tests.integration.worker_harness import WINDOW, Worker, wait_for

pytestmark = pytest.mark.integration
N, CHANGE, DRIFT = 6000, 3000, 3600  # 20 events a second: 1,200 a window of 60 s
STEP = 0.05
# Rules the backfill breaches (amount's PSI, the concept change): history must not page.
ALERTING = """\
alerting:
  receivers: {slack: {type: slack, url: "http://127.0.0.1:9/slack", timeout: 1s}}
  rules:
    - {name: amount, metric: feature.psi, above: 0.25, receivers: [slack], retrain: true}
    - {name: concept, metric: concept_drift, receivers: [slack]}
"""


@pytest.fixture
def worker(tmp_path: Path, broker: EmbeddedBroker) -> Iterator[Worker]:
    # One partition: a backfill replays minutes of event time per second, and the join's
    # partitions would run ahead of one another by more than the detector's delay
    # (docs/backfill.md, "Known limits").
    running = Worker(tmp_path, broker, f"sqlite:///{tmp_path}/driftline.db", idle=3, grace=5,
                     partitions=1, extra=ALERTING,
                     model="    performance: {calibration_rows: 200, alert_after: 1m, "
                           "detector_delay: 30s}\n")
    try:
        yield running
    finally:
        running.stop(signal.SIGKILL)


def _seconds(moment: datetime | str) -> float:
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment.replace("Z", "+00:00"))
    return moment.timestamp()


def month_old_history(tmp_path: Path) -> tuple[Path, Path, float, list[dict[str, Any]],
                                                 list[dict[str, Any]]]:
    """Predictions (``amount`` shifts by 2σ from event DRIFT on) and labels (the concept
    changes at CHANGE), 30 days old, written as JSON Lines; the predictions out of order."""
    t0 = math.floor((datetime.now(UTC) - timedelta(days=30)).timestamp() / WINDOW) * WINDOW
    predictions, labels = sea_stream(N, CHANGE, t0)
    rng = np.random.default_rng(5)
    for i, event in enumerate(predictions):
        event["model_id"] = "fraud"
        event["features"]["amount"] = float(rng.normal(2.0 if i >= DRIFT else 0.0, 1.0))
    for label in labels:
        label["model_id"] = "fraud"
    shuffled = predictions[:]
    random.Random(1).shuffle(shuffled)  # file order is not event-time order
    pred_path, label_path = tmp_path / "predictions.jsonl", tmp_path / "labels.jsonl"
    pred_path.write_text("".join(json.dumps(e) + "\n" for e in shuffled), encoding="utf-8")
    label_path.write_text("".join(json.dumps(e) + "\n" for e in labels), encoding="utf-8")
    return pred_path, label_path, t0, predictions, labels


def test_a_month_old_backfill_stores_windows_performance_and_detections(
        worker: Worker, broker: EmbeddedBroker, tmp_path: Path) -> None:
    pred_path, label_path, t0, predictions, labels = month_old_history(tmp_path)
    worker.start()
    result = CliRunner().invoke(main, ["backfill", str(pred_path), str(label_path),
                                       "--broker", broker.url, "--config", str(worker.config)])
    assert result.exit_code == 0, result.output
    assert f"sent {2 * N:,} events as a backfill" in result.output
    assert "refused 0; not delivered 0" in result.output
    assert "out of event-time order in the file, sorted" in result.output
    engine = make_engine(worker.env["DRIFTLINE_DATABASE_URL"])
    try:
        def stored(query: Any) -> list[dict[str, Any]]:
            with engine.connect() as conn:
                return list(query(conn, "fraud"))

        wait_for(lambda: sum(w["n_events"] for w in stored(list_windows)) == N, 120,
                 "every backfilled window to be stored")
        wait_for(lambda: sum(r["n_labels"] for r in stored(list_performance)) == N, 120,
                 "the performance of every window")
        wait_for(lambda: bool(stored(list_detections)), 60, "a concept-drift detection")
        windows = stored(list_windows)
        assert [w["n_events"] for w in windows] == [1200] * 5
        assert [_seconds(w["window_start"]) for w in windows] == [
            t0 + k * WINDOW for k in range(5)]
        assert all(w["n_late"] == 0 for w in windows)
        drifted = [{f["name"] for f in w["features"] if f["drifted"]} for w in windows[1:]]
        assert drifted == [set(), set(), {"amount"}, {"amount"}]  # DRIFT is in window 3
        rows = stored(list_performance)
        assert [_seconds(r["window_start"]) for r in rows] == [t0 + k * WINDOW
                                                                for k in range(5)]
        assert [r["n_labels"] for r in rows] == [1200] * 5
        assert all(r["label_coverage"] == pytest.approx(1.0) for r in rows)
        errors = [int(p["prediction"] != lab["label"]) for p, lab in zip(predictions, labels,
                                                                          strict=True)]
        accuracy = [1 - np.mean(errors[k * 1200:(k + 1) * 1200]) for k in range(5)]
        assert [r["metrics"]["accuracy"] for r in rows] == pytest.approx(accuracy, abs=1e-12)
        # The detector saw every error in event-time order: its detections are those of
        # River's ADWIN offline on the whole error sequence, but for the last 30 s (the
        # delay) and a little more (the slowest partition's last outcome), still held.
        service = make_detector("adwin", **PerformanceSettings().detector_params)
        offline = service.update_many(errors)
        positions = [d["position"] for d in stored(list_detections)]
        assert positions == offline[:len(positions)]
        assert positions[-1:] >= [p for p in offline if p < N - 40 / STEP][-1:]
        first = stored(list_detections)[0]
        assert first["detector"] == "ADWIN"
        change_time = datetime.fromtimestamp(t0 + CHANGE * STEP, UTC)
        assert change_time <= first["event_time"] <= datetime.fromtimestamp(t0 + N * STEP, UTC)
        with engine.connect() as conn:  # stored, judged by no alert rule
            assert [conn.execute(select(func.count()).select_from(table)).scalar()
                    for table in (alerts, outbox, retrain_requests)] == [0, 0, 0]
    finally:
        engine.dispose()
    assert worker.metric("driftline_labels_total", model="fraud", outcome="joined") == N
    assert worker.metric("driftline_events_invalid_total") == 0
    assert worker.metric("driftline_late_events_total") == 0
    assert "fed to the concept-drift detector; left out of it" not in worker.log.read_text()


def test_old_events_sent_without_the_mark_are_dead_lettered_and_the_worker_says_so(
        worker: Worker, broker: EmbeddedBroker, tmp_path: Path) -> None:
    old = datetime.now(UTC) - timedelta(days=30)
    path = tmp_path / "history.jsonl"
    path.write_text("".join(json.dumps({
        "event_id": f"e{i}", "model_id": "fraud", "features": {"x": i},
        "event_time": (old + timedelta(seconds=i)).isoformat()}) + "\n" for i in range(300)))
    worker.start()
    result = CliRunner().invoke(main, ["replay", str(path), "--broker", broker.url, "--config",
                                       str(worker.config), "--send-invalid"])
    assert result.exit_code == 1, result.output
    assert "invalid, sent anyway 300 (past_timestamp 300)" in result.output
    wait_for(lambda: worker.metric("driftline_events_invalid_total",
                                   reason="past_timestamp") == 300, 60, "the dead letters")
    wait_for(lambda: "as past_timestamp" in worker.log.read_text(), 10, "the warning")
    (line,) = [line for line in worker.log.read_text().splitlines() if "as past_timestamp" in line]
    assert "WARNING" in line
    assert "predictions: dead-lettered " in line
    assert "mark it as a backfill: `driftline backfill` or `driftline replay --backfill`" in line
