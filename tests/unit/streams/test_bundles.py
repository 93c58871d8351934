"""Prediction stubs split by join partition: the vectorised split equals a row-by-row one."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.bundles import PredictionStubs, join_partition, split_predictions


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
