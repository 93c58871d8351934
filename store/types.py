"""Column types shared by the tables: timestamps that are always UTC.

``UTCDateTime`` is ``TIMESTAMP WITH TIME ZONE`` on PostgreSQL and the usual text
timestamp on SQLite. It refuses naive datetimes (a window boundary without a
time zone is a bug upstream, not something to guess), converts aware ones to UTC
before storing (SQLite keeps no offset, so every stored value is UTC), and gives
back aware UTC datetimes on both backends whatever the session time zone.

>>> from datetime import datetime, timedelta, timezone
>>> t = UTCDateTime().process_bind_param(
...     datetime(2026, 1, 1, 12, tzinfo=timezone(timedelta(hours=2))), None)
>>> t.isoformat()
'2026-01-01T10:00:00+00:00'
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware timestamp stored and returned in UTC (module docstring)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect | None) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime, got {type(value).__name__}: {value!r}")
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"datetime must be timezone-aware (UTC), got naive {value!r}")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect | None) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime from the database, got {value!r}")
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def iso_utc(value: datetime) -> str:
    """ISO 8601 text of an aware datetime in UTC, with a ``Z`` suffix.

    >>> iso_utc(datetime(2026, 11, 22, 10, 0, tzinfo=UTC))
    '2026-11-22T10:00:00Z'
    """
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
