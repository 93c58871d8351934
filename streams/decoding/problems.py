"""Why an event was refused, said by driftline's own checks rather than the decoder's text.

The typed decoder (msgspec) is the fast path: it accepts or refuses a message. When it
refuses one, this module decides the dead-letter reason and writes the detail, so neither
depends on how a release of the decoder words its errors:

- the error's *type* separates malformed JSON (``bad_json``) from valid JSON that breaks the
  schema;
- for the latter, the message is read again as plain JSON and walked against the event
  type's fields (read from the type itself with ``msgspec.inspect``): the first field in
  declaration order that is missing gives ``missing_field``, that holds the wrong kind of
  JSON value gives ``wrong_type``, and that holds the right kind but an invalid value (empty
  or too long text, a name with a control character, too many features, a time without a
  timezone or not in RFC 3339) gives ``bad_value``.

Each detail names the field as a JSON path (``$.features["x"]``). The decoder's own text
appears only where no check of ours applies (a number no integer type can hold), after our
words and in parentheses.
"""

from __future__ import annotations

import functools
import json
import re
from datetime import datetime
from typing import Literal, TypeVar

import msgspec
import msgspec.inspect as mi

Reason = Literal["bad_json", "wrong_type", "missing_field", "bad_value"]
Problem = tuple[Reason, str]
S = TypeVar("S", bound=msgspec.Struct)

_LENIENT = msgspec.json.Decoder(float_hook=float)

# Objects and arrays may nest at most this deep, counting the event itself (an event is 2
# deep: ``{"features": {...}}``; unknown fields may nest further). Checked on the bytes before
# any parser sees them: deep nesting overflows recursive parsers' stacks.
MAX_DEPTH = 32
_STRUCTURE = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.DOTALL)
_OPENING = frozenset(b"[{")


def may_nest_too_deeply(value: bytes) -> bool:
    """Cheap bound: at most ``MAX_DEPTH`` brackets open in all means no deeper nesting."""
    return value.count(b"{") + value.count(b"[") > MAX_DEPTH


def nesting_depth(value: bytes) -> int:
    """The deepest nesting of objects and arrays in a JSON text, brackets in strings aside
    (an unterminated string ends the scan; the parser refuses such a text anyway)."""
    depth = deepest = 0
    for found in _STRUCTURE.finditer(value):
        char = found.group()[0]
        if char in _OPENING:
            depth += 1
            deepest = max(deepest, depth)
        elif char != 0x22:  # a closing bracket; a string (0x22 is '"') changes nothing
            depth -= 1
    return deepest


def too_deep(value: bytes) -> Problem | None:
    """``bad_value`` when ``value`` nests deeper than ``MAX_DEPTH``."""
    if may_nest_too_deeply(value):
        depth = nesting_depth(value)
        if depth > MAX_DEPTH:
            return "bad_value", (f"the event nests objects or arrays {depth} deep, "
                                 f"more than {MAX_DEPTH}")
    return None


def kind_of(value: object) -> str:
    """The JSON kind of a plainly decoded value, as the details name it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _wanted(kind: mi.Type) -> str:
    """What a field of this type must hold, in the details' words."""
    if isinstance(kind, mi.UnionType):
        words = dict.fromkeys(_wanted(member) for member in kind.types)
        return " or ".join(words)
    if isinstance(kind, mi.NoneType):
        return "null"
    if isinstance(kind, mi.BoolType):
        return "a boolean"
    if isinstance(kind, mi.IntType | mi.FloatType):
        return "a number"
    if isinstance(kind, mi.StrType):
        return "text"
    if isinstance(kind, mi.DateTimeType):
        return "an RFC 3339 time (text)"
    return "an object"


def _admits(kind: mi.Type, value: object) -> bool:
    """Whether ``value``'s JSON kind is one the type takes (values are checked after)."""
    if isinstance(kind, mi.UnionType):
        return any(_admits(member, value) for member in kind.types)
    if isinstance(kind, mi.NoneType):
        return value is None
    if isinstance(kind, mi.BoolType):
        return isinstance(value, bool)
    if isinstance(kind, mi.IntType):
        return isinstance(value, int) and not isinstance(value, bool)
    if isinstance(kind, mi.FloatType):
        return isinstance(value, int | float) and not isinstance(value, bool)
    if isinstance(kind, mi.StrType | mi.DateTimeType):
        return isinstance(value, str)
    return isinstance(value, dict)


def _chosen(kind: mi.Type, value: object) -> mi.Type:
    """The member of a union that ``value`` is checked against (its kind is admitted)."""
    if isinstance(kind, mi.UnionType):
        return next(member for member in kind.types if _admits(member, value))
    return kind


def _value_problem(kind: mi.Type, value: object, path: str) -> Problem | None:
    if isinstance(kind, mi.FloatType) and isinstance(value, int):
        try:
            float(value)
        except OverflowError:
            return "bad_value", f"{path} is a number too large for a double"
        return None
    if isinstance(kind, mi.StrType) and isinstance(value, str):
        return _text_problem(kind, value, path)
    if isinstance(kind, mi.DateTimeType) and isinstance(value, str):
        try:
            moment = msgspec.convert(value, datetime)
        except msgspec.ValidationError:
            return "bad_value", (f"{path} must be an RFC 3339 time such as "
                                 f"2026-11-22T10:00:00Z, got {value[:40]!r}")
        if kind.tz and moment.tzinfo is None:
            return "bad_value", f"{path} must carry a timezone (Z or +hh:mm), got {value[:40]!r}"
    return None


def _text_problem(kind: mi.StrType, value: str, path: str) -> Problem | None:
    if kind.min_length is not None and len(value) < kind.min_length:
        return "bad_value", f"{path} must not be empty" if kind.min_length == 1 else (
            f"{path} must be at least {kind.min_length} characters long")
    if kind.max_length is not None and len(value) > kind.max_length:
        return "bad_value", (f"{path} is {len(value)} characters long, "
                             f"more than {kind.max_length}")
    if kind.pattern is not None and re.search(kind.pattern, value) is None:
        return "bad_value", f"{path} must not contain control characters (U+0000-U+001F, " \
                            "U+007F-U+009F)"
    return None


def _dict_problem(kind: mi.DictType, value: dict[str, object], path: str) -> Problem | None:
    if kind.max_length is not None and len(value) > kind.max_length:
        return "bad_value", f"{path} has {len(value)} entries, more than {kind.max_length}"
    for key, item in value.items():
        here = f"{path}[{json.dumps(key[:100])}]"
        if isinstance(kind.key_type, mi.StrType):
            found = _text_problem(kind.key_type, key, f"the key of {here}")
            if found:
                return found
        found = _problem(kind.value_type, item, here)
        if found:
            return found
    return None


def _problem(kind: mi.Type, value: object, path: str) -> Problem | None:
    """The first problem of ``value`` against ``kind``, depth first, or None."""
    if not _admits(kind, value):
        return "wrong_type", f"{path} must be {_wanted(kind)}, got {kind_of(value)}"
    kind = _chosen(kind, value)
    if isinstance(kind, mi.StructType) and isinstance(value, dict):
        return _struct_problem(kind, value, path)
    if isinstance(kind, mi.DictType) and isinstance(value, dict):
        return _dict_problem(kind, value, path)
    return _value_problem(kind, value, path)


def _struct_problem(kind: mi.StructType, value: dict[str, object], path: str) -> Problem | None:
    for item in kind.fields:
        here = f"{path}.{item.encode_name}"
        if item.encode_name not in value:
            if item.required:
                return "missing_field", f"required field {here} is missing"
            continue
        found = _problem(item.type, value[item.encode_name], here)
        if found:
            return found
    return None


def malformed(error: msgspec.DecodeError | RecursionError | UnicodeDecodeError) -> Problem:
    """The dead letter of a message the parser refused: not JSON at all."""
    if isinstance(error, RecursionError):
        return "bad_json", "not valid JSON: nested too deeply"
    return "bad_json", f"not valid JSON ({error})"


def reread(value: bytes, event_type: type[S]) -> S | Problem:
    """A message the typed decoder refused as invalid (valid JSON), decoded once more.

    Read untyped, numbers too large for a double become ±inf, and converted to the event
    type: that accepts the overflows the schema keeps. What is still refused gets its
    reason and detail from the walk over the type's fields (module docstring).
    """
    try:
        plain = _LENIENT.decode(value)
    except msgspec.ValidationError as again:
        return "bad_value", f"a number does not fit any numeric type ({again})"
    except (msgspec.DecodeError, RecursionError, UnicodeDecodeError):
        return "bad_json", "not valid JSON"
    try:
        return msgspec.convert(plain, event_type)
    except (msgspec.ValidationError, RecursionError) as error:
        refused = error
    found = _problem(_type_info(event_type), plain, "$")
    if found is None:
        return "bad_value", f"refused by the {event_type.__name__} decoder ({refused})"
    if found[1].startswith("$ must be"):
        return found[0], f"the event must be a JSON object, got {kind_of(plain)}"
    return found


@functools.cache
def _type_info(event_type: type[msgspec.Struct]) -> mi.Type:
    return mi.type_info(event_type)
