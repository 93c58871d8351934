"""Event times read from fixed-width byte layouts equal the regular expression's reading."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.decoding.arrowtime import epoch_micros, parse_times, parse_times_regex

EDGES = [
    "2026-11-22T10:00:00Z", "2026-11-22T10:00:00.1Z", "2026-11-22T10:00:00.123456Z",
    "2026-11-22T10:00:00.1234567Z", "2026-11-22T10:00:00.Z", "2026-11-22T10:00:00+02:00",
    "2026-11-22T10:00:00.5-04:30", "2026-11-22T10:00:00.123456+23:59",
    "2026-11-22T10:00:00+24:00", "2026-11-22T10:00:00*02:00", "2026-11-22t10:00:00Z",
    "2026-11-22 10:00:00Z", "2026-11-22T10:00:00z", "2026-11-22T10:00:00", "2026-11-22",
    "2026-11-22T10:00:00Z\n", " 2026-11-22T10:00:00Z", "２026-11-22T10:00:00Z",
    "2026-11-22T10:00:60Z", "2026-02-29T10:00:00Z", "2024-02-29T10:00:00Z",
    "2100-02-29T10:00:00Z", "2000-02-29T23:59:59.999999-00:00", "0999-12-31T23:59:59Z",
    "1000-01-01T00:00:00Z", "2026-13-01T00:00:00Z", "2026-00-10T00:00:00Z",
    "2026-04-31T00:00:00Z", "2026-11-22T10:00:00.1234Z", "", None,
]


def _same(column: pa.Array) -> None:
    fast, regex = parse_times(column), parse_times_regex(column)
    assert fast[1].tolist() == regex[1].tolist()
    assert fast[0].tolist() == regex[0].tolist()


def test_edge_cases_read_as_the_regex_reads_them() -> None:
    column = pa.array(EDGES, pa.string())
    _same(column)
    micros, read = parse_times(column)
    assert read[:8].tolist() == [True, True, True, False, False, True, True, True]
    assert micros[5] == epoch_micros(datetime(2026, 11, 22, 8, tzinfo=UTC))
    assert read.sum() == 10


@pytest.mark.parametrize("text", [t for t in EDGES if t])
def test_one_length_per_batch_is_read_as_one_matrix(text: str) -> None:
    _same(pa.array([text] * 5, pa.string()))
    _same(pa.array([text] * 5, pa.string()).slice(1, 3))


def test_empty_and_all_null_columns() -> None:
    for column in (pa.array([], pa.string()), pa.array([None, None], pa.string()),
                   pa.array(["", ""], pa.string())):
        micros, read = parse_times(column)
        assert not read.any()
        assert not micros.any()


_DIGIT = st.sampled_from("0123456789")
_NOISE = st.sampled_from([*"0123456789-T:.Z+tz ", "\n", "９", "é"])


@st.composite
def _stamp(draw: st.DrawFn) -> str:
    def number(width: int, top: int) -> str:
        return f"{draw(st.integers(0, top)):0{width}d}"
    text = (f"{number(4, 9999)}-{number(2, 13)}-{number(2, 32)}T{number(2, 24)}:"
            f"{number(2, 60)}:{number(2, 60)}")
    fraction = draw(st.integers(0, 7))
    if fraction:
        text += "." + "".join(draw(_DIGIT) for _ in range(fraction))
    text += draw(st.sampled_from(["Z", f"+{number(2, 24)}:{number(2, 60)}",
                                  f"-{number(2, 24)}:{number(2, 60)}"]))
    for _ in range(draw(st.integers(0, 2))):
        at = draw(st.integers(0, len(text) - 1))
        text = text[:at] + draw(st.one_of(_NOISE, st.just(""))) + text[at + 1:]
    return text


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(_stamp(), st.none()), min_size=1, max_size=30), st.booleans())
def test_any_column_reads_as_the_regex_reads_it(stamps: list[str | None], sliced: bool) -> None:
    column = pa.array(stamps, pa.string())
    if sliced and len(column) > 2:
        column = column.slice(1, len(column) - 2)
    _same(column)
    assert np.asarray(parse_times(column)[0]).dtype == np.int64
