"""Configuration primitives: durations, the value-shower, and the readers of typed keys.

Every section parser of the configuration (``streams.config.settings``,
``streams.config.performance``, ``alerting.settings``, ``alerting.config``,
``alerting.rules``) reads its keys with these, so a bad value stops start-up with
the same kind of line everywhere: ``<key path>: must be <expected>, got <value>``.

Decisions:

- The module lives in ``alerting/`` because ``alerting/`` may not import
  ``streams`` while ``streams.config`` already imports ``alerting``; a package of
  its own would be one more top-level package for one module. It imports nothing
  of the project.
- ``ConfigError`` is the one error for a bad setting; ``SettingsError`` and
  ``AlertingConfigError`` are other names for it, so an alerting error needs no
  translation on its way out of ``load_settings``.
- A duration is a number of seconds (``45``, ``1.5``, ``"90"``) or a
  non-negative number with a unit: ``250ms``, ``30s``, ``5m``, ``1h``, ``2d``.
  ``parse_duration`` only reads; the bounds are the caller's (``duration``), so a
  negative number reads as itself and is refused by its bound, with the bound in
  the message.
- A value is shown as its ``repr``, passwords masked (``user:***@``,
  ``password=***``) and cut to 120 characters. Secrets proper (``Secret``) show
  as ``***`` by themselves; a mapping that may hold secrets is named by its type
  only (``secret_mapping``).
- Text from the environment is read as a number where a section says so
  (``integer(..., text=True)``); alerting keys come from YAML only and take typed
  values.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

Parser = Callable[[object, str], Any]

UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_DURATION = re.compile(r"\s*(\d+\.?\d*|\.\d+)\s*(ms|s|m|h|d)?\s*")
_DECIMAL = re.compile(r"\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*")
_WHOLE = re.compile(r"\s*[+-]?\d+\s*")
SHOW_WIDTH = 120


class ConfigError(ValueError):
    """A one-line configuration error; ``path`` is the offending key path."""

    def __init__(self, message: str, path: str = "") -> None:
        super().__init__(message)
        self.path = path


# ----- numbers and durations -----------------------------------------------------------------

def as_number(value: object) -> float | None:
    """A finite number from a number or a numeric text; None otherwise (booleans too).

    >>> as_number(2), as_number(" -1.5e2 "), as_number(True), as_number("nan"), as_number("x")
    (2.0, -150.0, None, None, None)
    """
    if isinstance(value, str) and _DECIMAL.fullmatch(value):
        value = float(value)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def as_int(value: object) -> int | None:
    """An integer from an integer or a text of digits; None otherwise (booleans too).

    >>> as_int(3), as_int(" -4 "), as_int(True), as_int(2.0), as_int("2.5")
    (3, -4, None, None, None)
    """
    if isinstance(value, str) and _WHOLE.fullmatch(value):
        return int(value)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def parse_duration(value: object) -> float | None:
    """Seconds from a number or ``250ms``/``30s``/``5m``/``1h``/``2d``; None if unreadable.

    >>> parse_duration("5m"), parse_duration("250ms"), parse_duration(2), parse_duration("1.5")
    (300.0, 0.25, 2.0, 1.5)
    >>> parse_duration(" 1.5m "), parse_duration("2d"), parse_duration(-5)
    (90.0, 172800.0, -5.0)
    >>> [parse_duration(v) for v in ("-1s", "5 min", "1w", "", True, None, float("inf"))]
    [None, None, None, None, None, None, None]
    """
    if isinstance(value, str):
        match = _DURATION.fullmatch(value)
        return float(match[1]) * UNITS[match[2] or "s"] if match else None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def format_duration(seconds: float) -> str:
    """The shortest exact text for a duration, for messages (``900`` gives ``15m``).

    >>> format_duration(900), format_duration(0.25), format_duration(90), format_duration(0)
    ('15m', '250ms', '90s', '0s')
    >>> format_duration(86400), format_duration(1800), format_duration(1.5)
    ('1d', '30m', '1.5s')
    """
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds * 1000:g}ms" if 0 < seconds < 1 else f"{seconds:g}s"


# ----- showing values --------------------------------------------------------------------------

def mask_passwords(text: str) -> str:
    """Hide the password of every ``user:password@`` and ``password=`` in ``text``.

    >>> mask_passwords("postgresql://me:pw@db/x?sslpassword=s&a=1")
    'postgresql://me:***@db/x?sslpassword=***&a=1'
    """
    text = re.sub(r"([^:/@\s'\"]*):(?!//)[^\s'\"]*@", r"\1:***@", text)
    return re.sub(r"(?i)(password=)[^&\s'\"]*", r"\1***", text)


def url_origin(url: str) -> str:
    """Only ``scheme://host`` of a URL: its path and query may be the secret part.

    >>> url_origin("https://hooks.slack.com/services/T0/B0/xyz"), url_origin("no-scheme")
    ('https://hooks.slack.com', 'a value without a scheme')
    """
    parts = urlsplit(url)
    host = parts.hostname or ""
    return f"{parts.scheme}://{host}" if parts.scheme else "a value without a scheme"


def show(value: object) -> str:
    """A value as an error message quotes it: its ``repr``, passwords masked, cut short.

    >>> show("5 min"), show(True), show("kafka://u:secret@host:9092")
    ("'5 min'", 'True', "'kafka://u:***@host:9092'")
    >>> len(show("x" * 500)), show("x" * 500)[-4:]
    (120, 'x...')
    """
    text = mask_passwords(repr(value))
    return text if len(text) <= SHOW_WIDTH else text[: SHOW_WIDTH - 3] + "..."


def bad(path: str, expected: str, value: object) -> ConfigError:
    """The one-line error for a bad value at ``path``.

    >>> str(bad("worker.web_port", "an integer in [1, 65535]", 0))
    'worker.web_port: must be an integer in [1, 65535], got 0'
    """
    return ConfigError(f"{path}: must be {expected}, got {show(value)}", path)


# ----- mappings and keys -----------------------------------------------------------------------

def mapping(value: object, path: str) -> Mapping[Any, Any]:
    """A section's mapping (None is an empty one).

    >>> mapping(None, "worker")
    {}
    >>> mapping([1], "worker")
    Traceback (most recent call last):
    alerting.config_values.ConfigError: worker: must be a mapping of keys, got [1]
    """
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise bad(path or "the configuration", "a mapping of keys", value)
    return value


def secret_mapping(value: object, path: str) -> Mapping[Any, Any]:
    """``mapping`` for a section that may hold secrets: a bad value is named by its type.

    >>> secret_mapping("https://hooks.example/T0/secret", "alerting.receivers.x")
    Traceback (most recent call last):
    alerting.config_values.ConfigError: alerting.receivers.x: must be a mapping, got str
    """
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ConfigError(f"{path}: must be a mapping, got {type(value).__name__}", path)
    return value


def check_keys(values: Mapping[Any, Any], names: tuple[str, ...], path: str) -> None:
    """Refuse a key not in ``names``, naming the allowed ones.

    >>> check_keys({"port": 1}, ("host", "web_port"), "worker")
    Traceback (most recent call last):
    alerting.config_values.ConfigError: unknown key 'port' in worker (allowed: host, web_port)
    """
    for key in values:
        if key not in names:
            where = path or "the configuration"
            raise ConfigError(f"unknown key {show(key)} in {where} (allowed: "
                              f"{', '.join(names)})", f"{path}.{key}".lstrip("."))


# ----- readers of typed values: parser(value, path) returns the value or raises ---------------

def integer(low: int, high: int | None = None, *, text: bool = True) -> Parser:
    """An integer ``>= low`` (and ``<= high``); ``text`` also reads digits in a string.

    >>> integer(1, 100)("7", "dispatch.batch")
    7
    >>> integer(1, 100, text=False)("7", "dispatch.batch")
    Traceback (most recent call last):
    alerting.config_values.ConfigError: dispatch.batch: must be an integer in [1, 100], got '7'
    """
    allowed = f">= {low}" if high is None else f"in [{low}, {high}]"

    def parse(value: object, path: str) -> int:
        if text:
            number = as_int(value)
        else:
            number = value if isinstance(value, int) and not isinstance(value, bool) else None
        if number is None or number < low or (high is not None and number > high):
            raise bad(path, f"an integer {allowed}", value)
        return number
    return parse


def duration(low: float = 0.0, high: float = math.inf, *, low_open: bool = False,
             expected: str | None = None) -> Parser:
    """A duration in seconds within ``[low, high]`` (``(low, high]`` when ``low_open``).

    Without ``expected``, an unreadable value is "a duration such as 30s or 5m" and an
    out-of-range one names the bound; with it, ``expected`` is said of any bad value.

    >>> duration(6, 1800)("1h", "w.timeout")
    Traceback (most recent call last):
    alerting.config_values.ConfigError: w.timeout: must be a duration in [6s, 30m], got '1h'
    >>> duration(0, low_open=True)("soon", "w.timeout")
    Traceback (most recent call last):
    alerting.config_values.ConfigError: w.timeout: must be a duration such as 30s or 5m, got 'soon'
    >>> duration(0, low_open=True)(0, "w.timeout"), duration(0)(0, "w.timeout")
    Traceback (most recent call last):
    alerting.config_values.ConfigError: w.timeout: must be a duration > 0s, got 0
    >>> duration(0, expected="a duration >= 0 such as 6h")(-1, "r.cooldown")
    Traceback (most recent call last):
    alerting.config_values.ConfigError: r.cooldown: must be a duration >= 0 such as 6h, got -1
    """
    if high != math.inf:
        bound = f"in [{format_duration(low)}, {format_duration(high)}]"
    else:
        bound = f"> {format_duration(low)}" if low_open else f">= {format_duration(low)}"

    def parse(value: object, path: str) -> float:
        seconds = parse_duration(value)
        if seconds is None:
            raise bad(path, expected or "a duration such as 30s or 5m", value)
        if seconds < low or (low_open and seconds == low) or seconds > high:
            raise bad(path, expected or f"a duration {bound}", value)
        return seconds
    return parse


def choice(*options: str) -> Parser:
    """One of ``options``, as written.

    >>> choice("text", "json")("xml", "worker.log_format")
    Traceback (most recent call last):
    alerting.config_values.ConfigError: worker.log_format: must be one of text, json, got 'xml'
    """
    def parse(value: object, path: str) -> str:
        if value not in options:
            raise bad(path, f"one of {', '.join(options)}", value)
        return str(value)
    return parse


def word(*options: str) -> Parser:
    """One of ``options``, in any case (``INFO`` is ``info``).

    >>> word("debug", "info")("INFO", "worker.log_level")
    'info'
    """
    exact = choice(*options)

    def parse(value: object, path: str) -> str:
        return str(exact(value.lower() if isinstance(value, str) else value, path))
    return parse


def matching(pattern: str, expected: str) -> Parser:
    """A string matching ``pattern`` throughout; ``expected`` describes it.

    >>> matching(r"\\S+", "a host name or address")("", "worker.web_host")
    Traceback (most recent call last):
    alerting.config_values.ConfigError: worker.web_host: must be a host name or address, got ''
    """
    def parse(value: object, path: str) -> str:
        if not isinstance(value, str) or not re.fullmatch(pattern, value):
            raise bad(path, expected, value)
        return value
    return parse


def flag(value: object, path: str) -> bool:
    """A YAML boolean.

    >>> flag("yes", "alerting.retrain.topic")
    Traceback (most recent call last):
    alerting.config_values.ConfigError: alerting.retrain.topic: must be true or false, got 'yes'
    """
    if not isinstance(value, bool):
        raise bad(path, "true or false", value)
    return value


def optional(parser: Parser) -> Parser:
    """``parser``, or None for an absent value (None, ``none``, ``null``).

    >>> optional(integer(1))("null", "models.default.window.count") is None
    True
    """
    def parse(value: object, path: str) -> Any:
        absent = value is None or (isinstance(value, str) and value.lower() in ("none", "null"))
        return None if absent else parser(value, path)
    return parse
