"""Count windows end to end: their realised performance, label coverage and estimate.

A model ``cnt`` with ``window.count: 500`` (and an idle timeout far beyond the test,
so windows close by count only); one partition per topic; a real embedded broker,
a worker in its own process, SQLite and PostgreSQL.

1. 200 predictions and their labels: the score calibration is learnt from them
   (``calibration_rows: 200``) while the first count window is still open.
2. The other 1,800 predictions, event times slightly out of order: four count
   windows of 500 close, each estimated at its close.
3. The worker is killed and a new one takes over (its join and performance state
   come from their checkpoints); then labels for a random 70% of the 1,800, in a
   random order, each to be attributed to the count window its prediction went to.

Expected values are computed here from the events sent: window k holds the events
500k ... 500k+499 in the order produced; its bounds follow the rule of
``streams.ingest.windows`` (start: first event's time, or the previous end when later;
end: latest event time, at least 1 ms after the start).
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

from store.engine import make_engine
from store.performance import list_performance, load_calibration
from streams.cli.main import main
from streams.devtools.broker import EmbeddedBroker
from tests.integration.event_stream import produce
from tests.integration.worker_harness import Worker, wait_for

pytestmark = pytest.mark.integration
COUNT, N, N_CAL = 500, 2000, 200
MODEL = (f"    performance: {{calibration_rows: {N_CAL}}}\n"
         f"  cnt:\n    window: {{count: {COUNT}}}\n")
LABELS = "labels: {prediction_ttl: 604800s, early_label_hold: 1h}\n"


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat().replace("+00:00", "Z")


def _seconds(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'driftline.db'}"
    url: str = request.getfixturevalue("database_url")
    return url


@pytest.fixture
def workers(tmp_path: Path, broker: EmbeddedBroker, store_url: str) -> Iterator[list[Worker]]:
    running: list[Worker] = []
    yield running
    for worker in running:
        worker.stop(signal.SIGKILL)


def expected_bounds(times: np.ndarray[Any, Any]) -> list[tuple[float, float]]:
    """The count windows' (start, end), by the rule of ``streams.ingest.windows``."""
    bounds: list[tuple[float, float]] = []
    previous_end = -math.inf
    for k in range(N // COUNT):
        group = times[k * COUNT:(k + 1) * COUNT]
        start = max(float(group[0]), previous_end)
        end = max(float(group.max()), start + 0.001)
        bounds.append((start, end))
        previous_end = end
    return bounds


def test_count_windows_show_realised_performance_coverage_and_estimate(
        tmp_path: Path, broker: EmbeddedBroker, store_url: str, workers: list[Worker]) -> None:
    rng = np.random.default_rng(20261207)
    t0 = math.floor((datetime.now(UTC) - timedelta(hours=3)).timestamp())
    # 20 events a second, each up to 2 s early or late: neighbouring windows interleave.
    times = np.round(t0 + np.arange(N) * 0.05 + rng.uniform(-2.0, 2.0, N), 3)
    scores = np.round(1.0 / (1.0 + np.exp(-rng.normal(0.0, 2.0, N))), 6)
    preds = (scores >= 0.5).astype(int)
    truth = (rng.random(N) < scores).astype(int)
    labelled = np.zeros(N, bool)
    labelled[:N_CAL] = True
    later = N_CAL + np.flatnonzero(rng.random(N - N_CAL) < 0.7)
    labelled[later] = True
    predictions = [{"event_id": f"e{i}", "model_id": "cnt", "model_version": "1",
                    "event_time": _iso(float(times[i])), "prediction_id": f"p{i}",
                    "features": {"x": float(scores[i])}, "prediction": int(preds[i]),
                    "score": float(scores[i])} for i in range(N)]
    labels = {i: {"prediction_id": f"p{i}", "model_id": "cnt", "label": int(truth[i]),
                  "event_time": _iso(float(times[i]) + 30.0)} for i in range(N)}

    first = Worker(tmp_path, broker, store_url, idle=3600, grace=5, partitions=1,
                   extra=LABELS, model=MODEL)
    workers.append(first)
    first.start()
    topics = first.settings.topics
    engine = make_engine(store_url)

    def rows() -> dict[float, dict[str, Any]]:
        with engine.connect() as conn:
            return {r["window_start"].timestamp(): r for r in list_performance(conn, "cnt")}

    def calibrated() -> bool:
        with engine.connect() as conn:
            return load_calibration(conn, "cnt", "1") is not None

    bounds = expected_bounds(times)
    starts = [start for start, _ in bounds]
    try:
        # 1. The calibration, from the first 200 labelled predictions of the open window 0.
        produce(broker.bootstrap, topics.predictions, predictions[:N_CAL])
        produce(broker.bootstrap, topics.labels, [labels[i] for i in range(N_CAL)])
        wait_for(calibrated, 60, "the score calibration to be stored")
        # 2. The rest of the predictions: four count windows close, each estimated.
        produce(broker.bootstrap, topics.predictions, predictions[N_CAL:])
        wait_for(lambda: all(s in rows() and rows()[s]["estimate"] is not None
                             for s in starts), 60, "the four count windows' estimates")
        # 3. A new worker, then the late labels in a random order.
        first.stop(signal.SIGKILL)
        second = Worker(tmp_path, broker, store_url, like=first, idle=3600, grace=5,
                        partitions=1, extra=LABELS, model=MODEL)
        workers.append(second)
        second.start()
        produce(broker.bootstrap, topics.labels, [labels[int(i)] for i in rng.permutation(later)])
        wait_for(lambda: sum(r["n_labels"] for r in rows().values()) == labelled.sum(), 90,
                 "every label to be stored")
        stored = rows()
    finally:
        engine.dispose()
    assert sorted(stored) == pytest.approx(starts, abs=1e-6)  # no row outside a count window

    shown = CliRunner().invoke(main, ["windows", "cnt", "--format", "json", "--database",
                                      store_url])
    assert shown.exit_code == 0, shown.output
    listed = json.loads(shown.output)
    assert len(listed) == N // COUNT
    for k, (window, (start, end)) in enumerate(zip(listed, bounds, strict=True)):
        members = np.arange(k * COUNT, (k + 1) * COUNT)
        mine = members[labelled[members]]
        assert _seconds(window["window_start"]) == pytest.approx(start, abs=1e-6)
        assert _seconds(window["window_end"]) == pytest.approx(end, abs=1e-6)
        assert window["n_events"] == COUNT
        realised = window["performance"]
        assert realised is not None, f"window {k} has no realised performance"
        assert realised["n_labels"] == realised["metrics"]["n"] == mine.size
        assert realised["label_coverage"] == pytest.approx(mine.size / COUNT)
        assert realised["metrics"]["accuracy"] == pytest.approx(
            float(np.mean(preds[mine] == truth[mine])), abs=1e-12)
        assert 29.9 <= realised["latency_p50"] <= 30.1
        estimate = window["performance_estimate"]
        assert estimate is not None, f"window {k} has no estimate"
        assert estimate["status"] == "estimated"
        assert estimate["n"] == COUNT
        assert abs(estimate["accuracy"] - realised["metrics"]["accuracy"]) < 0.1
