"""Narrow storage of float64 samples gives back every value bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from detectors._packed import FLOAT, Form, Packed, encode_rows, form_of


def _same_bits(left: np.ndarray, right: np.ndarray) -> bool:
    return bool(np.array_equal(np.isnan(left), np.isnan(right))) and \
        left[~np.isnan(left)].view(np.int64).tolist() == \
        right[~np.isnan(right)].view(np.int64).tolist()


@given(st.lists(st.floats(allow_nan=True, allow_infinity=True), max_size=80))
def test_any_floats_come_back_bit_for_bit(values: list[float]) -> None:
    array = np.array(values, dtype=np.float64)
    assert _same_bits(Packed.of(array).values(), array)


@given(st.lists(st.one_of(st.none(), st.integers(-10**6, 10**6)), max_size=80),
       st.integers(0, 6))
def test_short_decimals_pack_and_come_back(codes: list[int | None], exponent: int) -> None:
    # Values as parsed from short decimal text, e.g. "12.345".
    array = np.array([np.nan if c is None else float(f"{c}e-{exponent}") for c in codes])
    packed = Packed.of(array)
    assert packed.form.packed
    assert packed.exponent <= exponent
    assert _same_bits(packed.values(), array)


@pytest.mark.parametrize(("values", "dtype", "exponent"), [
    ([0.0, 1.0, 127.0, -127.0, np.nan], "int8", 0),
    ([128.0, -3.0], "int16", 0),
    ([0.5, 12.25, np.nan], "int16", 2),
    ([123456.789], "int32", 3),
    ([0.1 + 0.2], "float64", 0),  # 0.30000000000000004 needs 17 digits
    ([1.0, -0.0], "float64", 0),  # -0.0 has no integer code
    ([1.0, np.inf], "float64", 0),
    ([2.0**40], "float64", 0),  # beyond int32
    ([], "int8", 0),
])
def test_the_narrowest_form_is_chosen(values: list[float], dtype: str, exponent: int) -> None:
    form = form_of(np.array(values, dtype=np.float64))
    assert (form.dtype.name, form.exponent) == (dtype, exponent)


def test_a_form_refuses_values_it_cannot_hold() -> None:
    small = Form(np.dtype(np.int8), 1)
    assert small.encode(np.array([1.5, np.nan])) is not None
    assert small.encode(np.array([1.25])) is None  # another digit
    assert small.encode(np.array([12.8])) is None  # code 128 is beyond int8
    assert small.encode(np.array([-12.8])) is None  # -128 stands for NaN
    assert FLOAT.encode(np.array([0.1 + 0.2])) is not None


def test_a_block_encodes_as_row_by_row() -> None:
    rng = np.random.default_rng(4)
    block = np.stack([np.round(rng.normal(size=50) * 10, 1) + 0.0, rng.integers(0, 9, 50) * 1.0,
                      np.round(rng.random(50), 3)])
    block[0, ::7] = np.nan
    forms = [form_of(row) for row in block]
    assert all(form.packed for form in forms)
    block[2, 3] = 0.12345  # one more digit than its form holds
    rows = encode_rows(block, forms)
    assert rows[2] is None
    for row, form, codes in zip(block[:2], forms[:2], rows[:2], strict=True):
        expected = form.encode(row)
        assert codes is not None
        assert expected is not None
        assert codes.tolist() == expected.tolist()
        assert _same_bits(form.decode(codes.astype(form.dtype)), row)
