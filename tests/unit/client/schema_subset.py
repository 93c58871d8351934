"""A validator of the JSON Schema keywords the event schemas use (no jsonschema in the lock).

``KEYWORDS`` lists what it understands; ``keywords_used`` lets a test prove a schema
uses nothing else, so no keyword is silently ignored.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

KEYWORDS = frozenset({"$schema", "$comment", "$ref", "$defs", "title", "description", "type",
                      "properties", "required", "additionalProperties", "anyOf", "minLength",
                      "format", "default"})
# RFC 3339 date-time (section 5.6): a full date, T (or t, or a space), a full time with
# seconds and an optional fraction, and a zone (Z or an offset).
DATE_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})")


def keywords_used(schema: Any) -> Iterator[str]:
    """Every keyword of ``schema`` (property names and definition names excluded)."""
    if isinstance(schema, dict):
        for key, value in schema.items():
            yield key
            if key in ("properties", "$defs"):
                for sub in value.values():
                    yield from keywords_used(sub)
            elif key in ("additionalProperties",):
                yield from keywords_used(value)
            elif key == "anyOf":
                for sub in value:
                    yield from keywords_used(sub)


def _is_type(value: Any, kind: str) -> bool:
    if kind == "null":
        return value is None
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "integer":
        return (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, float) and value.is_integer())
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "string":
        return isinstance(value, str)
    if kind == "object":
        return isinstance(value, dict)
    raise ValueError(f"unknown type {kind!r}")


def errors(value: Any, schema: dict[str, Any], root: dict[str, Any] | None = None,
           path: str = "$") -> list[str]:
    """What is wrong with ``value`` under ``schema`` (empty when it is valid)."""
    root = root if root is not None else schema
    if "$ref" in schema:
        name = schema["$ref"].removeprefix("#/$defs/")
        return errors(value, root["$defs"][name], root, path)
    if "anyOf" in schema:
        if all(errors(value, option, root, path) for option in schema["anyOf"]):
            return [f"{path}: matches none of anyOf"]
        return []
    found: list[str] = []
    if "type" in schema and not _is_type(value, schema["type"]):
        return [f"{path}: not of type {schema['type']}"]
    if isinstance(value, str):
        if len(value) < schema.get("minLength", 0):
            found.append(f"{path}: shorter than {schema['minLength']}")
        if schema.get("format") == "date-time" and not DATE_TIME.fullmatch(value):
            found.append(f"{path}: not an RFC 3339 date-time")
    if isinstance(value, dict):
        found += [f"{path}: missing {name}" for name in schema.get("required", ())
                  if name not in value]
        properties = schema.get("properties", {})
        extra = schema.get("additionalProperties", True)
        for name, item in value.items():
            if name in properties:
                found += errors(item, properties[name], root, f"{path}.{name}")
            elif extra is False:
                found.append(f"{path}: unexpected {name}")
            elif isinstance(extra, dict):
                found += errors(item, extra, root, f"{path}.{name}")
    return found
