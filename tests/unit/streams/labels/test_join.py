"""Joining labels to predictions: time, early labels, duplicates, TTL, counters, snapshots."""

from __future__ import annotations

import dataclasses
import json
import math
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.decoding.events import LabelEvent, PredictionEvent
from streams.labels.join import (
    ExpiryReport,
    JoinState,
    LabelColumns,
    Outcome,
    PredictionColumns,
    Value,
)
from tests.unit.streams.labels.join_columns import labels, preds

TTL, HOLD = 100.0, 5.0


def state(ttl: float = TTL, hold: float = HOLD) -> JoinState:
    return JoinState(prediction_ttl=ttl, early_label_hold=hold)


def test_a_label_joins_its_pending_prediction() -> None:
    join = state()
    assert join.add_predictions(preds(("a", 1000.0, "fraud", "7", 1, 0.87), ("b", 1010.0))) == []
    out = join.add_labels(labels(("a", 1060.5, "fraud", 0)), now=1.0)
    assert out == [Outcome("fraud", "7", "a", 1000.0, 1060.5, 1, 0.87, 0, 60.5)]
    counters = join.counters()
    assert counters.joined == {"fraud": 1}
    assert counters.pending_predictions == {"fraud": 1}
    assert counters.held_labels == {}


def test_latencies_scores_and_order_follow_the_label_batch() -> None:
    join = state()
    join.add_predictions(preds(("a", 10.0, "m", "1", 0.25, None), ("b", 20.0, "m", "1", "x", 0.1),
                               ("c", 30.0, "m", "2", True, 0.9)))
    out = join.add_labels(labels(("c", 31.5, "m", "y"), ("a", 9.0, "m", 1.5),
                                 ("b", 80.0, "m", False)), now=0.0)
    assert [(o.prediction_id, o.latency, o.score, o.prediction, o.label, o.model_version)
            for o in out] == [("c", 1.5, 0.9, True, "y", "2"), ("a", -1.0, None, 0.25, 1.5, "1"),
                              ("b", 60.0, 0.1, "x", False, "1")]


def test_a_label_before_its_prediction_is_held_then_joined() -> None:
    join = state()
    assert join.add_labels(labels(("a", 500.0)), now=0.0) == []
    assert join.counters().held_labels == {"fraud": 1}
    assert join.expire(now=HOLD) == ExpiryReport({}, {})  # held for at least HOLD
    out = join.add_predictions(preds(("a", 400.0), ("b", 450.0)))
    assert [(o.prediction_id, o.latency) for o in out] == [("a", 100.0)]
    counters = join.counters()
    assert counters.held_labels == {}
    assert counters.joined == {"fraud": 1}
    assert counters.pending_predictions == {"fraud": 1}


def test_a_label_held_too_long_is_unmatched() -> None:
    join = state()
    join.add_labels(labels(("a", 500.0, "fraud", 1), ("b", 500.0, "churn", 0)), now=0.0)
    join.add_labels(labels(("c", 501.0)), now=3.0)
    assert join.expire(now=HOLD + 0.5) == ExpiryReport({}, {"fraud": 1, "churn": 1})
    assert join.counters().held_labels == {"fraud": 1}
    assert join.add_predictions(preds(("a", 400.0))) == []  # too late: now just pending
    assert join.counters().unmatched_labels == {"fraud": 1, "churn": 1}
    assert join.counters().pending_predictions == {"fraud": 1}


def test_a_second_label_is_counted_once_as_a_duplicate() -> None:
    join = state()
    join.add_predictions(preds(("a", 0.0), ("b", 0.0, "churn", "1", 1, 0.5)))
    first = join.add_labels(labels(("a", 10.0), ("a", 11.0, "fraud", 0)), now=0.0)
    assert [(o.prediction_id, o.label) for o in first] == [("a", 1)]
    assert join.add_labels(labels(("a", 12.0), ("b", 13.0, "churn", 1)), now=1.0)[0].label == 1
    assert join.add_labels(labels(("b", 14.0, "churn", 0)), now=2.0) == []
    counters = join.counters()
    assert counters.duplicate_labels == {"fraud": 2, "churn": 1}
    assert counters.joined == {"fraud": 1, "churn": 1}
    assert counters.held_labels == {}


def test_a_second_early_label_is_a_duplicate_and_the_first_is_kept() -> None:
    join = state()
    join.add_labels(labels(("a", 10.0, "fraud", "first")), now=0.0)
    join.add_labels(labels(("a", 11.0, "fraud", "second")), now=1.0)
    assert [o.label for o in join.add_predictions(preds(("a", 0.0)))] == ["first"]
    assert join.counters().duplicate_labels == {"fraud": 1}


def test_a_duplicate_prediction_keeps_the_first() -> None:
    join = state()
    join.add_predictions(preds(("a", 0.0, "fraud", "1", "first", 0.1),
                               ("a", 5.0, "fraud", "1", "second", 0.2)))
    join.add_predictions(preds(("a", 6.0, "fraud", "1", "third", 0.3)))
    [out] = join.add_labels(labels(("a", 20.0)), now=0.0)
    assert (out.prediction, out.score, out.prediction_time) == ("first", 0.1, 0.0)
    join.add_predictions(preds(("a", 7.0)))  # joined ids are remembered too
    assert join.counters().duplicate_predictions == {"fraud": 3}
    assert join.counters().pending_predictions == {}


def test_predictions_expire_against_the_label_watermark_and_are_counted_per_model() -> None:
    join = state()
    join.add_predictions(preds(("a", 0.0), ("b", 10.0, "churn", "1", 0, 0.5),
                               ("c", 50.0, "churn", "2", 0, 0.5), ("d", 0.0, "churn", "1", 0, 0.5)))
    join.add_labels(labels(("d", 60.0, "churn", 1), ("x", 100.0)), now=0.0)
    assert join.expire(now=0.0) == ExpiryReport({}, {})  # 0 + TTL is not before 100
    join.add_labels(labels(("y", 100.5)), now=0.0)
    assert join.expire(now=0.0) == ExpiryReport({"fraud": 1}, {})  # d was joined: not counted
    join.add_labels(labels(("z", 160.0)), now=0.0)  # fraud's labels move fraud's watermark
    assert join.expire(now=0.0) == ExpiryReport({}, {})
    join.add_labels(labels(("w", 160.0, "churn", 1)), now=0.0)
    assert join.expire(now=0.0) == ExpiryReport({"churn": 2}, {})
    counters = join.counters()
    assert counters.expired_predictions == {"fraud": 1, "churn": 2}
    assert counters.pending_predictions == {}
    assert counters.held_labels == {"fraud": 3, "churn": 1}


def test_another_models_live_labels_do_not_expire_a_backfill() -> None:
    join = state()  # TTL 100
    join.add_labels(labels(("live", 1_000_000.0, "churn", 1)), now=0.0)
    join.add_predictions(preds(("old", 10.0), ("older", 5.0)))
    assert join.expire(now=0.0) == ExpiryReport({}, {})
    [out] = join.add_labels(labels(("old", 40.0)), now=0.0)
    assert (out.prediction_id, out.latency) == ("old", 30.0)
    assert join.watermark("fraud") == 40.0
    assert join.watermark("churn") == 1_000_000.0
    join.add_labels(labels(("x", 105.5)), now=0.0)
    assert join.expire(now=0.0) == ExpiryReport({"fraud": 1}, {})  # "older" after 5 + TTL


def test_a_snapshot_of_one_watermark_per_partition_gives_it_to_every_model() -> None:
    join = state()
    join.add_predictions(preds(("a", 0.0), ("b", 0.0, "churn", "1", 0, 0.5)))
    join.add_labels(labels(("x", 100.5)), now=0.0)
    data = join.to_dict()
    assert (data["label_watermark"], data["prediction_watermark"]) == (100.5, 0.0)
    del data["label_watermarks"], data["prediction_watermarks"]
    restored = JoinState.from_dict(data, prediction_ttl=TTL, early_label_hold=HOLD)
    assert restored.watermark("fraud") == restored.watermark("churn") == 100.5
    assert restored.expire(now=0.0).expired_predictions == {"fraud": 1, "churn": 1}


def test_joined_ids_are_remembered_until_the_prediction_ttl_ends() -> None:
    join = state()
    join.add_predictions(preds(("a", 0.0)))
    join.add_labels(labels(("a", 5.0)), now=0.0)
    join.add_labels(labels(("a", 100.0)), now=0.0)
    join.expire(now=0.0)
    assert join.counters().duplicate_labels == {"fraud": 1}
    join.add_labels(labels(("x", 101.0)), now=0.0)
    assert join.expire(now=0.0) == ExpiryReport({}, {})  # forgotten now, not expired
    join.add_labels(labels(("a", 102.0)), now=1.0)
    assert join.counters().duplicate_labels == {"fraud": 1}
    assert join.counters().held_labels == {"fraud": 2}
    assert join.expire(now=1.0 + HOLD + 1) == ExpiryReport({}, {"fraud": 2})


def test_without_labels_predictions_leave_after_two_ttls_of_prediction_time() -> None:
    join = state()
    join.add_predictions(preds(("a", 0.0), ("b", 150.0)))
    join.add_predictions(preds(("c", 200.0)))
    assert join.expire(now=0.0) == ExpiryReport({}, {})
    join.add_predictions(preds(("d", 200.5)))
    assert join.watermark("fraud") == 100.5
    assert join.expire(now=0.0) == ExpiryReport({"fraud": 1}, {})
    assert join.counters().pending_predictions == {"fraud": 3}


def test_freed_slots_are_reused_without_mixing_predictions() -> None:
    join = state(ttl=10.0)
    for step in range(50):
        t = step * 20.0
        join.add_predictions(preds(*[(f"{step}-{i}", t, "m", "1", i, i / 100) for i in range(40)]))
        out = join.add_labels(labels(*[(f"{step}-{i}", t + 1, "m", -i) for i in range(0, 40, 2)]),
                              now=t)
        assert [(o.prediction, o.score, o.label) for o in out] == [
            (i, i / 100, -i) for i in range(0, 40, 2)]
        join.expire(now=t)
    counters = join.counters()
    assert counters.joined == {"m": 1000}
    assert counters.expired_predictions == {"m": 980}
    assert len(join._times) == 1024  # two steps' worth of slots, reused


def test_columns_from_events() -> None:
    when = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
    events = [PredictionEvent("e1", "fraud", when, {}, "7", "p1", 1, 0.5),
              PredictionEvent("e2", "fraud", when, {}, "7", None, 0, None),
              PredictionEvent("e3", "fraud", when, {}, "7", "p3", 0, None)]
    columns = PredictionColumns.from_events(events)
    assert list(columns.prediction_ids) == ["p1", "p3"]
    assert columns.event_times.tolist() == [when.timestamp()] * 2
    assert np.isnan(columns.scores[1])
    label = LabelColumns.from_events([LabelEvent("p3", "fraud", 1, when)])
    join = state()
    join.add_predictions(columns)
    [out] = join.add_labels(label, now=0.0)
    assert (out.prediction_id, out.score, out.model_version, out.latency) == ("p3", None, "7", 0)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"prediction_ttl": 0.0}, "prediction_ttl must be a finite number of seconds > 0, got 0.0"),
    ({"prediction_ttl": -5}, "prediction_ttl must be a finite number of seconds > 0, got -5"),
    ({"prediction_ttl": math.inf}, "prediction_ttl .* > 0, got inf"),
    ({"prediction_ttl": math.nan}, "prediction_ttl .* > 0, got nan"),
    ({"prediction_ttl": True}, "prediction_ttl .* > 0, got True"),
    ({"prediction_ttl": "60"}, "prediction_ttl .* > 0, got '60'"),
    ({"early_label_hold": -0.1},
     "early_label_hold must be a finite number of seconds >= 0, got -0.1"),
    ({"early_label_hold": math.nan}, "early_label_hold .* >= 0, got nan"),
])
def test_parameters_are_validated(kwargs: dict[str, Any], message: str) -> None:
    values: dict[str, Any] = {"prediction_ttl": TTL, "early_label_hold": HOLD, **kwargs}
    with pytest.raises(ValueError, match=message):
        JoinState(**values)


def test_a_zero_hold_is_allowed_and_columns_must_have_equal_lengths() -> None:
    assert JoinState(prediction_ttl=1, early_label_hold=0).early_label_hold == 0.0
    with pytest.raises(ValueError, match="label columns must have equal lengths, got "
                       "prediction_ids=2, model_ids=1, event_times=2, labels=2"):
        LabelColumns(["a", "b"], ["m"], np.zeros(2), [1, 2])
    with pytest.raises(ValueError, match=r"prediction columns .* predictions=1, scores=2"):
        PredictionColumns(["a"], ["m"], ["1"], np.zeros(1), [1], np.zeros(2))


def test_snapshots_are_json_safe_and_versioned() -> None:
    join = state()
    join.add_predictions(preds(("a", 0.0, "m", "1", math.inf, None), ("b", 1.0)))
    join.add_labels(labels(("b", 2.0), ("early", 3.0, "m", -math.inf)), now=0.0)
    data = json.loads(json.dumps(join.to_dict(), allow_nan=False))
    restored = JoinState.from_dict(data, prediction_ttl=TTL, early_label_hold=HOLD)
    assert restored.counters() == join.counters()
    [out] = restored.add_predictions(preds(("early", 2.0)))
    assert out.label == -math.inf
    [out] = restored.add_labels(labels(("a", 4.0)), now=0.0)
    assert (out.prediction, out.score) == (math.inf, None)
    with pytest.raises(ValueError, match="join snapshot version must be 1, got 7"):
        JoinState.from_dict({**data, "version": 7}, prediction_ttl=TTL, early_label_hold=HOLD)


def test_a_restored_state_uses_the_ttl_it_is_given() -> None:
    join = state()
    join.add_predictions(preds(("a", 0.0)))
    join.add_labels(labels(("x", 50.0)), now=0.0)
    restored = JoinState.from_dict(join.to_dict(), prediction_ttl=10.0, early_label_hold=HOLD)
    assert restored.expire(now=0.0).expired_predictions == {"fraud": 1}
    assert join.expire(now=0.0).expired_predictions == {}


def with_windows(columns: PredictionColumns, starts: list[float]) -> PredictionColumns:
    """``columns`` of a model with count windows, each row in the window ``starts`` names."""
    return dataclasses.replace(columns, windows=np.array(starts, np.float64))


def test_a_count_window_start_travels_from_the_prediction_to_its_outcome() -> None:
    join = state()
    join.add_predictions(with_windows(preds(("a", 10.0), ("b", 11.0), ("c", 12.0)),
                                      [10.0, 10.0, 12.5]))
    join.add_predictions(preds(("t", 13.0)))  # a time-window model's prediction: none
    out = join.add_labels(labels(("c", 900.0), ("t", 901.0), ("a", 902.0)), now=0.0)
    assert [(o.prediction_id, o.window_start) for o in out] == [
        ("c", 12.5), ("t", None), ("a", 10.0)]
    assert join.add_labels(labels(("early", 5.0)), now=0.0) == []
    [held] = join.add_predictions(with_windows(preds(("early", 3.0)), [2.0]))
    assert held.window_start == 2.0  # an early label joins a prediction with its window


def test_count_window_starts_survive_a_snapshot_and_an_old_snapshot_has_none() -> None:
    join = state()
    join.add_predictions(with_windows(preds(("a", 10.0), ("b", 11.0)), [9.5, 11.0]))
    join.add_predictions(preds(("t", 12.0)))
    data = json.loads(json.dumps(join.to_dict(), allow_nan=False))
    restored = JoinState.from_dict(data, prediction_ttl=TTL, early_label_hold=HOLD)
    out = restored.add_labels(labels(("b", 20.0), ("t", 21.0), ("a", 22.0)), now=0.0)
    assert [o.window_start for o in out] == [11.0, None, 9.5]
    assert "windows" not in state().to_dict()["predictions"]  # time windows: not written
    del data["predictions"]["windows"]  # written before count windows were carried
    older = JoinState.from_dict(data, prediction_ttl=TTL, early_label_hold=HOLD)
    out = older.add_labels(labels(("a", 22.0)), now=0.0)
    assert [o.window_start for o in out] == [None]


def test_count_window_starts_must_match_the_other_columns() -> None:
    with pytest.raises(ValueError, match=r"prediction columns .* scores=1, windows=2"):
        with_windows(preds(("a", 1.0)), [1.0, 2.0])


# ----- any batching and any snapshot point give the result of one event at a time -----
Op = tuple[str, str, str, float, Value]  # kind, id, model, event time, prediction or label

ops = st.tuples(st.sampled_from(["p", "l"]), st.sampled_from([f"id{i}" for i in range(8)]),
                st.sampled_from(["m1", "m2"]), st.integers(0, 400).map(float),
                st.sampled_from([0, 1, "x", 2.5, None]))
segments = st.lists(st.tuples(st.integers(0, 4).map(float), st.lists(ops, max_size=12)),
                    min_size=1, max_size=8)


def _apply(join: JoinState, kind: str, batch: list[Op], now: float) -> list[Outcome]:
    if kind == "p":
        return join.add_predictions(preds(*[
            (i, t, m, "v" + m, v, None if v is None else 0.5) for _, i, m, t, v in batch]))
    return join.add_labels(labels(*[(i, t, m, 0 if v is None else v)
                                    for _, i, m, t, v in batch]), now)


def _runs(items: list[Op], cuts: list[bool]) -> list[list[Op]]:
    runs: list[list[Op]] = []
    for position, item in enumerate(items):
        if runs and runs[-1][0][0] == item[0] and not cuts[position]:
            runs[-1].append(item)
        else:
            runs.append([item])
    return runs


@settings(max_examples=200, deadline=None)
@given(segments, st.data())
def test_any_batching_and_snapshot_point_give_the_same_outcomes(
        stream: list[tuple[float, list[Op]]], data: st.DataObject) -> None:
    ttl, hold = 60.0, 2.0
    one, batched = JoinState(ttl, hold), JoinState(ttl, hold)
    expected: list[Any] = []
    got: list[Any] = []
    n_batches = sum(len(items) for _, items in stream) + len(stream)
    snapshot_at = data.draw(st.integers(0, n_batches), label="snapshot after batch")
    seen, now = 0, 0.0
    for step, items in stream:
        now += step
        for item in items:
            expected += _apply(one, item[0], [item], now)
        cuts = data.draw(st.lists(st.booleans(), min_size=len(items), max_size=len(items)))
        for batch in _runs(items, cuts):
            got += _apply(batched, batch[0][0], batch, now)
            seen += 1
            if seen == snapshot_at:
                text = json.dumps(batched.to_dict(), allow_nan=False)
                batched = JoinState.from_dict(json.loads(text), ttl, hold)
        expected.append(one.expire(now))
        got.append(batched.expire(now))
    assert got == expected
    assert batched.counters() == one.counters()
