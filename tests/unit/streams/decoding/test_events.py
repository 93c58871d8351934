"""Event schema v1: batched decoding, dead letters and numpy columns."""

from __future__ import annotations

import base64
import json
import math
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import msgspec
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streams.config.settings import IngestSettings
from streams.decoding.columns import row_keys, to_model_batches
from streams.decoding.events import (
    DEAD_LETTER_REASONS,
    DEAD_LETTER_VALUE_BYTES,
    DeadLetter,
    DecodedBatch,
    PredictionEvent,
    RawMessage,
    decode_labels,
    decode_predictions,
)

NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
INGEST = IngestSettings()


def _event(**changes: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "event_id": "3f1c", "model_id": "fraud", "model_version": "7",
        "event_time": "2026-11-22T10:00:00.123Z", "prediction_id": "req-881",
        "features": {"amount": 41.5, "country": "DE", "age": None},
        "prediction": 1, "score": 0.87, "segment": {"region": "eu"}}
    event.update(changes)
    return {k: v for k, v in event.items() if v is not ...}


def _message(value: bytes | None, offset: int = 0, partition: int = 0) -> RawMessage:
    return RawMessage("driftline.predictions", partition, offset, b"fraud", value, 1)


def _decode(*values: bytes | None, ingest: IngestSettings = INGEST,
            known: list[str] | None = None) -> DecodedBatch:
    messages = [_message(v, offset=i) for i, v in enumerate(values)]
    return decode_predictions(messages, now=NOW, ingest=ingest, known_models=known)


def _raw(event: dict[str, Any]) -> bytes:
    return json.dumps(event).encode()


def _one_dead(value: bytes | None, **kwargs: Any) -> DeadLetter:
    batch = _decode(value, **kwargs)
    assert batch.events == []
    (dead,) = batch.dead_letters
    return dead


# ----- valid events --------------------------------------------------------------------------
def test_the_docstring_example_decodes() -> None:
    batch = _decode(_raw(_event()))
    (event,) = batch.events
    assert batch.positions == [(0, 0)]
    assert batch.dead_letters == []
    assert event == PredictionEvent(
        event_id="3f1c", model_id="fraud", model_version="7",
        event_time=datetime(2026, 11, 22, 10, 0, 0, 123000, tzinfo=UTC),
        prediction_id="req-881", features={"amount": 41.5, "country": "DE", "age": None},
        prediction=1, score=0.87, segment={"region": "eu"})


def test_optional_fields_default_and_unknown_fields_are_ignored() -> None:
    event = _event(model_version=..., prediction_id=..., prediction=..., score=...,
                   segment=..., schema="v1", extra={"nested": [1, 2]})
    (decoded,) = _decode(_raw(event)).events
    assert decoded.model_version == "1"
    assert (decoded.prediction_id, decoded.prediction, decoded.score, decoded.segment) == (
        None, None, None, None)


def test_positions_follow_the_valid_messages() -> None:
    messages = [_message(_raw(_event()), offset=10, partition=2),
                _message(b"{", offset=11, partition=2),
                _message(_raw(_event()), offset=12, partition=3)]
    batch = decode_predictions(messages, now=NOW, ingest=INGEST)
    assert batch.positions == [(2, 10), (3, 12)]
    assert [(d.partition, d.offset) for d in batch.dead_letters] == [(2, 11)]


@pytest.mark.parametrize(("text", "expected"), [
    ("2026-11-22T12:00:00+02:00", datetime(2026, 11, 22, 10, 0, tzinfo=UTC)),
    ("2026-11-22T05:30:00-04:30", datetime(2026, 11, 22, 10, 0, tzinfo=UTC)),
    ("2026-11-22T10:00:00.5Z", datetime(2026, 11, 22, 10, 0, 0, 500000, tzinfo=UTC)),
])
def test_event_time_offsets_name_the_same_instant(text: str, expected: datetime) -> None:
    (event,) = _decode(_raw(_event(event_time=text))).events
    assert event.event_time == expected
    (batch,) = to_model_batches([event], [(0, 0)]).values()
    assert batch.event_times[0] == expected.timestamp()


def test_now_must_be_timezone_aware() -> None:
    with pytest.raises(ValueError, match="now must be a timezone-aware datetime"):
        decode_predictions([], now=datetime(2026, 1, 1), ingest=INGEST)


# ----- dead letters: one per reason, with its exact message ----------------------------------
# Every detail is driftline's own text (streams/decoding/problems.py): no expectation here quotes
# the decoder's wording, which changes between its releases. Malformed JSON is told by the
# error's type; its detail starts with our words (``BAD_JSON``) and may quote the parser after.
BAD_JSON = "not valid JSON"
REASONS: list[tuple[bytes | None, str, str]] = [
    (None, "empty_payload", "message has no value"),
    (b"", "empty_payload", "message value is empty"),
    (b"{", "bad_json", BAD_JSON),
    (b"\xff\xfe", "bad_json", BAD_JSON),
    (b'{"a": NaN}', "bad_json", BAD_JSON),
    (_raw(_event()).replace(b"3f1c", b"3f\x80c"), "bad_json", BAD_JSON),
    (_raw(_event(features={"c": "D"})).replace(b'"D"', b'"D\xc3"'), "bad_json", BAD_JSON),
    (b"[1, 2]", "wrong_type", "the event must be a JSON object, got an array"),
    (b'"text"', "wrong_type", "the event must be a JSON object, got text"),
    (_raw(_event(model_id=7)), "wrong_type", "$.model_id must be text, got a number"),
    (_raw(_event(model_version=7)), "wrong_type", "$.model_version must be text, got a number"),
    (_raw(_event(model_version=None)), "wrong_type", "$.model_version must be text, got null"),
    (_raw(_event(features={"x": [1]})), "wrong_type",
     '$.features["x"] must be a number or text or a boolean or null, got an array'),
    (_raw(_event(features={"a": 1, "x": {}})), "wrong_type",
     '$.features["x"] must be a number or text or a boolean or null, got an object'),
    (_raw(_event(features=None)), "wrong_type", "$.features must be an object, got null"),
    (_raw(_event(features=[1])), "wrong_type", "$.features must be an object, got an array"),
    (_raw(_event(event_time=1_700_000_000)), "wrong_type",
     "$.event_time must be an RFC 3339 time (text), got a number"),
    (_raw(_event(score="0.5")), "wrong_type", "$.score must be a number or null, got text"),
    (_raw(_event(score=True)), "wrong_type", "$.score must be a number or null, got a boolean"),
    (_raw(_event(segment={"region": 1})), "wrong_type",
     '$.segment["region"] must be text, got a number'),
    (_raw(_event(event_id=...)), "missing_field", "required field $.event_id is missing"),
    (_raw(_event(features=...)), "missing_field", "required field $.features is missing"),
    (_raw(_event(model_id="")), "bad_value", "$.model_id must not be empty"),
    (_raw(_event(event_time="2026-11-22T10:00:00")), "bad_value",
     "$.event_time must carry a timezone (Z or +hh:mm), got '2026-11-22T10:00:00'"),
    (_raw(_event(event_time="22/11/2026")), "bad_value",
     "$.event_time must be an RFC 3339 time such as 2026-11-22T10:00:00Z, got '22/11/2026'"),
    (_raw(_event()).replace(b"0.87", b"1e999"), "bad_value",
     "$.score must be a finite number, got inf"),
    (_raw(_event()).replace(b"0.87", b"-1e999"), "bad_value",
     "$.score must be a finite number, got -inf"),
    (_raw(_event()).replace(b"0.87", b"1" + b"0" * 400), "bad_value",
     "$.score is a number too large for a double"),
    (_raw(_event(event_time="2026-11-22T11:00:00.001Z")), "future_timestamp",
     "event_time 2026-11-22T11:00:00.001000+00:00 is later than now + ingest.max_future "
     "(2026-11-22T11:00:00+00:00)"),
    (_raw(_event(event_time="2026-11-15T09:59:59Z")), "past_timestamp",
     "event_time 2026-11-15T09:59:59+00:00 is earlier than now - ingest.max_past "
     "(2026-11-15T10:00:00+00:00)"),
]


@pytest.mark.parametrize(("value", "reason", "detail"), REASONS)
def test_each_dead_letter_reason(value: bytes | None, reason: str, detail: str) -> None:
    dead = _one_dead(value)
    assert dead.reason == reason
    if reason == "bad_json":
        assert dead.detail.startswith(detail), dead.detail
    else:
        assert dead.detail == detail
    assert (dead.topic, dead.partition, dead.offset, dead.key, dead.value) == (
        "driftline.predictions", 0, 0, b"fraud", value)


def test_the_first_problem_in_field_order_is_the_one_told() -> None:
    value = _raw(_event(event_id=..., model_id=7, features=None))
    assert (_one_dead(value).reason, _one_dead(value).detail) == (
        "missing_field", "required field $.event_id is missing")


def test_label_problems_use_the_same_checks() -> None:
    label = {"prediction_id": "p1", "model_id": "fraud", "event_time": "2026-11-22T10:00:00Z"}
    cases = [
        ({**label, "label": None}, "wrong_type",
         "$.label must be a number or text or a boolean, got null"),
        ({k: v for k, v in label.items() if k != "prediction_id"} | {"label": 1},
         "missing_field", "required field $.prediction_id is missing"),
        ({**label, "prediction_id": "", "label": 1}, "bad_value",
         "$.prediction_id must not be empty"),
    ]
    for payload, reason, detail in cases:
        message = RawMessage("driftline.labels", 0, 0, b"p1", json.dumps(payload).encode())
        (dead,) = decode_labels([message], now=NOW, ingest=INGEST).dead_letters
        assert (dead.reason, dead.detail) == (reason, detail)


def test_deeply_nested_unknown_field_is_bad_value() -> None:
    deep = _raw(_event()).replace(b'"3f1c"', b'"3f1c", "x": ' + b"[" * 100_000 + b"]" * 100_000)
    assert _one_dead(deep).reason == "bad_value"
    assert _one_dead(deep).detail == (
        "the event nests objects or arrays 100001 deep, more than 32")


def test_oversize() -> None:
    value = _raw(_event(pad="x" * 100))
    exact = IngestSettings(max_event_bytes=len(value))
    assert _decode(value, ingest=exact).events
    smaller = IngestSettings(max_event_bytes=len(value) - 1)
    dead = _one_dead(value, ingest=smaller)
    assert (dead.reason, dead.detail) == (
        "oversize", f"message value is {len(value)} bytes, more than "
        f"ingest.max_event_bytes ({len(value) - 1})")


def test_time_bounds_are_inclusive() -> None:
    edges = [_raw(_event(event_time="2026-11-22T11:00:00Z")),
             _raw(_event(event_time="2026-11-15T10:00:00Z"))]
    assert len(_decode(*edges).events) == 2


def test_unknown_model_only_under_reject() -> None:
    value = _raw(_event(model_id="churn"))
    reject = IngestSettings(unknown_models="reject")
    dead = _one_dead(value, ingest=reject, known=["fraud"])
    assert (dead.reason, dead.detail) == (
        "unknown_model", "model_id 'churn' is not listed under models "
        "(ingest.unknown_models is reject)")
    assert _decode(_raw(_event()), ingest=reject, known=["fraud"]).events
    assert _decode(value, ingest=INGEST, known=["fraud"]).events
    assert _one_dead(value, ingest=reject, known=None).reason == "unknown_model"


def test_every_reason_is_covered_by_a_test() -> None:
    # too_many_models: tests/unit/streams/ingest/test_model_cap.py
    covered = {reason for _, reason, _ in REASONS} | {"oversize", "unknown_model",
                                                      "too_many_models"}
    assert covered == set(DEAD_LETTER_REASONS)


# ----- the dead-letter record ------------------------------------------------------------------
def test_dead_letter_json_keeps_utf8_as_text() -> None:
    dead = DeadLetter("bad_json", "Input data was truncated", "t", 1, 2, b"k", '{"é'.encode())
    record = json.loads(dead.to_json())
    assert record == {
        "reason": "bad_json", "error": "Input data was truncated", "topic": "t",
        "partition": 1, "offset": 2,
        "key": {"encoding": "utf-8", "data": "k", "size": 1, "truncated": False},
        "value": {"encoding": "utf-8", "data": '{"é', "size": 4, "truncated": False}}


def test_dead_letter_json_base64_for_binary_and_null_key() -> None:
    record = json.loads(DeadLetter("bad_json", "x", "t", 0, 0, None, b"\xff\x00").to_json())
    assert record["key"] is None
    assert record["value"] == {"encoding": "base64", "data": base64.b64encode(b"\xff\x00")
                               .decode(), "size": 2, "truncated": False}


def test_dead_letter_value_is_truncated_without_cutting_a_character() -> None:
    value = b"a" * (DEAD_LETTER_VALUE_BYTES - 1) + "é".encode() + b"tail"
    record = json.loads(DeadLetter("oversize", "x", "t", 0, 0, None, value).to_json())
    assert record["value"]["data"] == "a" * (DEAD_LETTER_VALUE_BYTES - 1)
    assert (record["value"]["size"], record["value"]["truncated"]) == (len(value), True)
    binary = b"\xff" * (DEAD_LETTER_VALUE_BYTES + 10)
    record = json.loads(DeadLetter("oversize", "x", "t", 0, 0, None, binary).to_json())
    assert base64.b64decode(record["value"]["data"]) == binary[:DEAD_LETTER_VALUE_BYTES]


# ----- NaN and infinity ------------------------------------------------------------------------
def test_huge_numbers_in_features_are_infinite_not_errors() -> None:
    value = _raw(_event(features={"a": 1.0, "b": 2.0, "c": 3}))
    value = value.replace(b"1.0", b"1e999").replace(b"2.0", b"-1e999")
    value = value.replace(b'"c": 3', b'"c": ' + b"9" * 400)
    batch = _decode(value)
    (event,) = batch.events
    assert event.features["a"] == math.inf
    assert event.features["b"] == -math.inf
    (columns,) = to_model_batches(batch.events, batch.positions).values()
    assert columns.columns["a"].tolist() == [math.inf]
    assert columns.columns["b"].tolist() == [-math.inf]
    assert columns.columns["c"].tolist() == [math.inf]
    assert not columns.missing["a"].any()


# ----- labels -------------------------------------------------------------------------------------
def test_labels_decode_and_dead_letter() -> None:
    good = b'{"prediction_id": "r1", "model_id": "fraud", "label": true, ' \
           b'"event_time": "2026-11-22T09:00:00Z"}'
    messages = [RawMessage("driftline.labels", 0, i, b"r1", v, None)
                for i, v in enumerate([good, b'{"prediction_id": "r1", "model_id": "fraud"}',
                                       good.replace(b"true", b"null")])]
    batch = decode_labels(messages, now=NOW, ingest=INGEST)
    assert [e.label for e in batch.events] == [True]
    assert batch.positions == [(0, 0)]
    assert [(d.reason, d.offset) for d in batch.dead_letters] == [
        ("missing_field", 1), ("wrong_type", 2)]


# ----- fuzz: nothing a producer sends raises ------------------------------------------------------
def _containers(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    # A named function: hypothesis inspects ``extend``'s source to see that it recurses, and
    # that inspection fails now and then on a lambda spread over several lines.
    return st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8), _containers, max_leaves=12)
SCALAR = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
FIELD = st.sampled_from(["event_id", "model_id", "model_version", "event_time", "features",
                         "prediction", "score", "segment", "prediction_id"])
NEAR_VALID = st.builds(
    lambda changes, drop: {k: v for k, v in {**_event(), **changes}.items() if k not in drop},
    st.dictionaries(FIELD, JSON | st.dictionaries(st.text(max_size=5), SCALAR, max_size=3)
                    | st.sampled_from(["2026-11-22T10:00:00Z", "2026-11-22T10:00:00",
                                       "2999-01-01T00:00:00Z", ""]), max_size=3),
    st.sets(FIELD, max_size=2))


def _check_batch(values: list[bytes | None]) -> None:
    batch = _decode(*values, ingest=IngestSettings(max_event_bytes=4096, unknown_models="reject"),
                    known=["fraud"])
    assert len(batch.events) + len(batch.dead_letters) == len(values)
    assert len(batch.positions) == len(batch.events)
    for dead in batch.dead_letters:
        assert dead.reason in DEAD_LETTER_REASONS
        assert "\n" not in dead.detail
        assert json.loads(dead.to_json())["reason"] == dead.reason
    for model_batch in to_model_batches(batch.events, batch.positions).values():
        assert all(len(c) == len(model_batch) for c in model_batch.columns.values())


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.binary(max_size=200) | st.none(), max_size=5))
def test_fuzz_arbitrary_bytes(values: list[bytes | None]) -> None:
    _check_batch(values)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(JSON, max_size=5))
def test_fuzz_arbitrary_json(values: list[Any]) -> None:
    _check_batch([msgspec.json.encode(v) for v in values])


@settings(max_examples=500, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(NEAR_VALID, min_size=1, max_size=5))
def test_fuzz_near_valid_events(values: list[dict[str, Any]]) -> None:
    _check_batch([msgspec.json.encode(v) for v in values])


VALID = _raw(_event())


@settings(max_examples=500, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, len(VALID) - 1), st.binary(min_size=1, max_size=3))
def test_fuzz_corrupted_bytes_of_a_valid_event(at: int, noise: bytes) -> None:
    _check_batch([VALID[:at] + noise + VALID[at + 1:], VALID[:at] + noise + VALID[at:]])


# ----- columns ---------------------------------------------------------------------------
def _batch(*features: dict[str, Any], **fields: Any) -> Any:
    raws = [_raw(_event(features=f, **fields)) for f in features]
    decoded = _decode(*raws)
    assert not decoded.dead_letters
    (model_batch,) = to_model_batches(decoded.events, decoded.positions).values()
    return model_batch


def test_numeric_feature_is_float64_with_nan_and_mask_for_missing() -> None:
    batch = _batch({"x": 1, "y": True}, {"x": 2.5}, {"x": None, "y": False})
    assert batch.columns["x"].dtype == np.float64
    np.testing.assert_array_equal(batch.columns["x"], [1.0, 2.5, np.nan])
    assert batch.missing["x"].tolist() == [False, False, True]
    assert batch.columns["y"].dtype == object
    assert batch.columns["y"].tolist() == ["true", None, "false"]
    assert batch.missing["y"].tolist() == [False, True, False]


def test_nan_set_in_code_is_a_value_not_a_missing_one() -> None:
    events = [PredictionEvent("e", "m", NOW, {"x": math.nan}),
              PredictionEvent("e", "m", NOW, {"x": None})]
    (batch,) = to_model_batches(events, [(0, 0), (0, 1)]).values()
    assert np.isnan(batch.columns["x"]).all()
    assert batch.missing["x"].tolist() == [False, True]


def test_mixed_feature_is_text_with_numbers_by_repr() -> None:
    batch = _batch({"z": 1}, {"z": "DE"}, {"z": 2.5}, {"z": True}, {})
    assert batch.columns["z"].tolist() == ["1", "DE", "2.5", "true", None]
    assert batch.missing["z"].tolist() == [False, False, False, False, True]


def test_all_missing_feature_is_numeric_and_fully_masked() -> None:
    batch = _batch({"a": None}, {"a": None})
    assert batch.columns["a"].dtype == np.float64
    assert np.isnan(batch.columns["a"]).all()
    assert batch.missing["a"].all()


def test_features_in_any_order_give_the_same_columns() -> None:
    same = _batch({"a": 1, "b": "x"}, {"a": 2, "b": "y"})
    shuffled = _batch({"a": 1, "b": "x"}, {"b": "y", "a": 2})
    assert same.columns.keys() == shuffled.columns.keys()
    for name in same.columns:
        assert same.columns[name].tolist() == shuffled.columns[name].tolist()
        assert same.missing[name].tolist() == shuffled.missing[name].tolist()
    assert same.feature_names == ("a", "b")


def test_outputs_are_columns_and_colliding_features_are_renamed() -> None:
    batch = _batch({"prediction": 3, "score": "s", "feature:x": 1, "x": 2})
    assert batch.feature_names == ("feature:prediction", "feature:score", "feature:feature:x",
                                   "x")
    assert batch.columns["prediction"].tolist() == [1.0]
    assert batch.columns["score"].tolist() == [0.87]
    assert batch.columns["feature:prediction"].tolist() == [3.0]
    assert batch.columns["feature:score"].tolist() == ["s"]


def test_prediction_and_score_missing_are_masked() -> None:
    batch = _batch({"a": 1}, prediction=..., score=...)
    assert batch.missing["prediction"].tolist() == [True]
    assert batch.missing["score"].tolist() == [True]
    assert batch.columns["score"].dtype == np.float64


def test_events_are_grouped_by_model_and_version() -> None:
    raws = [_raw(_event(model_version="1")), _raw(_event(model_version="2")),
            _raw(_event(model_id="churn")), _raw(_event(model_version="1"))]
    decoded = _decode(*raws)
    batches = to_model_batches(decoded.events, decoded.positions)
    assert sorted(batches) == [("churn", "7"), ("fraud", "1"), ("fraud", "2")]
    assert batches[("fraud", "1")].row_keys.tolist() == [0, 3]
    assert len(batches[("churn", "7")]) == 1


def test_row_keys_are_partition_shifted_by_40_bits_plus_offset() -> None:
    keys = row_keys([(0, 0), (0, 5), (3, 7), (2**24 - 1, 2**40 - 1)])
    assert keys.dtype == np.uint64
    assert keys.tolist() == [0, 5, (3 << 40) | 7, 2**64 - 1]
    for bad in [(0, 2**40), (2**24, 0), (-1, 0), (0, -1)]:
        with pytest.raises(ValueError, match="row keys need"):
            row_keys([bad])


def test_row_keys_do_not_depend_on_the_batch() -> None:
    events = _decode(_raw(_event()), _raw(_event())).events
    whole = to_model_batches(events, [(1, 100), (1, 101)])
    alone = to_model_batches(events[1:], [(1, 101)])
    assert whole[("fraud", "7")].row_keys[1] == alone[("fraud", "7")].row_keys[0]


def test_empty_batch_and_mismatched_positions() -> None:
    assert to_model_batches([], []) == {}
    with pytest.raises(ValueError, match="one position per event"):
        to_model_batches(_decode(_raw(_event())).events, [])


def test_event_times_are_epoch_seconds() -> None:
    batch = _batch({"a": 1}, {"a": 2}, event_time="2026-11-22T11:00:00.25+01:00")
    assert batch.event_times.dtype == np.float64
    assert batch.event_times.tolist() == [1795341600.25] * 2


def test_times_in_other_zones_compare_by_instant() -> None:
    zone = timezone(timedelta(hours=-5))
    edge = (NOW + timedelta(hours=1)).astimezone(zone).isoformat()
    assert _decode(_raw(_event(event_time=edge))).events


def test_prediction_ids_follow_the_rows_of_each_model_batch() -> None:
    raws = [_raw(_event(prediction_id="a")), _raw(_event(model_id="churn", prediction_id="b")),
            _raw(_event(prediction_id=...)), _raw(_event(prediction_id=None))]
    decoded = _decode(*raws)
    batches = to_model_batches(decoded.events, decoded.positions)
    fraud = batches[("fraud", "7")].prediction_ids
    assert fraud.dtype == object
    assert fraud.tolist() == ["a", None, None]
    assert batches[("churn", "7")].prediction_ids.tolist() == ["b"]
