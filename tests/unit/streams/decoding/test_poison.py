"""Messages built to crash a parser are dead letters on both decode paths, and the events
around them are decoded: nesting deeper than ``MAX_DEPTH`` is refused before any parser
(Arrow's or msgspec's) sees the bytes."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from streams.config.settings import IngestSettings
from streams.decoding.events import RawMessage, decode_labels
from streams.decoding.fastdecode import decode_prediction_columns
from streams.decoding.problems import MAX_DEPTH, nesting_depth

NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
INGEST = IngestSettings()


def _event(i: int, **extra: Any) -> dict[str, Any]:
    return {"event_id": f"e{i}", "model_id": "fraud", "event_time": "2026-11-22T09:59:00Z",
            "features": {"amount": float(i), "country": "DE"}, **extra}


def _with_unknown(i: int, nested: bytes) -> bytes:
    """An event whose unknown field ``x`` holds ``nested`` verbatim."""
    return json.dumps(_event(i)).encode()[:-1] + b', "x": ' + nested + b"}"


def _arrays(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def _objects(depth: int) -> bytes:
    return b'{"a": ' * depth + b"1" + b"}" * depth


POISON = {
    "arrays 20,000 deep (40 KB)": _arrays(20_000),
    "objects 1,000 deep": _objects(1_000),
    "arrays 100,000 deep": _arrays(100_000),
}


@pytest.mark.parametrize("name", list(POISON))
@pytest.mark.parametrize("min_rows", [1, 10_000], ids=["columnar", "per-event"])
def test_poison_is_a_dead_letter_and_its_neighbours_are_decoded(name: str, min_rows: int) -> None:
    values = [json.dumps(_event(i)).encode() for i in range(200)]
    values.insert(100, _with_unknown(999, POISON[name]))
    messages = [RawMessage("driftline.predictions", 0, i, b"fraud", v)
                for i, v in enumerate(values)]
    decoded = decode_prediction_columns(messages, now=NOW, ingest=INGEST, min_rows=min_rows)
    assert decoded.n_events == 200
    (dead,) = decoded.dead_letters
    assert (dead.reason, dead.offset) == ("bad_value", 100)
    assert dead.detail.startswith("the event nests objects or arrays")
    assert f"more than {MAX_DEPTH}" in dead.detail


@pytest.mark.parametrize("min_rows", [1, 10_000], ids=["columnar", "per-event"])
def test_the_depth_limit_is_exact(min_rows: int) -> None:
    # the event itself is 1 deep, so an unknown field nested MAX_DEPTH - 1 deep is the limit
    at_limit = _with_unknown(1, _objects(MAX_DEPTH - 1))
    over = _with_unknown(2, _arrays(MAX_DEPTH))
    assert (nesting_depth(at_limit), nesting_depth(over)) == (MAX_DEPTH, MAX_DEPTH + 1)
    messages = [RawMessage("driftline.predictions", 0, i, b"fraud", v)
                for i, v in enumerate([at_limit, over])]
    decoded = decode_prediction_columns(messages, now=NOW, ingest=INGEST, min_rows=min_rows)
    assert decoded.n_events == 1
    assert [d.offset for d in decoded.dead_letters] == [1]


def test_brackets_inside_text_do_not_count() -> None:
    text = json.dumps(_event(1, note="[" * 500 + '\\"{' * 100)).encode()
    assert nesting_depth(text) == 2
    decoded = decode_prediction_columns(
        [RawMessage("driftline.predictions", 0, 0, b"fraud", text)], now=NOW, ingest=INGEST,
        min_rows=1)
    assert (decoded.n_events, decoded.dead_letters) == (1, [])


NAMES = {
    "NUL in model_id": (_event(1) | {"model_id": "fr\x00aud"},
                        "$.model_id must not contain control characters"),
    "newline ending model_version": (_event(1) | {"model_version": "7\n"},
                                     "$.model_version must not contain control characters"),
    "model_id of 129 characters": (_event(1) | {"model_id": "m" * 129},
                                   "$.model_id is 129 characters long, more than 128"),
    "NUL in a feature name": (_event(1) | {"features": {"amount": 1.0, "a\x00b": 2.0}},
                              'the key of $.features["a\\u0000b"] must not contain control'),
    "a feature name of 10 KB": (_event(1) | {"features": {"n" * 10_240: 1.0}},
                                'the key of $.features["' + "n" * 100 + '"] is 10240 characters'),
    "1,001 features": (_event(1) | {"features": {f"f{i}": 1.0 for i in range(1_001)}},
                       "$.features has 1001 entries, more than 1000"),
    "NUL in a segment key": (_event(1) | {"segment": {"re\x00gion": "eu"}},
                             'the key of $.segment["re\\u0000gion"] must not contain control'),
    "C1 control in a segment value": (_event(1) | {"segment": {"region": "e\x85u"}},
                                      '$.segment["region"] must not contain control'),
    "prediction_id of 257 characters": (_event(1) | {"prediction_id": "p" * 257},
                                        "$.prediction_id is 257 characters long, more than 256"),
}


@pytest.mark.parametrize("name", list(NAMES))
@pytest.mark.parametrize("min_rows", [1, 10_000], ids=["columnar", "per-event"])
def test_names_that_cannot_be_stored_or_exported_are_dead_letters(name: str,
                                                                  min_rows: int) -> None:
    bad, detail = NAMES[name]
    values = [json.dumps(_event(i)).encode() for i in range(100)]
    values.insert(50, json.dumps(bad).encode())
    messages = [RawMessage("driftline.predictions", 0, i, b"fraud", v)
                for i, v in enumerate(values)]
    decoded = decode_prediction_columns(messages, now=NOW, ingest=INGEST, min_rows=min_rows)
    assert decoded.n_events == 100
    (dead,) = decoded.dead_letters
    assert (dead.reason, dead.offset) == ("bad_value", 50)
    assert dead.detail.startswith(detail), dead.detail


def test_names_at_the_limits_are_accepted_on_both_paths() -> None:
    event = _event(1) | {"model_id": "m" * 128, "model_version": "v" * 128,
                         "event_id": "e" * 256, "prediction_id": "p" * 256,
                         "features": {f"{i:0>128}": 1.0 for i in range(1_000)},
                         "segment": {"s" * 128: "é" * 128}}
    messages = [RawMessage("driftline.predictions", 0, i, b"m", json.dumps(event).encode())
                for i in range(2)]
    for min_rows in (1, 10_000):
        decoded = decode_prediction_columns(messages, now=NOW, ingest=INGEST, min_rows=min_rows)
        assert (decoded.n_events, decoded.dead_letters) == (2, [])


def test_a_label_with_nul_in_its_model_id_is_a_dead_letter() -> None:
    label = {"prediction_id": "p1", "model_id": "fr\x00aud", "label": 1,
             "event_time": "2026-11-22T09:59:00Z"}
    message = RawMessage("driftline.labels", 0, 7, b"p1", json.dumps(label).encode())
    (dead,) = decode_labels([message], now=NOW, ingest=INGEST).dead_letters
    assert (dead.reason, dead.offset) == ("bad_value", 7)
    assert dead.detail.startswith("$.model_id must not contain control characters")
