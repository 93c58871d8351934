"""Argument checks whose messages name the parameter, the allowed range and the value."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any


def check_int(name: str, value: object, *, low: int, high: int | None = None) -> int:
    """Return ``value`` if it is an int in ``[low, high]``; raise ValueError otherwise.

    >>> check_int("bins", 10, low=2)
    10
    >>> check_int("bins", 1, low=2)
    Traceback (most recent call last):
    ...
    ValueError: bins must be an integer >= 2, got 1
    """
    allowed = f">= {low}" if high is None else f"in [{low}, {high}]"
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an integer {allowed}, got {value!r}")
    if value < low or (high is not None and value > high):
        raise ValueError(f"{name} must be an integer {allowed}, got {value!r}")
    return value


def check_float(
    name: str,
    value: object,
    *,
    low: float,
    high: float = math.inf,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """Return ``value`` as a float if it lies in the given interval; raise ValueError otherwise.

    >>> check_float("alpha", 0.05, low=0.0, high=1.0, low_open=True, high_open=True)
    0.05
    >>> check_float("alpha", 1.5, low=0.0, high=1.0, low_open=True, high_open=True)
    Traceback (most recent call last):
    ...
    ValueError: alpha must be a number in (0.0, 1.0), got 1.5
    """
    interval = f"{'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name} must be a number in {interval}, got {value!r}")
    number = float(value)
    below = number <= low if low_open else number < low
    above = number >= high if high_open else number > high
    if math.isnan(number) or below or above:
        raise ValueError(f"{name} must be a number in {interval}, got {value!r}")
    return number


def check_choice(name: str, value: object, allowed: tuple[str, ...]) -> str:
    """Return ``value`` if it is one of ``allowed``; raise ValueError otherwise.

    >>> check_choice("method", "exact", ("auto", "exact", "asymp"))
    'exact'
    """
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(allowed)}; got {value!r}")
    return str(value)


def check_checkpoint(data: object, version: int, keys: tuple[str, ...], *,
                     kind: str | None = None, what: str = "checkpoint") -> Mapping[str, Any]:
    """A checkpoint's header and keys: a mapping at ``version`` (of ``kind`` when given)
    holding every key; ValueError naming the first thing wrong."""
    if not isinstance(data, Mapping):
        raise ValueError(f"{what} must be a mapping, got {data!r:.80}")
    if data.get("schema_version") != version:
        raise ValueError(f"schema_version must be {version}, "
                         f"got {data.get('schema_version')!r}")
    if kind is not None and data.get("kind") != kind:
        raise ValueError(f"kind must be {kind!r}, got {data.get('kind')!r}")
    missing = [key for key in keys if key not in data]
    if missing:
        raise ValueError(f"checkpoint is missing key {missing[0]!r}")
    return data
