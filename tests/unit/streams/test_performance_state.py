"""The score calibration a (model, version) learns from its first labelled rows."""

from __future__ import annotations

import json
import math
from types import SimpleNamespace

import numpy as np
import pytest

from detectors import ProfileOptions
from streams.bundles import PredictionStubs, decode_join, encode, split_predictions
from streams.join import JoinState, LabelColumns, Outcome
from streams.outcome_service import window_metrics
from streams.performance_settings import PerformanceSettings
from streams.performance_state import ModelPerformance
from streams.windows import ModelWindows, WindowRules


def outcomes(n: int, seed: int = 0) -> list[Outcome]:
    rng = np.random.default_rng(seed)
    scores = rng.random(n).round(6).tolist()
    labels = (rng.random(n) < np.array(scores)).astype(int).tolist()
    return [Outcome("m", "1", f"p{i}", 1000.0 + i, 1030.0 + i, int(s >= 0.5), s, y, 30.0)
            for i, (s, y) in enumerate(zip(scores, labels, strict=True))]


def test_a_calibration_of_fewer_than_100_rows_is_ready_when_the_setting_asks_for_them() -> None:
    model = ModelPerformance("m", "1", PerformanceSettings(calibration_rows=60), 60.0, 86400.0)
    model.update(outcomes(59))
    assert model.calibration is None
    model.update(outcomes(5, seed=1))
    assert model.calibration is not None
    assert model.calibration.n_rows == 60
    assert model.calibration.ready


# ----- count windows: an outcome updates the window its prediction went to ---------------
def outcome(pid: str, at: float, window: float | None, label: int = 1,
            prediction: int = 1) -> Outcome:
    return Outcome("m", "1", pid, at, at + 30.0, prediction, 0.9, label, 30.0, window)


def model(horizon: float = 86400.0) -> ModelPerformance:
    return ModelPerformance("m", "1", PerformanceSettings(), 60.0, horizon)


def test_an_outcome_with_a_count_window_goes_to_that_window_not_the_time_window() -> None:
    perf = model()
    perf.update([outcome("a", 100.0, 95.0), outcome("b", 130.0, 95.0, label=0),
                 outcome("c", 110.0, 120.5), outcome("t", 125.0, None)])
    assert sorted(perf.windows) == [95.0, 120.0, 120.5]
    counted = perf.windows[95.0]
    assert counted.counted
    assert counted.end == 130.0  # the latest labelled prediction in it
    assert counted.sketch.result().n == 2
    assert window_metrics(perf.windows[95.0])["accuracy"] == 0.5
    assert perf.windows[120.5].end == 120.501  # never before its start
    assert (perf.windows[120.0].start, perf.windows[120.0].end) == (120.0, 180.0)
    assert not perf.windows[120.0].counted
    assert perf.dirty == {95.0, 120.0, 120.5}


def test_a_count_window_outcome_is_too_late_by_its_prediction_time() -> None:
    perf = model(horizon=1000.0)
    perf.update([outcome("new", 5000.0, 4990.0)])
    counts = perf.update([outcome("old", 3999.0, 3990.0), outcome("ok", 4001.0, 3990.0)])
    assert counts["too_late"] == 1
    assert counts["used"] == 1
    assert perf.windows[3990.0].sketch.result().n == 1
    assert perf.windows[3990.0].end == 4001.0
    perf.dirty.clear()
    perf.update([outcome("newer", 5200.0, 5190.0)])  # the window ended 4001 < 5200 - 1000
    assert 3990.0 not in perf.windows


def test_count_windows_survive_a_snapshot() -> None:
    perf = model()
    perf.update([outcome("a", 100.0, 95.0), outcome("t", 125.0, None)])
    data = json.loads(json.dumps(perf.to_dict()))
    restored = ModelPerformance.from_dict(data, PerformanceSettings(), 60.0, 86400.0)
    restored.update([outcome("b", 140.0, 95.0, label=0)])
    window = restored.windows[95.0]
    assert (window.counted, window.end, window.sketch.result().n) == (True, 140.0, 2)
    assert not restored.windows[120.0].counted
    for item in data["windows"]:  # written before count windows: all time windows
        del item["counted"]
    older = ModelPerformance.from_dict(data, PerformanceSettings(), 60.0, 86400.0)
    assert not any(w.counted for w in older.windows.values())


def test_late_labels_land_in_the_count_windows_their_predictions_went_to() -> None:
    """Events out of order through the windows, the stubs, a restarted join and the
    performance state: each window's labelled rows are exactly those of its events."""
    count, n = 50, 430
    rng = np.random.default_rng(3)
    times = 1000.0 + np.arange(n) * 0.5 + rng.normal(0, 20, n)  # out of order
    times[100:110] = times[99]  # and equal times
    preds = rng.integers(0, 2, n)
    truth = rng.integers(0, 2, n)
    labelled = rng.random(n) < 0.7
    windows = ModelWindows("m", "1", WindowRules(count=count, size=60), ProfileOptions())
    join = JoinState(prediction_ttl=1e9, early_label_hold=60)
    closed = []
    for lo in range(0, n, 64):  # batches of 64 rows
        rows = slice(lo, min(lo + 64, n))
        batch = SimpleNamespace(
            event_times=times[rows], row_keys=np.arange(rows.start, rows.stop, dtype=np.uint64),
            columns={"prediction": preds[rows].astype(np.float64)},
            missing={"prediction": np.zeros(rows.stop - rows.start, bool)})
        closed += windows.add(batch, now=0)
        ids = np.empty(rows.stop - rows.start, object)
        ids[:] = [f"p{i}" for i in range(rows.start, rows.stop)]
        for stubs in split_predictions(ids, "m", "1", times[rows], batch.columns["prediction"],
                                       np.full(len(ids), 0.5), 1, windows.row_windows).values():
            decoded = decode_join(encode(stubs))
            assert isinstance(decoded, PredictionStubs)
            join.add_predictions(decoded.columns())
    closed += windows.tick(1e9)
    join = JoinState.from_dict(json.loads(json.dumps(join.to_dict())), 1e9, 60)  # a restart
    order = rng.permutation(np.flatnonzero(labelled))  # labels in any order
    outcomes = join.add_labels(LabelColumns(
        [f"p{i}" for i in order], ["m"] * order.size, times[order] + 600.0,
        truth[order].tolist()), now=0.0)
    perf = model()
    perf.update(outcomes[:100])
    perf = ModelPerformance.from_dict(json.loads(json.dumps(perf.to_dict())),
                                      PerformanceSettings(), 60.0, 86400.0)
    perf.update(outcomes[100:])
    # Independently: window k holds events k*count ... (k+1)*count - 1, in arrival order.
    starts = [c.window.start for c in closed]
    assert len(starts) == math.ceil(n / count)
    assert starts == sorted(set(starts))
    assert sorted(perf.windows) == starts
    for k, start in enumerate(starts):
        members = np.arange(k * count, min((k + 1) * count, n))
        mine = members[labelled[members]]
        result = window_metrics(perf.windows[start])
        assert result["n"] == mine.size
        assert result["accuracy"] == pytest.approx(float(np.mean(preds[mine] == truth[mine])))
        assert perf.windows[start].end == max(times[mine].max(), start + 0.001)
