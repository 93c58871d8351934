"""Messages built to crash a parser are dead letters on both decode paths, and the events
around them are decoded: nesting deeper than ``MAX_DEPTH`` is refused before any parser
(Arrow's or msgspec's) sees the bytes."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from streams.event_problems import MAX_DEPTH, nesting_depth
from streams.events import RawMessage
from streams.fastdecode import decode_prediction_columns
from streams.settings import IngestSettings

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
