"""Lossless narrow storage of float64 samples: small integers and short decimals.

Many numeric features are integers (counts, flags, codes) or decimals of a few
digits (amounts, rounded scores), sent as short decimal text. Such a value ``v``
is held as the integer ``c = rint(v * 10**e)`` when ``c / 10**e`` (one correctly
rounded division, the decoding) gives back ``v`` bit for bit. A column whose
values all pass with one exponent ``e`` (0 to ``MAX_EXPONENT``) is held as int8,
int16 or int32 codes, the narrowest that fits, else as float64. NaN (a row
without a value) is the code type's smallest integer; -0.0, infinities and
values that need more digits keep a column float64. Which form a column takes
changes only its memory: every value decodes to exactly the float64 it was.

>>> packed = Packed.of(np.array([0.5, 12.25, np.nan]))
>>> packed.codes.dtype.name, packed.exponent, packed.values().tolist()
('int16', 2, [0.5, 12.25, nan])
>>> Packed.of(np.array([0.1 + 0.2])).codes.dtype.name  # 0.30000000000000004
'float64'
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

MAX_EXPONENT = 9
_POWERS = [np.float64(10.0**e) for e in range(MAX_EXPONENT + 1)]  # each exact
_CODE_TYPES = (np.dtype(np.int8), np.dtype(np.int16), np.dtype(np.int32))
_FLOAT = np.dtype(np.float64)
_PROBE = 64  # values tried first when looking for an exponent
_BLOCK = 16_384  # values worked at a time
_INT32_MAX = float(np.iinfo(np.int32).max)
_LIMITS = {t: (int(np.iinfo(t).min), int(np.iinfo(t).max)) for t in _CODE_TYPES}


@dataclass(frozen=True)
class Form:
    """How a column is held: float64, or codes of ``dtype`` with ``exponent``."""

    dtype: np.dtype[Any]
    exponent: int = 0

    @property
    def packed(self) -> bool:
        return self.dtype != _FLOAT

    @property
    def missing(self) -> int:
        """The code of NaN (packed forms only)."""
        return _LIMITS[self.dtype][0]

    @property
    def largest(self) -> int:
        """The largest code (packed forms only)."""
        return _LIMITS[self.dtype][1]

    def encode(self, values: NDArray[np.float64]) -> NDArray[Any] | None:
        """``values`` as this form's codes, or None when one does not fit.

        A new array, except for float64 (the values themselves).
        """
        if not self.packed:
            return np.asarray(values, dtype=np.float64)
        absent = np.isnan(values)
        found = _codes(values, self.exponent, absent)
        if found is None or found[1] > self.largest:
            return None
        encoded = found[0].astype(self.dtype)
        encoded[absent] = self.missing
        return encoded

    def decode(self, codes: NDArray[Any]) -> NDArray[np.float64]:
        """The float64 values of ``codes`` (a new array)."""
        if not self.packed:
            return np.array(codes, dtype=np.float64)
        values = codes.astype(np.float64)
        if self.exponent:
            values /= _POWERS[self.exponent]
        values[codes == self.missing] = np.nan
        return values

    def absent(self, size: int) -> NDArray[Any]:
        """``size`` codes of NaN."""
        if not self.packed:
            return np.full(size, np.nan)
        return np.full(size, self.missing, dtype=self.dtype)

    def present(self, codes: NDArray[Any]) -> NDArray[np.bool_]:
        """Where ``codes`` hold a value (not NaN)."""
        present: NDArray[np.bool_] = ~np.isnan(codes) if not self.packed \
            else codes != self.missing
        return present


FLOAT = Form(_FLOAT)


def encode_rows(block: NDArray[np.float64], forms: Sequence[Form]
                ) -> list[NDArray[np.float64] | None]:
    """Each row of ``block`` encoded in its packed form (codes as float64), or None.

    The same codes as ``Form.encode`` row by row, in one pass over the block
    (a window's numeric columns of one batch).
    """
    powers = np.array([_POWERS[f.exponent] for f in forms])[:, None]
    absent = np.isnan(block)
    codes = np.empty_like(block)
    same = _round_trip(block, powers, codes, np.empty_like(block))
    same |= absent
    fits = np.all(same, axis=1)
    codes[absent] = 0.0
    bounds = np.abs(codes).max(axis=1, initial=0.0)
    missing = np.array([f.missing for f in forms], dtype=np.float64)[:, None]
    np.copyto(codes, missing, where=absent)
    return [row if ok and bound <= f.largest else None
            for row, ok, bound, f in zip(codes, fits.tolist(), bounds.tolist(), forms,
                                         strict=True)]


def form_of(values: NDArray[np.float64]) -> Form:
    """The narrowest form that holds ``values`` exactly."""
    return _fit(values)[0]


def _fit(values: NDArray[np.float64]) -> tuple[Form, NDArray[Any]]:
    """The narrowest form that holds ``values`` exactly, and their codes in it."""
    absent = np.isnan(values)
    gaps = absent if absent.any() else None
    present = values if gaps is None else values[~absent]
    probe = present[:_PROBE]
    for exponent in range(MAX_EXPONENT + 1):
        if _codes(probe, exponent, None) is None:
            continue
        found = _codes(values, exponent, gaps)
        if found is None:
            continue
        codes, bound = found
        dtype = next((t for t in _CODE_TYPES if bound <= _LIMITS[t][1]), None)
        if dtype is None:
            break
        form = Form(dtype, exponent)
        if gaps is not None:
            codes[gaps] = form.missing  # the smallest code, left free for NaN
        return form, codes.astype(dtype)
    return FLOAT, values


def _codes(values: NDArray[np.float64], exponent: int, absent: NDArray[np.bool_] | None
           ) -> tuple[NDArray[np.float64], float] | None:
    """``rint(values * 10**exponent)`` and its largest magnitude, when each code decodes
    to its value bit for bit.

    Rows in ``absent`` are not checked and get code 0. None when a value does not
    round-trip or a code is beyond the int32 range. Worked in blocks, so that the
    temporaries stay small (and in the cache).
    """
    power = _POWERS[exponent]
    out = np.empty(values.size)
    back = np.empty(min(values.size, _BLOCK))
    bound = 0.0
    for low in range(0, values.size, _BLOCK):
        part, codes = values[low:low + _BLOCK], out[low:low + _BLOCK]
        same = _round_trip(part, power, codes, back[: part.size])
        if absent is not None:
            gaps = absent[low:low + _BLOCK]
            same |= gaps
            codes[gaps] = 0.0
        if not same.all():
            return None
        bound = max(bound, -float(codes.min()), float(codes.max()))
    if bound > _INT32_MAX:
        return None
    return out, bound


def _round_trip(values: NDArray[np.float64], power: Any, codes: NDArray[np.float64],
                back: NDArray[np.float64]) -> NDArray[np.bool_]:
    """``codes = rint(values * power)`` (``back``: scratch of the same shape); where a code
    divided by ``power`` gives back its value bit for bit (-0.0 and NaN never do)."""
    with np.errstate(over="ignore"):  # a huge value becomes inf and does not round-trip
        np.multiply(values, power, out=codes)
    np.rint(codes, out=codes)
    codes += 0.0  # -0.0 becomes 0.0, as its integer code decodes
    np.divide(codes, power, out=back)
    same: NDArray[np.bool_] = back.view(np.int64) == values.view(np.int64)
    return same


@dataclass(frozen=True)
class Packed:
    """A float64 array held in its narrowest ``Form``."""

    codes: NDArray[Any]
    form: Form

    @classmethod
    def of(cls, values: NDArray[np.float64], hint: Form | None = None) -> Packed:
        """``values`` packed; ``hint`` (the form the column had) is tried first."""
        if hint is not None and hint.packed:
            codes = hint.encode(values)
            if codes is not None:
                return cls(codes, hint)
        form, codes = _fit(values)
        return cls(codes, form)

    @property
    def exponent(self) -> int:
        return self.form.exponent

    @property
    def size(self) -> int:
        return int(self.codes.size)

    @property
    def nbytes(self) -> int:
        return int(self.codes.nbytes)

    def values(self) -> NDArray[np.float64]:
        """The float64 values (a new array)."""
        return self.form.decode(self.codes)
