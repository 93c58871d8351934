"""The score calibration a (model, version) learns from its first labelled rows, and the
order in which the concept-drift detector sees the error stream."""

from __future__ import annotations

import itertools
import json
import math
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any, TypeVar

import numpy as np
import pytest

from detectors import ProfileOptions
from detectors.online import make_detector
from streams.config.performance import PerformanceSettings
from streams.devtools.simulator import Simulator
from streams.ingest.windows import ModelWindows, WindowRules
from streams.labels.bundles import PredictionStubs, decode_join, encode, split_predictions
from streams.labels.join import JoinState, LabelColumns, Outcome, PredictionColumns
from streams.labels.outcome_service import window_metrics
from streams.labels.performance import ModelPerformance


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


def test_one_batch_spanning_more_than_the_horizon_is_not_too_late_for_itself() -> None:
    """A fast backfill's batch can hold weeks of event time: its rows are judged against
    the newest prediction of earlier batches, so every window of it gets its performance."""
    perf = ModelPerformance("m", "1", PerformanceSettings(), 60.0, 1000.0)
    counts = perf.update([outcome(f"p{i}", 60.0 * i, None) for i in range(100)])  # 99 min
    assert (counts["too_late"], counts["used"]) == (0, 100)
    assert len(perf.dirty) == 100
    later = perf.update([outcome("old", 60.0, None), outcome("new", 6000.0, None)])
    assert (later["too_late"], later["used"]) == (1, 1)  # 120 < 5940 - 1000


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


# ----- the detector's input order -------------------------------------------------------
# A small version of the demo: a concept change 300 s in, labels about 40 s late (15 % never
# come), sent in label event-time order as the simulator's timeline sends them. With seed 18
# the detector fed in that (arrival) order fires on a prediction made before the change.
T = TypeVar("T")
START = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
N, CONCEPT_AT, DELAY = 20_000, 300.0, 600.0


def simulator(seed: int = 18) -> Simulator:
    return Simulator(seed=seed, events_per_second=20, concept_at=CONCEPT_AT, shift_at=None,
                     start=START, label_delay=40.0, label_share=0.85)


def _seconds(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def label_order(seed: int = 18) -> list[Outcome]:
    """The simulator's outcomes in the order its labels are sent."""
    waiting: dict[str, dict[str, Any]] = {}
    result = []
    for kind, event in simulator(seed).timeline(N):
        if kind == "prediction":
            waiting[event["prediction_id"]] = event
            continue
        p = waiting.pop(event["prediction_id"])
        t, lt = _seconds(p["event_time"]), _seconds(event["event_time"])
        result.append(Outcome("fraud", "1", p["prediction_id"], t, lt, p["prediction"],
                              p["score"], event["label"], lt - t))
    return result


def ordered_model() -> ModelPerformance:
    return ModelPerformance("fraud", "1", PerformanceSettings(detector_delay=DELAY), 300.0,
                            86400.0)


def detections(batches: Iterable[Sequence[Outcome]]) -> list[tuple[int, float]]:
    perf = ordered_model()
    found = []
    for batch in batches:
        counts = perf.update(batch)
        assert counts.get("detector_late", 0) == 0
        found += [(d.position, d.event_time) for d in perf.detections]
        perf.detections.clear()
    return found


def cut(rows: Sequence[T], sizes: Iterable[int]) -> Iterator[Sequence[T]]:
    at = 0
    for size in sizes:
        if at >= len(rows):
            return
        yield rows[at:at + size]
        at += size


def test_the_same_outcomes_batched_or_shuffled_otherwise_give_the_same_detections() -> None:
    rows = label_order()
    rng = np.random.default_rng(5)
    # Arrival shuffled by up to 2 minutes of label time (a label partition lagging).
    lag = {o.prediction_id: o.label_time + rng.uniform(0, 120.0) for o in rows}
    shuffled = sorted(rows, key=lambda o: lag[o.prediction_id])
    assert shuffled != rows
    by_thousand = detections(cut(rows, itertools.repeat(1000)))
    ragged = detections(cut(rows, rng.integers(1, 400, len(rows)).tolist()))
    other = detections(cut(shuffled, itertools.repeat(777)))
    assert by_thousand
    assert by_thousand == ragged == other
    # Offline: the errors of the released span sorted by event time, then prediction id.
    newest = max(o.prediction_time for o in rows)
    final = sorted((o for o in rows if o.prediction_time < newest - DELAY),
                   key=lambda o: (o.prediction_time, o.prediction_id))
    errors = [int(o.prediction != o.label) for o in final]
    offline = make_detector("adwin", **PerformanceSettings().detector_params).update_many(errors)
    assert [p for p, _ in by_thousand] == offline
    assert [t for _, t in by_thousand] == [final[p].prediction_time for p in offline]


def test_a_detection_is_never_earlier_than_the_first_changed_outcome() -> None:
    rows = label_order()
    changed = START.timestamp() + CONCEPT_AT
    # Fed in arrival order (as before the feed), ADWIN fires on a prediction made before
    # the labels changed, although what it detects is the change.
    arrival = make_detector("adwin").update_many([int(o.prediction != o.label) for o in rows])
    assert rows[arrival[0]].prediction_time < changed
    found = detections(cut(rows, itertools.repeat(500)))
    assert found
    assert all(t >= changed for _, t in found)
    assert found[0][1] - changed < 120.0  # and soon after it


def _deliver(records: list[tuple[str, dict[str, Any]]], lag: Callable[[int, str, str], float],
             sizes: Iterable[int], restart_at: int | None = None) -> list[tuple[int, float]]:
    """Records through the join and the performance state, arriving in the order ``lag``
    gives (index, kind, prediction id), cut into batches of ``sizes``; the performance state
    is rebuilt from its snapshot after ``restart_at`` batches."""
    order = sorted(range(len(records)),
                   key=lambda i: lag(i, records[i][0], records[i][1]["prediction_id"]))
    join, perf, found = JoinState(86400.0, 1e9), ordered_model(), []
    arrived = [records[i] for i in order]
    for number, batch in enumerate(cut(arrived, sizes)):
        outcomes: list[Outcome] = []
        for kind, run in itertools.groupby(batch, key=lambda r: r[0]):
            events = [e for _, e in run]
            if kind == "prediction":
                outcomes += join.add_predictions(PredictionColumns(
                    [e["prediction_id"] for e in events], [e["model_id"] for e in events],
                    [e["model_version"] for e in events],
                    np.array([_seconds(e["event_time"]) for e in events]),
                    [e["prediction"] for e in events],
                    np.array([e["score"] for e in events], np.float64)))
            else:
                outcomes += join.add_labels(LabelColumns(
                    [e["prediction_id"] for e in events], [e["model_id"] for e in events],
                    np.array([_seconds(e["event_time"]) for e in events]),
                    [e["label"] for e in events]), now=0.0)
        perf.update(outcomes)
        found += [(d.position, d.event_time) for d in perf.detections]
        perf.detections.clear()
        if number == restart_at:
            data = json.loads(json.dumps(perf.to_dict()))
            perf = ModelPerformance.from_dict(data, perf.settings, perf.size, perf.horizon)
    return found


def test_the_simulator_through_the_join_twice_gives_the_same_detections() -> None:
    records = list(simulator().timeline(N))
    # As sent, in batches of 500.
    first = _deliver(records, lambda i, kind, pid: i, itertools.repeat(500))
    # Predictions 3,000 records behind their labels (labels wait in the join), each of
    # four label partitions further behind by its own lag, batches of 97, and a restart.
    def lagging(i: int, kind: str, pid: str) -> float:
        return i + 3000 if kind == "prediction" else i + 400 * (zlib.crc32(pid.encode()) % 4)
    second = _deliver(records, lagging, itertools.repeat(97), restart_at=60)
    assert first
    assert first == second
    assert first == detections(cut(label_order(), itertools.repeat(1000)))


def test_a_backfill_through_two_partitions_one_after_the_other_feeds_every_outcome() -> None:
    """The join may send one partition's whole history before the other's first outcome
    (a backfill): the join partitions are known sources, so the first is held until the
    second speaks, and the detector gets every outcome, as with one partition."""
    rows = label_order()
    by_partition: dict[int, list[Outcome]] = {0: [], 1: []}
    for outcome in rows:
        by_partition[zlib.crc32(outcome.prediction_id.encode()) % 2].append(outcome)
    two = ModelPerformance("fraud", "1", PerformanceSettings(detector_delay=DELAY), 300.0,
                           86400.0, sources=[0, 1])
    late = 0
    for partition in (0, 1):  # partition 0's whole history first, then partition 1's
        for batch in cut(by_partition[partition], itertools.repeat(1000)):
            late += two.update(batch, partition).get("detector_late", 0)
    assert late == 0
    one = detections(cut(rows, itertools.repeat(1000)))
    assert one
    assert [(d.position, d.event_time) for d in two.detections] == one
