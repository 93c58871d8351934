"""Durations in alert rules: the syntax of the rest of the configuration.

A duration is a number of seconds (``45``, ``1.5``) or a non-negative number
with a unit: ``250ms``, ``30s``, ``5m``, ``1h``, ``2d``. ``alerting/`` may not
import ``streams``, so this is a small copy of the parser in
``streams/config/settings.py``; both accept the same text. Negative, infinite and NaN
durations are refused here (None), and booleans are not numbers.
"""

from __future__ import annotations

import math
import re

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_PATTERN = re.compile(r"\s*(\d+\.?\d*|\.\d+)\s*(ms|s|m|h|d)?\s*")


def parse_duration(value: object) -> float | None:
    """Seconds from a number or ``250ms``/``30s``/``5m``/``1h``/``2d``; None if unreadable.

    >>> parse_duration("5m"), parse_duration("250ms"), parse_duration(2), parse_duration("1.5")
    (300.0, 0.25, 2.0, 1.5)
    >>> parse_duration("-1s") is None, parse_duration(True) is None, parse_duration("5 min") is None
    (True, True, True)
    """
    if isinstance(value, str):
        match = _PATTERN.fullmatch(value)
        return float(match[1]) * _UNITS[match[2] or "s"] if match else None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    seconds = float(value)
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


def format_duration(seconds: float) -> str:
    """The shortest exact text for a duration, for messages (``900`` gives ``15m``).

    >>> format_duration(900), format_duration(0.25), format_duration(90), format_duration(0)
    ('15m', '250ms', '90s', '0s')
    """
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds * 1000:g}ms" if 0 < seconds < 1 else f"{seconds:g}s"
