"""The event simulator: determinism, schema v1, the shift, event time, invalid payloads."""

from __future__ import annotations

import itertools
import json
import re
import uuid
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray

from detectors import DriftReport, compare
from streams.devtools.simulator import (
    INVALID_KINDS,
    REQUIRED_FIELDS,
    Simulator,
    interleave,
    split_count,
)

EPS = 200.0
SHIFT_AT = 100.0  # seconds of event time: 20,000 events before the shift
SHIFT_INDEX = int(SHIFT_AT * EPS)
N = 36_000
Event = dict[str, Any]

TYPES: dict[str, tuple[type, ...]] = {
    "event_id": (str,), "model_id": (str,), "model_version": (str,), "event_time": (str,),
    "prediction_id": (str,), "features": (dict,), "prediction": (int, float),
    "score": (int, float), "segment": (dict,)}


RFC3339_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z")


def parse_time(text: str) -> datetime:
    assert RFC3339_UTC.fullmatch(text), text
    return datetime.fromisoformat(text)


def schema_errors(event: object) -> list[str]:
    """What makes ``event`` not a schema v1 prediction event (empty when it is one)."""
    if not isinstance(event, dict):
        return ["not a JSON object"]
    errors = [f"missing {name}" for name in REQUIRED_FIELDS if name not in event]
    for name, types in TYPES.items():
        value = event.get(name)
        if name in event and (isinstance(value, bool) or not isinstance(value, types)):
            errors.append(f"{name} has type {type(value).__name__}")
    if isinstance(event.get("event_time"), str):
        try:
            parse_time(event["event_time"])
        except (AssertionError, ValueError):
            errors.append("event_time is not RFC 3339 with Z")
    features = event.get("features")
    if isinstance(features, dict):
        errors += [f"feature {k} has type {type(v).__name__}" for k, v in features.items()
                   if v is not None and not isinstance(v, int | float | str)]
    return errors


@pytest.fixture(scope="module")
def sim() -> Simulator:
    return Simulator(seed=11, model_id="fraud", model_version="3", events_per_second=EPS,
                     shift_at=SHIFT_AT)


@pytest.fixture(scope="module")
def events(sim: Simulator) -> list[Event]:
    return list(sim.events(N))


@pytest.fixture(scope="module")
def times(events: list[Event]) -> NDArray[np.float64]:
    """Event times in seconds since the epoch."""
    stamps = np.array([e["event_time"].removesuffix("Z") for e in events], dtype="datetime64[ms]")
    assert all(e["event_time"].endswith("Z") for e in events)
    return stamps.astype(np.int64) / 1000.0


@pytest.fixture(scope="module")
def halves(sim: Simulator, events: list[Event], times: NDArray[np.float64]
           ) -> tuple[list[Event], list[Event]]:
    """The events before the shift and the events from it on."""
    assert sim.shift_time is not None
    after = times >= sim.shift_time.timestamp()
    return ([e for e, a in zip(events, after, strict=True) if not a],
            [e for e, a in zip(events, after, strict=True) if a])


def columns(events: Sequence[Event]) -> tuple[dict[str, NDArray[Any]],
                                              dict[str, NDArray[np.bool_]]]:
    values: dict[str, NDArray[Any]] = {}
    missing: dict[str, NDArray[np.bool_]] = {}
    for name in Simulator.numeric_features + Simulator.categorical_features:
        raw = [e["features"][name] for e in events]
        missing[name] = np.array([v is None for v in raw])
        if name in Simulator.numeric_features:
            values[name] = np.array([np.nan if v is None else v for v in raw], dtype=float)
        else:
            values[name] = np.array(["" if v is None else v for v in raw], dtype=object)
    return values, missing


def drift(reference: Sequence[Event], current: Sequence[Event]) -> DriftReport:
    kinds: dict[str, Any] = dict.fromkeys(Simulator.numeric_features, "numeric")
    kinds.update(dict.fromkeys(Simulator.categorical_features, "categorical"))
    ref, ref_missing = columns(reference)
    cur, cur_missing = columns(current)
    return compare(ref, cur, kinds, reference_missing=ref_missing, current_missing=cur_missing)


def drifted(report: DriftReport) -> set[str]:
    return {f.name for f in report.features if f.drifted}


# determinism -----------------------------------------------------------------------------


def test_same_seed_gives_the_same_events(events: list[Event]) -> None:
    again = Simulator(seed=11, model_id="fraud", model_version="3", events_per_second=EPS,
                      shift_at=SHIFT_AT)
    assert list(again.events(3000)) == events[:3000]


@pytest.mark.parametrize("change", [{"seed": 12}, {"model_id": "churn"}])
def test_another_seed_or_model_gives_other_events(events: list[Event],
                                                  change: Mapping[str, Any]) -> None:
    other = Simulator(**{"seed": 11, "model_id": "fraud", **change})
    features = [e["features"] for e in other.events(200)]
    assert features != [e["features"] for e in events[:200]]


def test_events_depend_on_their_index_only(sim: Simulator, events: list[Event]) -> None:
    assert list(sim.events(700, first=1500)) == events[1500:2200]
    assert list(sim.events(0)) == []


def test_events_before_the_shift_do_not_depend_on_it(
        sim: Simulator, events: list[Event], times: NDArray[np.float64]) -> None:
    calm = Simulator(seed=11, model_id="fraud", model_version="3", events_per_second=EPS,
                     shift_at=None)
    assert calm.shift_time is None
    assert sim.shift_time is not None
    first = SHIFT_INDEX - 3000
    around = list(calm.events(6000, first=first))
    shifted = times[first:first + 6000] >= sim.shift_time.timestamp()
    same = [a == e for a, e in zip(around, events[first:first + 6000], strict=True)]
    assert 2000 < shifted.sum() < 4000
    assert same == (~shifted).tolist()


# schema v1 -------------------------------------------------------------------------------


def test_events_follow_schema_v1(events: list[Event]) -> None:
    sample = events[:5000]
    assert [schema_errors(e) for e in sample if schema_errors(e)] == []
    assert {e["model_id"] for e in sample} == {"fraud"}
    assert {e["model_version"] for e in sample} == {"3"}
    assert all(uuid.UUID(e["event_id"]).version == 5 for e in sample)
    assert len({e["event_id"] for e in events}) == len({e["prediction_id"] for e in events}) == N
    assert all(e["prediction"] == int(e["score"] >= 0.5) for e in sample)
    assert all(0.0 <= e["score"] <= 1.0 for e in sample)
    assert {e["segment"]["region"] for e in sample} <= {"eu", "na", "latam"}


def test_events_survive_a_json_round_trip(events: list[Event]) -> None:
    assert json.loads(json.dumps(events[:500])) == events[:500]


def test_features_are_realistic_with_some_nulls(events: list[Event]) -> None:
    assert len(Simulator.numeric_features) >= 10
    assert len(Simulator.categorical_features) >= 3
    names = set(Simulator.numeric_features) | set(Simulator.categorical_features)
    assert all(set(e["features"]) == names for e in events[:2000])
    values, missing = columns(events[:20_000])
    null_rates = {name: float(mask.mean()) for name, mask in missing.items() if mask.any()}
    assert set(null_rates) >= {"age", "credit_score"}
    assert all(0.005 < rate < 0.1 for rate in null_rates.values())
    amount = values["amount"]
    assert amount.min() > 0
    assert np.median(amount) < amount.mean()  # right-skewed
    age = values["age"][~missing["age"]]
    assert age.min() >= 18
    assert age.max() <= 90
    assert 35 < age.mean() < 47
    positive = np.mean([e["prediction"] for e in events[:20_000]])
    assert 0.02 < positive < 0.3


def test_shifted_and_stable_features_partition_the_features() -> None:
    shifted, stable = set(Simulator.shifted_features), set(Simulator.stable_features)
    assert not shifted & stable
    assert shifted | stable == set(Simulator.numeric_features + Simulator.categorical_features)
    assert 2 <= len(shifted) <= len(stable)


# the shift -------------------------------------------------------------------------------


def test_the_shift_drifts_exactly_the_shifted_features(
        sim: Simulator, halves: tuple[list[Event], list[Event]]) -> None:
    before, after = halves
    assert abs(len(before) - SHIFT_INDEX) < 50
    assert drifted(drift(before[-12_000:], after[:12_000])) == set(sim.shifted_features)


def test_without_the_shift_nothing_drifts(halves: tuple[list[Event], list[Event]]) -> None:
    before, after = halves
    assert drifted(drift(before[:8000], before[-8000:])) == set()
    assert drifted(drift(after[:8000], after[-8000:])) == set()


def test_the_shift_starts_exactly_at_shift_at(sim: Simulator, events: list[Event],
                                              times: NDArray[np.float64]) -> None:
    assert sim.shift_time == datetime(2026, 11, 22, 10, 0, tzinfo=UTC) + timedelta(
        seconds=SHIFT_AT)
    shift = sim.shift_time.timestamp()
    brazil = times[[e["features"]["country"] == "BR" for e in events]]
    assert brazil.min() >= shift
    assert brazil.min() - shift < 1.0
    assert 0.2 < brazil.size / np.sum(times >= shift) < 0.3


def test_the_shift_is_a_mean_shift_and_a_variance_change(
        halves: tuple[list[Event], list[Event]]) -> None:
    before, after = (columns(part)[0] for part in halves)
    log_amount = np.log(before["amount"]).mean(), np.log(after["amount"]).mean()
    assert log_amount[1] - log_amount[0] == pytest.approx(0.5, abs=0.03)
    assert after["sessions_7d"].mean() - before["sessions_7d"].mean() == pytest.approx(3.0,
                                                                                     abs=0.1)
    risk = before["ip_risk"], after["ip_risk"]
    assert risk[1].std() / risk[0].std() > 2.0
    assert abs(np.median(risk[1]) - np.median(risk[0])) < 1.5


# event time ------------------------------------------------------------------------------


def test_event_time_runs_on_the_simulated_clock(events: list[Event],
                                                times: NDArray[np.float64]) -> None:
    steps = np.diff(times)
    assert 0.0 < float(np.mean(steps < 0)) < 0.01  # a few out of order, most in order
    assert steps.min() > -10.5
    assert times[-1] - times[0] == pytest.approx(N / EPS, abs=1.0)
    assert events[0]["event_time"].startswith("2026-11-22T10:00:00.")


# labels ----------------------------------------------------------------------------------


def test_labels_follow_their_predictions_and_show_the_concept_drift(sim: Simulator) -> None:
    pairs = list(sim.labelled(16_000, first=SHIFT_INDEX - 8000))
    assert all(label["prediction_id"] == event["prediction_id"] for event, label in pairs)
    assert all(parse_time(label["event_time"]) >= parse_time(event["event_time"])
               for event, label in pairs[:3000])
    assert {label["label"] for _, label in pairs} == {0, 1}
    assert sim.shift_time is not None
    errors: dict[bool, list[bool]] = {False: [], True: []}
    for event, label in pairs:
        errors[parse_time(event["event_time"]) >= sim.shift_time].append(
            event["prediction"] != label["label"])
    assert min(len(errors[False]), len(errors[True])) > 7000
    assert np.mean(errors[True]) > np.mean(errors[False]) + 0.03


# invalid payloads ------------------------------------------------------------------------


def test_invalid_payloads_are_really_invalid(sim: Simulator, events: list[Event]) -> None:
    payloads = list(sim.payloads(5000, invalid_rate=0.1))
    assert {key for key, _ in payloads} == {b"fraud"}
    bad = set(sim.invalid_indices(5000, 0.1))
    assert 400 < len(bad) < 600
    kinds: Counter[str] = Counter()
    for index, (_, value) in enumerate(payloads):
        try:
            decoded = json.loads(value)
        except ValueError:
            kinds["bad_json"] += 1
            assert index in bad
            continue
        errors = schema_errors(decoded)
        assert bool(errors) == (index in bad), (index, errors)
        if errors:
            kinds["missing_field" if errors[0].startswith("missing") else "wrong_type"] += 1
        else:
            assert decoded == events[index]
    assert set(kinds) == set(INVALID_KINDS)
    assert all(count > 100 for count in kinds.values())


def test_labels_skip_the_predictions_sent_invalid(sim: Simulator) -> None:
    bad = set(sim.invalid_indices(3000, 0.2))
    labels = list(sim.labels(3000, invalid_rate=0.2))
    assert len(labels) == 3000 - len(bad)
    assert {label["prediction_id"] for label in labels}.isdisjoint(
        {f"fraud-11-{i}" for i in bad})


def test_no_invalid_payloads_by_default(sim: Simulator, events: list[Event]) -> None:
    assert [json.loads(value) for _, value in sim.payloads(300)] == events[:300]


# helpers and validation ------------------------------------------------------------------


def test_interleave_deals_round_robin_as_split_count_says() -> None:
    dealt = list(interleave([iter("aaaa"), iter("bbb"), iter("b"[:0])]))
    assert dealt == list("abababa")
    assert split_count(7, 3) == [3, 2, 2]
    assert sum(split_count(10_001, 4)) == 10_001


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"seed": -1}, "seed must be an integer >= 0, got -1"),
    ({"events_per_second": 0}, "events_per_second must be > 0, got 0"),
    ({"shift_at": -5.0}, "shift_at must be >= 0 seconds after start, got -5.0"),
    ({"threshold": 1.0}, "threshold must be in (0, 1), got 1.0"),
    ({"model_id": ""}, "model_id must be a non-empty string, got ''"),
    ({"start": datetime(2026, 1, 1)}, "start must be a timezone-aware datetime"),
])
def test_bad_parameters_are_named(kwargs: Mapping[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match="^" + message.replace("(", r"\(").replace(")", r"\)")):
        Simulator(**kwargs)


def test_bad_invalid_rate_is_named(sim: Simulator) -> None:
    with pytest.raises(ValueError, match=r"invalid_rate must be in \[0, 1\], got 1.5"):
        next(sim.payloads(10, invalid_rate=1.5))


# a concept change on its own, labels that never come, the merged timeline ---------------


def _error_rates(sim: Simulator, n: int, moment: datetime) -> tuple[float, float]:
    errors: dict[bool, list[bool]] = {False: [], True: []}
    for event, label in sim.labelled(n):
        errors[parse_time(event["event_time"]) >= moment].append(
            event["prediction"] != label["label"])
    return float(np.mean(errors[False])), float(np.mean(errors[True]))


def test_a_concept_change_moves_the_labels_and_not_the_inputs() -> None:
    changed = Simulator(seed=3, events_per_second=EPS, shift_at=None, concept_at=SHIFT_AT)
    steady = Simulator(seed=3, events_per_second=EPS, shift_at=None, concept_drift=False)
    assert changed.shift_time is None
    assert changed.concept_time is not None
    n = 2 * SHIFT_INDEX
    assert list(changed.events(n)) == list(steady.events(n))  # the inputs are identical
    before, after = _error_rates(changed, n, changed.concept_time)
    steady_before, steady_after = _error_rates(steady, n, changed.concept_time)
    assert after > before + 0.03
    assert abs(steady_after - steady_before) < 0.01


def test_a_share_of_labels_never_comes_and_the_events_do_not_depend_on_it() -> None:
    some = Simulator(seed=5, events_per_second=EPS, label_share=0.8)
    every = Simulator(seed=5, events_per_second=EPS)
    assert list(some.events(5000)) == list(every.events(5000))
    sent = list(some.labels(20_000))
    assert 0.78 < len(sent) / 20_000 < 0.82
    assert {label["prediction_id"] for label in sent} <= {
        label["prediction_id"] for label in every.labels(20_000)}
    with pytest.raises(ValueError, match="label_share"):
        Simulator(label_share=1.5)
    with pytest.raises(ValueError, match="concept_at"):
        Simulator(concept_at="later")  # type: ignore[arg-type]


def test_the_timeline_sends_labels_after_their_predictions_in_event_time_order() -> None:
    sim = Simulator(seed=2, events_per_second=EPS, label_delay=30.0, label_share=0.9)
    timeline = list(sim.timeline(6000))
    predictions = [e for kind, e in timeline if kind == "prediction"]
    labels = [e for kind, e in timeline if kind == "label"]
    assert predictions == list(sim.events(6000))
    assert labels
    assert sorted(e["prediction_id"] for e in labels) == sorted(
        e["prediction_id"] for e in sim.labels(6000))
    position = {e["prediction_id"]: i for i, (kind, e) in enumerate(timeline)
                if kind == "prediction"}
    released: list[str] = []  # label times since the last prediction
    for i, (kind, event) in enumerate(timeline):
        if kind == "prediction":  # labels go out just before a prediction at least as late
            assert all(moment <= event["event_time"] for moment in released)
            released = []
        else:
            assert position[event["prediction_id"]] < i
            released.append(event["event_time"])
    label_times = [e["event_time"] for e in labels]  # in order, but for late predictions' labels
    inversions = sum(a > b for a, b in itertools.pairwise(label_times))
    assert inversions < 0.01 * len(labels)


def test_records_are_the_payloads_and_labels_of_the_timeline() -> None:
    sim = Simulator(seed=3, label_delay=5.0, label_share=0.7)
    records = list(sim.records(3000, invalid_rate=0.05))
    predictions = [(k, v) for kind, k, v in records if kind == "prediction"]
    assert predictions == list(sim.payloads(3000, invalid_rate=0.05))
    labels = [(k, json.loads(v)) for kind, k, v in records if kind == "label"]
    invalid = set(sim.invalid_indices(3000, 0.05))
    assert invalid
    assert [e for _, e in labels] == [
        e for kind, e in sim.timeline(3000) if kind == "label"
        and int(e["prediction_id"].rsplit("-", 1)[1]) not in invalid]
    assert sorted(e["prediction_id"] for _, e in labels) == sorted(
        e["prediction_id"] for e in sim.labels(3000, invalid_rate=0.05))
    assert all(k == e["prediction_id"].encode() for k, e in labels)
    sent = {json.loads(v)["prediction_id"]: i for i, (kind, _, v) in enumerate(records)
            if kind == "prediction" and v.startswith(b"{") and b"prediction_id" in v
            and _parses(v)}
    assert all(sent[e["prediction_id"]] < i for i, (kind, _, v) in enumerate(records)
               if kind == "label" for e in [json.loads(v)] if e["prediction_id"] in sent)


def _parses(value: bytes) -> bool:
    try:
        return isinstance(json.loads(value).get("prediction_id"), str)
    except (ValueError, AttributeError):
        return False
