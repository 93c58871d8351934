"""Small value conversions at the database edge: no NaN in, UTC out.

>>> json_safe({"a": [1.0, float("nan")], "b": float("inf"), "c": (1, "x")})
{'a': [1.0, None], 'b': None, 'c': [1, 'x']}
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any


def utc_now() -> datetime:
    """The current time, aware, in UTC."""
    return datetime.now(UTC)


def finite(value: float | None) -> float | None:
    """``value`` as a float, or None when it is None, NaN or infinite.

    The reports carry no NaN (``None`` stands for "does not apply"); this keeps
    a defect upstream from ever storing one.
    """
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def json_safe(value: Any) -> Any:
    """A copy of a ``to_dict()`` document with non-finite floats as None, tuples as lists."""
    if isinstance(value, float):
        return finite(value)
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value
