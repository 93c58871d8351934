"""The score calibration a (model, version) learns from its first labelled rows, and the
order in which the concept-drift detector sees the error stream."""

from __future__ import annotations

import itertools
import json
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

import numpy as np

from detectors.online import make_detector
from streams.join import JoinState, LabelColumns, Outcome, PredictionColumns
from streams.performance_settings import PerformanceSettings
from streams.performance_state import ModelPerformance
from streams.simulator import Simulator


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


def model() -> ModelPerformance:
    return ModelPerformance("fraud", "1", PerformanceSettings(detector_delay=DELAY), 300.0,
                            86400.0)


def detections(batches: Iterable[Sequence[Outcome]]) -> list[tuple[int, float]]:
    perf = model()
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
    offline = make_detector("adwin").update_many(errors)
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
    join, perf, found = JoinState(86400.0, 1e9), model(), []
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
