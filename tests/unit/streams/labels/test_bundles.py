"""Prediction stubs split by join partition: the vectorised split equals a row-by-row one."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.labels.bundles import (
    PredictionStubs,
    decode_join,
    encode,
    join_partition,
    split_predictions,
)


def _row_by_row(ids: list[str | None], times: list[float], predictions: list[Any],
                scores: list[Any], partitions: int) -> dict[int, PredictionStubs]:
    out: dict[int, PredictionStubs] = {}
    for pid, t, p, s in zip(ids, times, predictions, scores, strict=True):
        if pid is None:
            continue
        stubs = out.setdefault(join_partition(pid, partitions),
                               PredictionStubs([], [], [], [], [], []))
        stubs.ids.append(pid)
        stubs.models.append("m")
        stubs.versions.append("2")
        stubs.times.append(t)
        stubs.predictions.append(None if isinstance(p, float) and math.isnan(p) else p)
        stubs.scores.append(s if isinstance(s, float) and math.isfinite(s) else None)
    return out


def _objects(items: list[Any]) -> np.ndarray[Any, Any]:
    array = np.empty(len(items), dtype=object)
    array[:] = items
    return array


def _same(got: dict[int, PredictionStubs], want: dict[int, PredictionStubs]) -> None:
    assert list(got) == list(want)
    for part, stubs in want.items():
        for field in ("ids", "models", "versions", "times", "predictions", "scores"):
            mine, theirs = getattr(got[part], field), getattr(stubs, field)
            assert [(type(v), repr(v)) for v in mine] == [(type(v), repr(v)) for v in theirs]


_floats = st.floats(allow_nan=True, allow_infinity=True)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.one_of(st.none(), st.text(max_size=6)), _floats, _floats,
                          st.one_of(st.none(), st.text(max_size=2), st.booleans(), _floats)),
                max_size=40),
       st.integers(1, 8), st.booleans())
def test_split_equals_the_row_by_row_split(rows: list[tuple[Any, float, float, Any]],
                                           partitions: int, text_predictions: bool) -> None:
    ids = [r[0] for r in rows]
    times = [r[1] for r in rows]
    scores = [r[2] for r in rows]
    predictions = [r[3] for r in rows] if text_predictions else [r[1] for r in rows]
    column = (_objects(predictions) if text_predictions
              else np.array(predictions, dtype=np.float64))
    got = split_predictions(_objects(ids), "m", "2", np.array(times, dtype=np.float64),
                            column, np.array(scores, dtype=np.float64), partitions)
    _same(got, _row_by_row(ids, times, predictions, scores, partitions))


def test_object_scores_keep_only_finite_floats() -> None:
    ids = _objects(["a", "b", "c", "d"])
    scores = _objects([0.5, None, 1, math.inf])
    got = split_predictions(ids, "m", "2", np.zeros(4), np.array([1.0, math.nan, 0.0, 1.0]),
                            scores, 1)
    assert got[0].scores == [0.5, None, None, None]
    assert got[0].predictions == [1.0, None, 0.0, 1.0]


def test_count_window_starts_are_split_with_their_rows_and_decoded() -> None:
    ids = _objects(["a", None, "b", "c", "d"])
    starts = np.array([1.0, 1.0, 1.0, 4.5, 4.5])
    got = split_predictions(ids, "m", "2", np.arange(5.0), np.zeros(5), np.full(5, 0.5), 3,
                            starts)
    by_id = {pid: (stubs.times[i], stubs.windows[i]) for stubs in got.values()
             if stubs.windows is not None for i, pid in enumerate(stubs.ids)}
    assert by_id == {"a": (0.0, 1.0), "b": (2.0, 1.0), "c": (3.0, 4.5), "d": (4.0, 4.5)}
    for stubs in got.values():
        decoded = decode_join(encode(stubs))
        assert isinstance(decoded, PredictionStubs)
        columns = decoded.columns()
        assert columns.windows is not None
        assert columns.windows.tolist() == stubs.windows
    plain = split_predictions(ids, "m", "2", np.arange(5.0), np.zeros(5), np.full(5, 0.5), 3)
    assert all(stubs.windows is None for stubs in plain.values())
    old = b'{"type":"predictions","ids":["a"],"models":["m"],"versions":["2"],"times":[1.0],' \
        b'"predictions":[1],"scores":[null]}'  # written before windows were carried
    decoded = decode_join(old)
    assert isinstance(decoded, PredictionStubs)
    assert decoded.columns().windows is None
