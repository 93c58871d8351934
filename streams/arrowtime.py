"""RFC 3339 event times of an Arrow string column, as epoch microseconds, vectorised.

Only the common form is read here:
``YYYY-MM-DDTHH:MM:SS[.f{1,6}](Z|±HH:MM)`` with an upper-case ``T`` and ``Z``,
a year from 1000 and every field in its calendar range. Any other text (a
lower-case ``t``, a space, more than six fraction digits, a leap second, an
out-of-range field) is reported as unread, and the caller hands that event to
the per-event decoder, which either accepts it or names the error.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

PATTERN = (r"^(?P<y>\d{4})-(?P<mo>\d{2})-(?P<d>\d{2})T(?P<h>\d{2}):(?P<mi>\d{2}):(?P<s>\d{2})"
           r"(?:\.(?P<f>\d{1,6}))?(?:Z|(?P<sign>[+-])(?P<oh>\d{2}):(?P<om>\d{2}))$")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_DAYS = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.int64)
_MICRO = timedelta(microseconds=1)


def epoch_micros(when: datetime) -> int:
    """Microseconds since the Unix epoch of an aware datetime, exactly."""
    return (when - _EPOCH) // _MICRO


def _ints(parts: pa.StructArray, name: str, width: int, fill: str = "0") -> NDArray[np.int64]:
    text = pc.struct_field(parts, name)
    padded = pc.utf8_rpad(text, width, fill) if name == "f" else pc.utf8_lpad(text, width, fill)
    return np.asarray(pc.cast(padded, pa.int64()).to_numpy(zero_copy_only=False), np.int64)


def _days_from_civil(y: NDArray[np.int64], m: NDArray[np.int64], d: NDArray[np.int64]
                     ) -> NDArray[np.int64]:
    """Days since 1970-01-01 of a proleptic Gregorian date (years >= 1)."""
    y = y - (m <= 2)
    era = y // 400
    yoe = y - era * 400
    doy = (153 * ((m + 9) % 12) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return np.asarray(era * 146097 + doe - 719468, np.int64)


def parse_times(column: pa.Array) -> tuple[NDArray[np.int64], NDArray[np.bool_]]:
    """(epoch microseconds, read) for each row; unread rows hold 0."""
    n = len(column)
    matched = pc.fill_null(pc.match_substring_regex(column, PATTERN), False)
    read = np.asarray(matched.to_numpy(zero_copy_only=False), dtype=bool)
    if not read.any():
        return np.zeros(n, np.int64), read
    text = pc.if_else(matched, column, "1970-01-01T00:00:00Z")
    parts = pc.extract_regex(text, PATTERN)
    year, month, day = _ints(parts, "y", 4), _ints(parts, "mo", 2), _ints(parts, "d", 2)
    hour, minute, second = _ints(parts, "h", 2), _ints(parts, "mi", 2), _ints(parts, "s", 2)
    fraction = _ints(parts, "f", 6)
    off_hour, off_minute = _ints(parts, "oh", 2), _ints(parts, "om", 2)
    sign = np.where(np.asarray(pc.struct_field(parts, "sign").to_numpy(zero_copy_only=False),
                               dtype=object) == "-", -1, 1)
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    month_ok = (month >= 1) & (month <= 12)
    days_in = _DAYS[np.clip(month, 1, 12) - 1] + ((month == 2) & leap)
    read &= ((year >= 1000) & month_ok & (day >= 1) & (day <= days_in) & (hour <= 23)
             & (minute <= 59) & (second <= 59) & (off_hour <= 23) & (off_minute <= 59))
    seconds = (_days_from_civil(year, np.where(month_ok, month, 1), day) * 86400
               + hour * 3600 + minute * 60 + second - sign * (off_hour * 3600 + off_minute * 60))
    micros = np.where(read, seconds * 1_000_000 + fraction, 0)
    return micros.astype(np.int64), read
