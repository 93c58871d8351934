"""The columnar (Arrow) decode path gives exactly the per-event path's batches and dead letters."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from aiokafka.structs import ConsumerRecord
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streams.config.settings import IngestSettings
from streams.decoding.columns import ModelBatch
from streams.decoding.events import RawMessage
from streams.decoding.fastdecode import DecodedColumns, decode_prediction_columns

NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
INGEST = IngestSettings()
STRICT = IngestSettings(unknown_models="reject")


def _messages(values: Sequence[bytes | None], partition: int = 3) -> list[RawMessage]:
    return [RawMessage("driftline.predictions", partition, 100 + i, b"k", v, 1)
            for i, v in enumerate(values)]


def _both(values: Sequence[bytes | None], ingest: IngestSettings = INGEST,
          known: list[str] | None = None) -> tuple[DecodedColumns, DecodedColumns]:
    messages = _messages(values)
    fast = decode_prediction_columns(messages, now=NOW, ingest=ingest, known_models=known,
                                     min_rows=1)
    slow = decode_prediction_columns(messages, now=NOW, ingest=ingest, known_models=known,
                                     min_rows=len(messages) + 1)
    assert not slow.columnar
    return fast, slow


def _same_array(a: np.ndarray[Any, Any], b: np.ndarray[Any, Any]) -> None:
    assert a.dtype == b.dtype, (a, b)
    assert a.shape == b.shape
    if a.dtype == np.float64:
        assert a.view(np.uint64).tolist() == b.view(np.uint64).tolist(), (a, b)
    else:
        assert a.tolist() == b.tolist()
        assert [type(x) for x in a.tolist()] == [type(x) for x in b.tolist()]


def _same_batch(a: ModelBatch, b: ModelBatch) -> None:
    assert (a.model_id, a.model_version, a.feature_names) == (
        b.model_id, b.model_version, b.feature_names)
    assert list(a.columns) == list(b.columns)
    assert list(a.missing) == list(b.missing)
    for name in a.columns:
        _same_array(a.columns[name], b.columns[name])
        _same_array(a.missing[name], b.missing[name])
    _same_array(a.event_times, b.event_times)
    _same_array(a.row_keys, b.row_keys)
    _same_array(a.prediction_ids, b.prediction_ids)


def _assert_same(fast: DecodedColumns, slow: DecodedColumns) -> None:
    assert list(fast.batches) == list(slow.batches)
    for key in fast.batches:
        _same_batch(fast.batches[key], slow.batches[key])
    assert fast.dead_letters == slow.dead_letters
    assert fast.n_events == slow.n_events


def _event(**changes: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "event_id": "e1", "model_id": "fraud", "model_version": "7",
        "event_time": "2026-11-22T09:59:00.123Z", "prediction_id": "req-1",
        "features": {"amount": 41.5, "country": "DE", "age": 30, "n": 3, "ok": True},
        "prediction": 1, "score": 0.87, "segment": {"region": "eu"}}
    event.update(changes)
    return {k: v for k, v in event.items() if v is not ...}


def _raw(event: dict[str, Any]) -> bytes:
    return json.dumps(event).encode()


def test_plain_batch_takes_the_columnar_path_and_matches() -> None:
    values = [_raw(_event(event_id=f"e{i}", prediction_id=f"p{i}" if i % 3 else None,
                          features={"amount": i * 1.5, "country": "DE" if i % 2 else "FR",
                                    "age": None if i % 4 == 0 else i, "n": i, "ok": i % 2 == 0},
                          model_id="fraud" if i % 5 else "churn"))
              for i in range(40)]
    fast, slow = _both(values)
    assert fast.columnar
    _assert_same(fast, slow)
    assert fast.batches[("fraud", "7")].prediction_ids.tolist()[:3] == ["p1", "p2", None]


@pytest.mark.parametrize("bad", [
    b"", None, b"{", b"[1]", b'{"a":1}', b"\xff\xfe", b'{"a":1}\n{"b":2}', b'{"a":1} {"a":2}',
    _raw(_event(event_time="2027-11-22T10:00:00Z")),
    _raw(_event(event_time="2020-11-22T10:00:00Z")),
    _raw(_event(event_time="2026-11-22T10:00:00")),
    _raw(_event(event_time="2026-11-22T09:00:60Z")),
    _raw(_event(event_time=12)),
    _raw(_event(model_id="")), _raw(_event(model_version="")), _raw(_event(model_version=None)),
    _raw(_event(model_version=7)), _raw(_event(event_id=None)), _raw(_event(event_id=...)),
    _raw(_event(features=None)), _raw(_event(features=...)), _raw(_event(features=[1])),
    _raw(_event(features={"x": [1, 2]})), _raw(_event(features={"x": {"y": 1}})),
    _raw(_event(score=True)), _raw(_event(score="x")), _raw(_event(segment={"r": 1})),
    _raw(_event(segment={"r": None})), _raw(_event(segment="eu")), _raw(_event(prediction=[1])),
    _raw(_event(prediction_id=5)),
    b'{"event_id":"e","model_id":"fraud","event_time":"2026-11-22T09:59:00Z",'
    b'"features":{"x":NaN}}',
    b'{"event_id":"e","model_id":"fraud","event_time":"2026-11-22T09:59:00Z",'
    b'"features":{"x":1},"score":1e999}',
    b'{"event_id":"e","model_id":"fraud","event_time":"2026-11-22T09:59:00Z",'
    b'"features":{"x":1},"score":Infinity}',
    b'{"event_id":"e","event_id":"f","model_id":"fraud","event_time":"2026-11-22T09:59:00Z",'
    b'"features":{}}',
])
def test_invalid_events_give_the_same_dead_letters(bad: bytes | None) -> None:
    good = [_raw(_event(event_id=f"e{i}")) for i in range(5)]
    fast, slow = _both([*good[:2], bad, *good[2:]])
    _assert_same(fast, slow)
    fast, slow = _both([*good[:2], bad, *good[2:]], ingest=STRICT, known=["fraud"])
    _assert_same(fast, slow)


def test_unknown_model_under_reject_is_a_dead_letter_on_both_paths() -> None:
    values = [_raw(_event(model_id=m)) for m in ("fraud", "churn", "fraud")]
    fast, slow = _both(values, ingest=STRICT, known=["fraud"])
    assert fast.columnar
    assert [d.reason for d in fast.dead_letters] == ["unknown_model"]
    _assert_same(fast, slow)


def test_a_rejected_row_does_not_set_the_column_order() -> None:
    late = _raw(_event(event_time="2020-01-01T00:00:00Z", features={"b": 1, "a": 2}))
    good = [_raw(_event(features={"a": 1, "b": 2})) for _ in range(3)]
    fast, slow = _both([late, *good])
    assert fast.columnar
    assert fast.batches[("fraud", "7")].feature_names == ("a", "b")
    _assert_same(fast, slow)


def test_date_like_text_stays_text() -> None:
    values = [_raw(_event(features={"day": "2026-01-0" + str(i), "x": i},
                          prediction="2026-01-01", segment={"d": "2026-01-01"}))
              for i in range(1, 4)]
    fast, slow = _both(values)
    assert fast.columnar
    _assert_same(fast, slow)


def test_small_batches_take_the_per_event_path() -> None:
    decoded = decode_prediction_columns(_messages([_raw(_event())]), now=NOW, ingest=INGEST)
    assert not decoded.columnar
    assert decoded.n_events == 1


# ----- property: any mix of events gives the same result on both paths -------------------------
_NAMES = ["a", "b", "c", "prediction", "feature:x", "é"]
_finite = st.floats(allow_nan=False, allow_infinity=False)
_scalars = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), _finite,
                     st.text(max_size=4))
_numeric = st.one_of(st.none(), st.integers(-2**64, 2**64), _finite)


@st.composite
def _features(draw: st.DrawFn, kinds: dict[str, st.SearchStrategy[Any]]) -> dict[str, Any]:
    names = draw(st.lists(st.sampled_from(_NAMES), unique=True, max_size=len(_NAMES)))
    if draw(st.booleans()):
        names = sorted(names, key=_NAMES.index)
    return {name: draw(kinds[name]) for name in names}


@st.composite
def _payload(draw: st.DrawFn, kinds: dict[str, st.SearchStrategy[Any]]) -> bytes:
    second = draw(st.integers(0, 3600 * 48))
    when = NOW - timedelta(hours=36) + timedelta(seconds=second,
                                                 microseconds=draw(st.integers(0, 999999)))
    offset = draw(st.sampled_from([timedelta(0), timedelta(hours=2), timedelta(hours=-4.5)]))
    text = when.astimezone(UTC if not offset else __import__("datetime").timezone(offset))
    stamp = text.isoformat(timespec=draw(st.sampled_from(["seconds", "milliseconds",
                                                          "microseconds"])))
    if draw(st.booleans()):
        stamp = stamp.replace("+00:00", "Z")
    event = _event(event_id="e", model_id=draw(st.sampled_from(["m1", "m2", ""])),
                   model_version=draw(st.sampled_from(["1", "2", ...])), event_time=stamp,
                   prediction_id=draw(st.sampled_from(["p", None, ...])),
                   features=draw(_features(kinds)),
                   prediction=draw(st.one_of(st.just(...), _scalars)),
                   score=draw(st.one_of(st.just(...), st.none(), _finite, st.integers(-9, 9))),
                   segment=draw(st.sampled_from([..., None, {"r": "eu"}, {}])))
    return json.dumps(event).encode()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_both_paths_agree(data: st.DataObject) -> None:
    kinds = {name: data.draw(st.sampled_from([_numeric, _scalars, st.text(max_size=3),
                                              st.booleans() | st.none()]))
             for name in _NAMES}
    values = data.draw(st.lists(_payload(kinds), min_size=1, max_size=12))
    if data.draw(st.booleans()):
        values.insert(data.draw(st.integers(0, len(values))), b'{"broken": ')
    fast, slow = _both(list(values), ingest=STRICT if data.draw(st.booleans()) else INGEST,
                       known=["m1"])
    _assert_same(fast, slow)


def test_the_property_reaches_the_columnar_path() -> None:
    values = [_raw(_event(features={"a": 1.5, "b": None, "c": 2**64})),
              _raw(_event(features={"a": -0.0, "b": "x", "c": 1}))]
    fast, slow = _both(values)
    assert fast.columnar
    _assert_same(fast, slow)
    assert math.isclose(fast.batches[("fraud", "7")].columns["c"][0], 2.0**64)


def test_an_output_missing_in_a_whole_group_is_numeric() -> None:
    values = [_raw(_event(prediction=False)), _raw(_event(model_version="2", prediction=...))]
    fast, slow = _both(values)
    assert fast.columnar
    _assert_same(fast, slow)
    assert fast.batches[("fraud", "2")].columns["prediction"].dtype == np.float64


def test_oversize_and_line_breaks_go_the_per_event_way() -> None:
    small = IngestSettings(max_event_bytes=400)
    big = _raw(_event(features={"amount": 1.5, "text": "x" * 500}))
    values = [_raw(_event()), big, _raw(_event()), b"{}\n", None, _raw(_event())]
    fast, slow = _both(values, ingest=small)
    assert fast.columnar
    assert [d.reason for d in fast.dead_letters] == ["oversize", "missing_field", "empty_payload"]
    _assert_same(fast, slow)
    # A carriage return is JSON whitespace: that event is valid, so the batch goes per event.
    cr = _raw(_event()).replace(b'"event_id"', b'\r"event_id"')
    fast, slow = _both([_raw(_event()), cr, _raw(_event())], ingest=small)
    assert not fast.columnar
    assert fast.n_events == 3
    _assert_same(fast, slow)


def test_empty_payloads_and_line_breaks_next_to_each_other() -> None:
    good = _raw(_event())
    accented = _raw(_event(features={"city": "Zürich", "amount": 2.5}))
    values = [good, b"", b"", b"\n", accented, b"{\n}", None, b"\r\n", good, b"{}\n{}"]
    fast, slow = _both(values)
    assert fast.columnar
    assert fast.n_events == 3
    _assert_same(fast, slow)


def test_aiokafka_records_decode_as_raw_messages_do() -> None:
    values: list[bytes | None] = [_raw(_event(event_id=f"e{i}")) for i in range(6)]
    values[2], values[4] = b"{", None
    records = [ConsumerRecord("driftline.predictions", 3, 100 + i, 1, 0, b"k", v, None,
                              1, len(v or b""), ()) for i, v in enumerate(values)]
    for min_rows in (1, len(values) + 1):
        fast = decode_prediction_columns(records, now=NOW, ingest=INGEST, min_rows=min_rows)
        want = decode_prediction_columns(_messages(values), now=NOW, ingest=INGEST,
                                         min_rows=min_rows)
        assert fast.columnar == (min_rows == 1)
        _assert_same(fast, want)
    assert [(d.reason, d.offset, d.key) for d in fast.dead_letters] == [
        ("bad_json", 102, b"k"), ("empty_payload", 104, b"k")]


def test_rows_of_a_category_share_one_string_across_batches() -> None:
    def countries() -> list[str | None]:
        values = [_raw(_event(event_id=f"e{i}", features={"country": ["Germany", "France",
                                                                      None][i % 3]}))
                  for i in range(30)]
        fast, slow = _both(values)
        assert fast.columnar
        _assert_same(fast, slow)
        return list(fast.batches[("fraud", "7")].columns["country"].tolist())

    first, second = countries(), countries()
    assert first[:3] == ["Germany", "France", None]
    assert len({id(v) for v in first + second if v is not None}) == 2
