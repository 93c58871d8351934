"""Tests for the online concept-drift adapter over River's detectors."""

from __future__ import annotations

import dataclasses
import itertools
import json
import random
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from river import drift
from river.drift import binary

from detectors.online import (
    DETECTORS,
    DriftDetection,
    OnlineDriftDetector,
    ParamValue,
    make_detector,
)

RAW: dict[str, Callable[..., Any]] = {
    "ADWIN": drift.ADWIN,
    "PageHinkley": drift.PageHinkley,
    "KSWIN": drift.KSWIN,
    "DDM": binary.DDM,
    "EDDM": binary.EDDM,
    "HDDM_A": binary.HDDMA,
    "HDDM_W": binary.HDDMW,
}
BINARY = ("DDM", "EDDM", "HDDM_A", "HDDM_W")


def real_stream(seed: int, n: int = 500) -> list[float]:
    """Unit-variance normal noise whose mean jumps 0 -> 3 -> 0 -> 3 every `n` values."""
    rng = np.random.default_rng(seed)
    return [float(v) for m in (0.0, 3.0, 0.0, 3.0) for v in rng.normal(m, 1.0, n)]


def binary_stream(seed: int, n: int = 500) -> list[float]:
    """0/1 errors whose rate moves 0.1 -> 0.5 -> 0.1 -> 0.6 -> 0.1 -> 0.8 every `n` values."""
    rng = np.random.default_rng(seed)
    rates = (0.1, 0.5, 0.1, 0.6, 0.1, 0.8)
    return [float(v) for p in rates for v in (rng.random(n) < p).astype(np.int64)]


def kswin_stream(seed: int) -> list[float]:
    return real_stream(seed, n=150)  # KSWIN runs a KS test per value: keep it short


KSWIN_FAST: dict[str, ParamValue] = {"window_size": 50, "stat_size": 15, "alpha": 0.001}
Case = tuple[str, dict[str, ParamValue], Callable[[int], list[float]]]
CASES: list[Case] = [
    ("ADWIN", {}, real_stream),
    ("ADWIN", {"clock": 1, "delta": 0.01}, real_stream),
    ("PageHinkley", {}, real_stream),
    ("PageHinkley", {"mode": "up", "threshold": 20.0}, real_stream),
    ("KSWIN", {**KSWIN_FAST, "seed": 7}, kswin_stream),
    ("DDM", {}, binary_stream),
    ("EDDM", {}, binary_stream),
    ("HDDM_A", {}, binary_stream),
    ("HDDM_A", {"two_sided_test": True}, binary_stream),
    ("HDDM_W", {}, binary_stream),
    ("HDDM_W", {"two_sided_test": True, "lambda_val": 0.1}, binary_stream),
]
CASE_IDS = [f"{name}-{'-'.join(map(str, params.values()))}" for name, params, _ in CASES]


def raw_positions(
    name: str, params: Mapping[str, ParamValue], values: Sequence[float], resets: set[int]
) -> list[int]:
    """Run River's own detector; a fresh one replaces it before each position in `resets`."""
    detector = RAW[name](**params)
    found = []
    for position, value in enumerate(values):
        if position in resets:
            detector = RAW[name](**params)
        detector.update(value)
        if detector.drift_detected:
            found.append(position)
    return found


def river_example(name: str) -> tuple[list[float], dict[str, ParamValue]]:
    """The stream and parameters of the example in River's docstring for `name`."""
    if name in BINARY:
        rng = random.Random(42)
        stream = rng.choices([0, 1], k=1000) + rng.choices([0, 1], k=1000, weights=[0.3, 0.7])
        return [float(v) for v in stream], ({"alpha": 0.8, "beta": 0.75} if name == "EDDM" else {})
    rng = random.Random(12345)
    stream = rng.choices([0, 1], k=1000) + rng.choices(range(4, 8), k=1000)
    return [float(v) for v in stream], ({"alpha": 0.0001, "seed": 42} if name == "KSWIN" else {})


# The printed output of each example in River 0.26's docstrings.
RIVER_OUTPUT: dict[str, list[tuple[str, int]]] = {
    "ADWIN": [("change", 1023)],
    "PageHinkley": [("change", 1006)],
    "KSWIN": [("change", 1016)],
    "DDM": [("warning", 1084), ("change", 1334), ("warning", 1492)],
    "EDDM": [("warning", 1059), ("change", 1278)],
    "HDDM_A": [("warning", 451), ("change", 1206)],
    "HDDM_W": [("warning", 451), ("change", 1077)],
}


@pytest.mark.parametrize("name", DETECTORS)
def test_river_docstring_examples_are_reproduced(name: str) -> None:
    stream, params = river_example(name)
    detector = make_detector(name, **params)
    printed, print_warning = [], True
    for i, x in enumerate(stream):
        detector.update(x)
        if detector.warning_detected and print_warning:
            printed.append(("warning", i))
            print_warning = False
        if detector.drift_detected:
            printed.append(("change", i))
            print_warning = True
    assert printed == RIVER_OUTPUT[name]
    changes = [i for event, i in RIVER_OUTPUT[name] if event == "change"]
    assert list(detector.detections) == changes  # update_many: the module's doctest


@pytest.mark.parametrize(("name", "params", "stream"), CASES, ids=CASE_IDS)
@pytest.mark.parametrize("seed", [1, 2])
def test_positions_equal_the_raw_river_detector(
    name: str, params: dict[str, ParamValue], stream: Callable[[int], list[float]], seed: int
) -> None:
    values = stream(seed)
    detector = make_detector(name, **params)
    expected = raw_positions(name, detector.params, values, resets=set())
    assert len(expected) >= 2  # the stream has several changes
    assert detector.update_many(values) == expected
    assert detector.detections == tuple(expected)
    assert detector.position == len(values)


@pytest.mark.parametrize(("name", "params", "stream"), CASES, ids=CASE_IDS)
def test_explicit_resets_match_a_fresh_river_detector(
    name: str, params: dict[str, ParamValue], stream: Callable[[int], list[float]]
) -> None:
    values = stream(3)
    resets = {len(values) // 4 + 3, len(values) // 2 + 5, 3 * len(values) // 4 + 2}
    detector = make_detector(name, **params)
    for position, value in enumerate(values):
        if position in resets:
            detector.reset()
        detector.update(value)
    assert detector.position == len(values)
    assert list(detector.detections) == raw_positions(name, detector.params, values, resets)


def test_reset_discards_the_evidence_gathered_so_far() -> None:
    values = real_stream(1)
    uninterrupted = make_detector().update_many(values)
    detector = make_detector()
    detector.update_many(values[:505])
    detector.reset()
    detector.update_many(values[505:])
    assert uninterrupted[0] == 511
    assert 511 not in detector.detections
    assert detector.position == len(values)


@pytest.mark.parametrize(("name", "params", "stream"), CASES, ids=CASE_IDS)
def test_drift_is_flagged_once_per_detection(
    name: str, params: dict[str, ParamValue], stream: Callable[[int], list[float]]
) -> None:
    detector = make_detector(name, **params)
    flagged = [i for i, x in enumerate(stream(1)) if detector.update(x).drift_detected]
    assert flagged
    assert tuple(flagged) == detector.detections


@pytest.mark.parametrize(("name", "params", "stream"), CASES, ids=CASE_IDS)
def test_detector_starts_afresh_after_each_detection(
    name: str, params: dict[str, ParamValue], stream: Callable[[int], list[float]]
) -> None:
    values = stream(2)
    found = make_detector(name, **params).update_many(values)
    first = found[0] + 1
    fresh = make_detector(name, **params).update_many(values[first:])
    assert found[1:] == [first + position for position in fresh]


def test_reset_after_a_detection_clears_the_flag_and_keeps_history() -> None:
    values = real_stream(1)
    detector = make_detector()
    detector.update_many(values[:512])
    assert detector.drift_detected
    assert detector.detections == (511,)
    detector.reset()
    assert not detector.drift_detected
    assert (detector.detections, detector.position) == ((511,), 512)
    assert 511 not in detector.update_many(values[512:])


def test_restored_detector_does_not_report_a_detection_again() -> None:
    values = real_stream(1)
    uninterrupted = make_detector().update_many(values)
    detector = make_detector()
    detector.update_many(values[: uninterrupted[0] + 1])
    assert detector.drift_detected
    restored = OnlineDriftDetector.from_state(json.loads(json.dumps(detector.to_state())))
    assert not restored.drift_detected
    restored.update_many(values[uninterrupted[0] + 1 :])
    assert list(restored.detections) == uninterrupted


def test_update_many_flag_follows_the_last_value_of_the_batch() -> None:
    values = real_stream(1)
    detector = make_detector()
    assert detector.update_many(values[:512]) == [511]
    assert detector.drift_detected
    assert detector.update_many([]) == []
    assert detector.drift_detected
    assert detector.update_many(values[512:520]) == []
    assert not detector.drift_detected


BAD_PARAMS: list[tuple[str, dict[str, Any], str]] = [
    ("adwin", {"delta": 1.5}, "ADWIN delta must be in (0, 1), got 1.5"),
    ("adwin", {"delta": 0}, "ADWIN delta must be in (0, 1), got 0"),
    ("adwin", {"delta": float("nan")}, "ADWIN delta must be in (0, 1), got nan"),
    ("adwin", {"delta": "0.1"}, "ADWIN delta must be in (0, 1), got '0.1'"),
    ("adwin", {"delta": True}, "ADWIN delta must be in (0, 1), got True"),
    ("adwin", {"clock": 0}, "ADWIN clock must be an integer in [1, 2147483647], got 0"),
    ("adwin", {"clock": 2.0}, "ADWIN clock must be an integer in [1, 2147483647], got 2.0"),
    ("adwin", {"max_buckets": 0}, "ADWIN max_buckets must be an integer in [1, 2147483647]"),
    ("adwin", {"grace_period": -1}, "ADWIN grace_period must be an integer in [0, 2147483647]"),
    ("adwin", {"clock": 2**31}, "ADWIN clock must be an integer in [1, 2147483647]"),
    ("page_hinkley", {"threshold": 0.0}, "PageHinkley threshold must be in (0, inf), got 0.0"),
    ("PageHinkley", {"threshold": float("inf")}, "threshold must be in (0, inf), got inf"),
    ("PageHinkley", {"delta": -0.1}, "PageHinkley delta must be in [0, inf), got -0.1"),
    ("PageHinkley", {"alpha": 0.0}, "PageHinkley alpha must be in (0, 1], got 0.0"),
    ("PageHinkley", {"min_instances": 0}, "PageHinkley min_instances must be an integer >= 1"),
    ("PageHinkley", {"mode": "sideways"},
     "PageHinkley mode must be one of 'up', 'down', 'both', got 'sideways'"),
    ("kswin", {"alpha": 1.0}, "KSWIN alpha must be in (0, 1), got 1.0"),
    ("kswin", {"window_size": 1}, "KSWIN window_size must be an integer >= 2, got 1"),
    ("kswin", {"stat_size": 51}, "KSWIN stat_size must be an integer in [1, window_size // 2] = "
                                 "[1, 50], got 51"),
    ("kswin", {"seed": -1}, "KSWIN seed must be an integer >= 0, got -1"),
    ("kswin", {"seed": None}, "KSWIN seed must be an integer >= 0, got None"),
    ("ddm", {"warm_start": -1}, "DDM warm_start must be an integer >= 0, got -1"),
    ("ddm", {"drift_threshold": 1.5}, "DDM drift_threshold must be >= warning_threshold (2.0), "
                                      "got 1.5"),
    ("eddm", {"beta": 0.97}, "EDDM alpha must be >= beta (0.97), got 0.95"),
    ("eddm", {"alpha": 1.5}, "EDDM alpha must be in (0, 1], got 1.5"),
    ("hddm_a", {"drift_confidence": 0.0}, "HDDM_A drift_confidence must be in (0, 1), got 0.0"),
    ("hddm_a", {"two_sided_test": 1}, "HDDM_A two_sided_test must be one of True, False, got 1"),
    ("hddm_w", {"lambda_val": 0.0}, "HDDM_W lambda_val must be in (0, 1], got 0.0"),
    ("hddm_w", {"warning_confidence": 0.0001},
     "HDDM_W warning_confidence must be >= drift_confidence (0.001), got 0.0001"),
]


@pytest.mark.parametrize(("name", "params", "message"), BAD_PARAMS)
def test_bad_parameters_are_rejected_before_river_sees_them(
    name: str, params: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        make_detector(name, **params)


def test_unknown_detector_lists_the_allowed_ones() -> None:
    allowed = "allowed: ADWIN, PageHinkley, KSWIN, DDM, EDDM, HDDM_A, HDDM_W"
    with pytest.raises(ValueError, match=re.escape(f"unknown detector 'cusum'; {allowed}")):
        make_detector("cusum")


def test_unknown_parameter_lists_the_allowed_ones() -> None:
    message = ("unknown ADWIN parameter(s) threshold; "
               "allowed: delta, clock, max_buckets, min_window_length, grace_period")
    with pytest.raises(ValueError, match=re.escape(message)):
        make_detector("adwin", threshold=3.0)


@pytest.mark.parametrize("alias", ["hddm_a", "HDDM_A", "hddma", "HDDM-A"])
def test_names_ignore_case_underscores_and_dashes(alias: str) -> None:
    assert make_detector(alias).name == "HDDM_A"


def test_params_are_effective_values_and_accept_numpy_and_int_numbers() -> None:
    options: dict[str, Any] = {"min_instances": np.int64(10), "threshold": 20}
    detector = make_detector("PageHinkley", **options)
    assert detector.params == {
        "min_instances": 10, "delta": 0.005, "threshold": 20.0, "alpha": 0.9999, "mode": "both"}
    assert type(detector.params["threshold"]) is float
    detector.params["threshold"] = 1.0
    assert detector.params["threshold"] == 20.0
    assert make_detector().name == "ADWIN"


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("DDM", 0.5, "DDM input must be 0 or 1 (1 = error), got 0.5"),
        ("EDDM", 2, "EDDM input must be 0 or 1 (1 = error), got 2"),
        ("HDDM_A", -1, "HDDM_A input must be 0 or 1 (1 = error), got -1"),
        ("HDDM_W", float("nan"), "HDDM_W input must be 0 or 1 (1 = error), got nan"),
        ("ADWIN", float("inf"), "ADWIN input must be a finite real number, got inf"),
        ("PageHinkley", "1.0", "PageHinkley input must be a finite real number, got '1.0'"),
        ("KSWIN", None, "KSWIN input must be a finite real number, got None"),
    ],
)
def test_bad_input_values_are_rejected(name: str, value: Any, message: str) -> None:
    detector = make_detector(name)
    with pytest.raises(ValueError, match=re.escape(message)):
        detector.update(value)
    assert detector.position == 0


@pytest.mark.parametrize(
    ("name", "batch", "message"),
    [
        ("DDM", [0, 1, 1, 2, 0], "DDM input must be 0 or 1 (1 = error), got 2.0 at index 3"),
        ("ADWIN", np.array([0.1, np.nan]),
         "ADWIN input must be a finite real number, got nan at index 1"),
        ("ADWIN", [[0.1, 0.2]], "values must be a 1-D sequence of real numbers, got dtype "
                                "float64 and shape (1, 2)"),
        ("ADWIN", ["a", "b"], "ADWIN values must be a 1-D sequence of real numbers"),
        ("ADWIN", [0.1, None], "ADWIN values must be a 1-D sequence of real numbers"),
    ],
)
def test_a_bad_batch_is_rejected_whole(name: str, batch: Any, message: str) -> None:
    values = binary_stream(1) if name in BINARY else real_stream(1)
    detector = make_detector(name)
    detector.update_many(values[:600])
    with pytest.raises(ValueError, match=re.escape(message)):
        detector.update_many(batch)
    assert detector.position == 600
    detector.update_many(values[600:])
    assert list(detector.detections) == make_detector(name).update_many(values)


def test_binary_detectors_accept_booleans() -> None:
    values = binary_stream(1)
    expected = make_detector("DDM").update_many(values)
    as_bools = np.asarray(values) == 1.0
    assert make_detector("DDM").update_many(as_bools) == expected
    detector = make_detector("DDM")
    for flag in as_bools.tolist():
        detector.update(flag)
    assert list(detector.detections) == expected


def chunked(values: Sequence[float], cuts: Sequence[int]) -> list[Sequence[float]]:
    edges = [0, *sorted(cuts), len(values)]
    return [values[a:b] for a, b in itertools.pairwise(edges)]


def assert_batches_match_single_updates(
    name: str, params: Mapping[str, ParamValue], values: list[float], cuts: Sequence[int]
) -> None:
    single, batched = make_detector(name, **params), make_detector(name, **params)
    flags = [single.update(x).drift_detected for x in values]
    found: list[int] = []
    for chunk in chunked(values, cuts):
        found += batched.update_many(np.asarray(chunk))
        if batched.position:
            assert batched.drift_detected == flags[batched.position - 1]
    assert found == list(single.detections) == list(batched.detections)
    assert batched.position == single.position == len(values)


@pytest.mark.parametrize(("name", "params", "stream"), CASES, ids=CASE_IDS)
def test_update_many_equals_repeated_update(
    name: str, params: dict[str, ParamValue], stream: Callable[[int], list[float]]
) -> None:
    values = stream(4)
    detections = make_detector(name, **params).update_many(values)
    cuts = [0, 7, 7, *detections, *(p + 1 for p in detections), len(values) // 3]
    assert_batches_match_single_updates(name, params, values, cuts)


@settings(max_examples=40, deadline=None)
@given(
    name=st.sampled_from(["ADWIN", "PageHinkley", "DDM", "HDDM_W"]),
    cuts=st.lists(st.integers(min_value=0, max_value=2000), max_size=12),
)
def test_update_many_equals_repeated_update_for_any_split(name: str, cuts: list[int]) -> None:
    values = binary_stream(5, n=350) if name in BINARY else real_stream(5)
    assert_batches_match_single_updates(name, {}, values, cuts)


@pytest.mark.parametrize(("name", "params", "stream"), CASES, ids=CASE_IDS)
def test_state_round_trip_mid_stream_gives_the_same_detections(
    name: str, params: dict[str, ParamValue], stream: Callable[[int], list[float]]
) -> None:
    values = stream(1)
    uninterrupted = make_detector(name, **params).update_many(values)
    for cut in (len(values) // 3, uninterrupted[0], uninterrupted[0] + 1):
        detector = make_detector(name, **params)
        detector.update_many(values[:cut])
        state = json.loads(json.dumps(detector.to_state(), allow_nan=False))
        restored = OnlineDriftDetector.from_state(state)
        assert (restored.name, restored.params, restored.position) == (name, detector.params, cut)
        restored.update_many(values[cut:])
        assert any(p >= cut for p in uninterrupted)
        assert list(restored.detections) == uninterrupted


def test_state_keeps_position_and_history_after_reset() -> None:
    detector = make_detector("DDM")
    detector.update_many(binary_stream(1)[:600])
    detector.reset()
    state = detector.to_state()
    assert state["position"] == 600
    assert state["detections"] == list(detector.detections) != []


def corrupt(state: dict[str, object], **changes: object) -> dict[str, object]:
    return {**state, **changes}


def test_bad_states_are_rejected() -> None:
    adwin = make_detector()
    adwin.update_many(real_stream(1)[:600])
    state = adwin.to_state()
    other = make_detector("PageHinkley").to_state()["river_state"]
    cases: list[tuple[dict[str, object], str]] = [
        (corrupt(state, format=2), "state format must be 1, got 2"),
        (corrupt(state, river_version="0.1.0"), "state river_version must be"),
        (corrupt(state, params={"delta": 2.0}), "ADWIN delta must be in (0, 1), got 2.0"),
        (corrupt(state, detector="cusum"), "unknown detector 'cusum'"),
        (corrupt(state, position=-1), "state position must be an integer >= 0, got -1"),
        (corrupt(state, detections=[511, 511]), "state detections must be increasing positions"),
        (corrupt(state, detections=[700]), "state detections must be increasing positions"),
        (corrupt(state, river_state=other), "state river_state must hold a ADWIN detector"),
        (corrupt(state, river_state="not base64!"), "state river_state cannot be decoded"),
    ]
    for bad, message in cases:
        with pytest.raises(ValueError, match=re.escape(message)):
            OnlineDriftDetector.from_state(bad)


def test_kswin_is_deterministic_for_a_seed_and_ignores_global_random_state() -> None:
    values = np.random.default_rng(3).normal(0.0, 1.0, 600)
    params: dict[str, ParamValue] = {**KSWIN_FAST, "alpha": 0.05}
    saved = random.getstate()
    try:
        runs = []
        for global_seed in (1, 2):
            random.seed(global_seed)
            runs.append(make_detector("KSWIN", seed=5, **params).update_many(values))
    finally:
        random.setstate(saved)
    assert runs[0] == runs[1] != []
    other_seeds = {tuple(make_detector("KSWIN", seed=s, **params).update_many(values))
                   for s in (0, 1, 2)}
    assert len(other_seeds) > 1  # the seed does drive KSWIN's sampling


def test_detection_records_carry_position_detector_and_parameters() -> None:
    detector = make_detector("ADWIN", delta=0.01)
    first = detector.update_many(real_stream(1))[0]
    record = detector.detection(first)
    assert record == DriftDetection(first, "ADWIN", detector.params)
    assert record.params["delta"] == 0.01
    with pytest.raises(TypeError):
        record.params["delta"] = 0.5  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        record.position = 0  # type: ignore[misc]
    with pytest.raises(ValueError, match="no ADWIN detection at position 3"):
        detector.detection(3)
