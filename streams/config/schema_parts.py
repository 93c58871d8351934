"""Small JSON Schema fragments for ``streams.config.schema``: the value kinds of the settings.

Durations and sizes take the forms the loader reads (``streams.config.settings``): a
number (seconds, bytes) or text such as ``30s`` / ``250ms`` / ``1MiB``; a range
applies to the number form (text is checked by ``driftline config check``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

DURATION_TEXT = r"^\s*(\d+\.?\d*|\.\d+)\s*(ms|s|m|h|d)?\s*$"
SIZE_TEXT = r"^\s*\d+\s*([bB]|[kKmMgG][iI][bB])?\s*$"


def integer(minimum: int | None = None, maximum: int | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "integer"}
    if minimum is not None:
        schema["minimum"] = minimum
    if maximum is not None:
        schema["maximum"] = maximum
    return schema


def number(minimum: float | None = None, maximum: float | None = None, *,
           exclusive_minimum: bool = False, exclusive_maximum: bool = False) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "number"}
    if minimum is not None:
        schema["exclusiveMinimum" if exclusive_minimum else "minimum"] = minimum
    if maximum is not None:
        schema["exclusiveMaximum" if exclusive_maximum else "maximum"] = maximum
    return schema


def duration(minimum: float, maximum: float | None = None, *,
             exclusive: bool = False) -> dict[str, Any]:
    """Seconds (a number in the range) or text such as ``30s``, ``250ms``, ``5m``."""
    seconds = number(minimum, maximum, exclusive_minimum=exclusive)
    return {"anyOf": [seconds, {"type": "string", "pattern": DURATION_TEXT}]}


def size(minimum: int, maximum: int) -> dict[str, Any]:
    """Bytes (an integer in the range) or text such as ``512KiB`` or ``1MiB``."""
    return {"anyOf": [integer(minimum, maximum), {"type": "string", "pattern": SIZE_TEXT}]}


def text(pattern: str) -> dict[str, Any]:
    return {"type": "string", "pattern": pattern}


def optional_object(schema: Mapping[str, Any]) -> dict[str, Any]:
    """A mapping that may also be left empty (``key:`` alone reads as null)."""
    return {"type": ["object", "null"], **schema}


def section(properties: Mapping[str, Any]) -> dict[str, Any]:
    """A mapping of exactly these keys, each optional."""
    return optional_object({"properties": dict(properties), "additionalProperties": False})
