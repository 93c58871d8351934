"""The performance estimate end to end: real embedded broker, real PostgreSQL, a worker.

A seeded binary classifier whose scores are calibrated: ``label ~ Bernoulli(score)``,
``prediction = score >= 0.5``, ``score = sigmoid(z)``. One partition per topic, 60 s
windows of 3,000 predictions (50 per second of event time).

1. Calibration: window 0 with its labels at once; its 3,000 labelled rows are the
   model's ``calibration_rows``. The test waits until the calibration is stored.
2. No drift (``z ~ N(0, 2)`` as in window 0), windows 1-2: predictions only; each
   window closes (watermark or idle timeout) and its estimate is stored before any of
   its labels is sent. Then the labels; the realised metrics land in the same rows.
3. Covariate shift (``z ~ N(0, 0.6)``: scores near 0.5, harder cases), windows 3-4:
   predictions only; once their estimates are stored, and while the database holds no
   label of them, their estimated accuracy must be below every estimate of 1-2. Then
   their labels, which must confirm both the drop and the estimate.

Tolerance, per window and metric (accuracy, F1, ROC AUC): ``3 * se * sqrt(1 + n /
n_cal) + bound``. ``se`` is the standard deviation of the realised metric over labels
redrawn from ``Bernoulli(score)`` for the window's own scores (400 draws, seeded): the
realised value's sampling error with ``n`` rows. The estimate carries the error of a
calibration fit on ``n_cal`` rows; the isotonic fit keeps the mean of its blocks, so
that error is about a mean over ``n_cal`` residuals, ``se * sqrt(n / n_cal)``. ``bound``
is the binning error the estimate reports (``probability_error_bound`` for accuracy,
``roc_auc_error_bound`` of both sides for AUC; zero for F1). With ``n = n_cal =
3,000`` that is about 0.03 for accuracy.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from scipy.stats import rankdata

from store.engine import make_engine
from store.performance import list_performance, load_calibration
from streams.cli.main import main
from streams.devtools.broker import EmbeddedBroker
from tests.integration.event_stream import produce
from tests.integration.worker_harness import WINDOW, Worker, wait_for

pytestmark = pytest.mark.integration
PER_WINDOW = 3000
STEP = WINDOW / PER_WINDOW  # seconds of event time between predictions
N_CAL = PER_WINDOW
DRAWS = 400
METRICS = ("accuracy", "f1", "roc_auc")


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat().replace("+00:00", "Z")


class Window:
    """One window of the seeded stream: scores, predictions, labels and the events."""

    def __init__(self, rng: np.random.Generator, index: int, t0: float, spread: float) -> None:
        self.index = index
        self.start = t0 + index * WINDOW
        z = rng.normal(0.0, spread, PER_WINDOW)
        self.scores = np.round(1.0 / (1.0 + np.exp(-z)), 6)
        self.pred = (self.scores >= 0.5).astype(int)
        self.labels = (rng.random(PER_WINDOW) < self.scores).astype(int)
        self.times = self.start + STEP * np.arange(PER_WINDOW)

    def predictions(self) -> list[dict[str, Any]]:
        return [{"event_id": f"e{self.index}-{i}", "model_id": "cal", "model_version": "1",
                 "event_time": _iso(t), "prediction_id": f"p{self.index}-{i}",
                 "features": {"x": float(s)}, "prediction": int(p), "score": float(s)}
                for i, (t, s, p) in enumerate(zip(self.times.tolist(), self.scores.tolist(),
                                                  self.pred.tolist(), strict=True))]

    def label_events(self) -> list[dict[str, Any]]:
        return [{"prediction_id": f"p{self.index}-{i}", "model_id": "cal", "label": int(y),
                 "event_time": _iso(t + 30.0)}
                for i, (t, y) in enumerate(zip(self.times.tolist(), self.labels.tolist(),
                                               strict=True))]


def standard_errors(window: Window, seed: int) -> dict[str, float]:
    """SD of each realised metric over labels redrawn from Bernoulli(score).

    Vectorised over the draws: F1 from the cells, AUC as the Mann-Whitney statistic
    on the scores' average ranks (what ``roc_auc_score`` computes).
    """
    rng = np.random.default_rng(seed)
    y = rng.random((DRAWS, PER_WINDOW)) < window.scores
    pred = window.pred.astype(bool)
    tp = (y & pred).sum(axis=1)
    fp = (~y & pred).sum(axis=1)
    fn = (y & ~pred).sum(axis=1)
    positives = y.sum(axis=1)
    ranks = rankdata(window.scores)
    auc = ((y * ranks).sum(axis=1) - positives * (positives + 1) / 2) / (
        positives * (PER_WINDOW - positives))
    values = {"accuracy": (y == pred).mean(axis=1), "f1": 2 * tp / (2 * tp + fp + fn),
              "roc_auc": auc}
    return {name: float(np.std(v, ddof=1)) for name, v in values.items()}


def check_estimate(window: Window, row: dict[str, Any]) -> None:
    """The stored estimate is within the module docstring's tolerance of the realised."""
    estimate, realised = row["performance_estimate"], row["performance"]["metrics"]
    assert estimate["status"] == "estimated"
    assert estimate["n"] == realised["n"] == PER_WINDOW
    assert realised["accuracy"] == pytest.approx(np.mean(window.labels == window.pred),
                                                 abs=1e-12)
    se = standard_errors(window, seed=window.index)
    bounds = {"accuracy": estimate["probability_error_bound"], "f1": 0.0,
              "roc_auc": estimate["roc_auc_error_bound"] + realised["roc_auc_error_bound"]}
    for name in METRICS:
        tolerance = 3 * se[name] * math.sqrt(1 + PER_WINDOW / N_CAL) + bounds[name]
        gap = abs(estimate[name] - realised[name])
        assert gap <= tolerance, (f"window {window.index}: estimated {name} "
                                  f"{estimate[name]:.4f}, realised {realised[name]:.4f}, "
                                  f"gap {gap:.4f} > tolerance {tolerance:.4f}")


@pytest.fixture
def worker(tmp_path: Path, broker: EmbeddedBroker, database_url: str) -> Iterator[Worker]:
    running = Worker(tmp_path, broker, database_url, idle=2, grace=5, partitions=1,
                     extra="labels: {prediction_ttl: 604800s, early_label_hold: 1h}\n",
                     model=f"    performance: {{calibration_rows: {N_CAL}}}\n")
    running.start()
    try:
        yield running
    finally:
        running.stop()


def test_estimate_tracks_realised_performance_and_falls_under_covariate_shift(
        worker: Worker, broker: EmbeddedBroker, database_url: str) -> None:
    rng = np.random.default_rng(20261122)
    t0 = math.floor((datetime.now(UTC) - timedelta(hours=3)).timestamp() / WINDOW) * WINDOW
    spreads = (2.0, 2.0, 2.0, 0.6, 0.6)
    windows = [Window(rng, i, t0, spread) for i, spread in enumerate(spreads)]
    topics = worker.settings.topics
    engine = make_engine(database_url)

    def calibration() -> dict[str, Any] | None:
        with engine.connect() as conn:
            return load_calibration(conn, "cal", "1")

    def listed() -> dict[float, dict[str, Any]]:
        """``driftline windows cal --format json``, by window start (seconds)."""
        shown = CliRunner().invoke(main, ["windows", "cal", "--format", "json",
                                          "--database", database_url])
        assert shown.exit_code == 0, shown.output
        return {datetime.fromisoformat(w["window_start"].replace("Z", "+00:00")).timestamp():
                w for w in json.loads(shown.output)}

    def estimated(group: list[Window]) -> bool:
        with engine.connect() as conn:
            rows = {r["window_start"].timestamp(): r for r in list_performance(conn, "cal")}
        return all(w.start in rows and rows[w.start]["estimate"] is not None for w in group)

    def labelled(group: list[Window]) -> bool:
        with engine.connect() as conn:
            rows = {r["window_start"].timestamp(): r for r in list_performance(conn, "cal")}
        return all(w.start in rows and rows[w.start]["n_labels"] == PER_WINDOW
                   for w in group)

    try:
        # 1. The calibration period: window 0 and its labels.
        produce(broker.bootstrap, topics.predictions, windows[0].predictions())
        produce(broker.bootstrap, topics.labels, windows[0].label_events())
        wait_for(lambda: calibration() is not None, 40, "the score calibration to be stored")
        stored = calibration()
        assert stored is not None
        assert stored["n_rows"] == N_CAL

        # 2. No drift: windows 1-2 close and are estimated before any of their labels.
        steady = windows[1:3]
        for window in steady:
            produce(broker.bootstrap, topics.predictions, window.predictions())
        wait_for(lambda: estimated(steady), 40, "estimates of the steady windows")
        before = listed()
        for window in steady:
            row = before[window.start]
            assert row["n_events"] == PER_WINDOW
            assert row["performance"] is None  # no label joined yet
            assert row["performance_estimate"]["status"] == "estimated"
        for window in steady:
            produce(broker.bootstrap, topics.labels, window.label_events())
        wait_for(lambda: labelled(steady), 40, "the steady windows' labels")
        after = listed()
        for window in steady:
            assert after[window.start]["performance_estimate"] == (
                before[window.start]["performance_estimate"])  # stored at close, kept
            check_estimate(window, after[window.start])

        # 3. Covariate shift: windows 3-4 estimated lower before any of their labels.
        shifted = windows[3:]
        for window in shifted:
            produce(broker.bootstrap, topics.predictions, window.predictions())
        wait_for(lambda: estimated(shifted), 40, "estimates of the shifted windows")
        moment = listed()
        with engine.connect() as conn:
            rows = {r["window_start"].timestamp(): r for r in list_performance(conn, "cal")}
        steady_estimates = [moment[w.start]["performance_estimate"]["accuracy"] for w in steady]
        for window in shifted:
            assert rows[window.start]["n_labels"] == 0
            assert rows[window.start]["metrics"] is None
            assert moment[window.start]["performance"] is None
            assert moment[window.start]["performance_estimate"]["accuracy"] < min(
                steady_estimates)
        for window in shifted:
            produce(broker.bootstrap, topics.labels, window.label_events())
        wait_for(lambda: labelled(shifted), 40, "the shifted windows' labels")
        final = listed()
        steady_realised = [final[w.start]["performance"]["metrics"]["accuracy"]
                           for w in steady]
        for window in shifted:
            check_estimate(window, final[window.start])
            # The labels confirm the direction: the realised accuracy fell as well.
            assert final[window.start]["performance"]["metrics"]["accuracy"] < min(
                steady_realised)
    finally:
        engine.dispose()
