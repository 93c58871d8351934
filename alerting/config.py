"""Parsing the ``alerting.receivers`` and ``alerting.dispatch`` settings.

Decisions:

- Every secret-bearing key (``url``, ``routing_key``, ``signing_secret``) takes
  exactly one of ``<key>`` (the literal value), ``<key>_env`` (the name of a
  variable in the ``environ`` mapping the caller passes; this module never reads
  the process environment itself) or ``<key>_file`` (a file whose contents,
  stripped, are the value).
  An unset or empty variable and a missing, unreadable or empty file are errors.
- Which keys a type takes is its ``ReceiverKind.keys`` in ``alerting.kinds.REGISTRY``
  (read when parsing, so a registered type is parsed with no change here):
  ``slack`` a ``url``; ``pagerduty`` a ``routing_key`` and optionally a ``url``
  (default the Events API v2 endpoint); ``webhook`` and ``deployer`` a ``url``
  and a ``signing_secret`` (``whsec_`` + base64 of a non-empty key). Every type
  takes ``timeout`` (default 10 s, at most 10 min). All keys are read first, then
  checked, in the order of ``keys``.
- Errors are one line naming the key path. A secret value is never shown; a
  URL, literal or not (a Slack URL is a secret), is shown only as
  ``scheme://host``. Variable names and file paths are not secrets and are shown.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import fields, replace
from pathlib import Path

from alerting.config_values import (
    Parser,
    choice,
    duration,
    integer,
    secret_mapping,
    show,
)
from alerting.kinds import REGISTRY
from alerting.kinds.pagerduty import PAGERDUTY_URL
from alerting.model import AlertingConfigError
from alerting.receivers import (
    DispatchSettings,
    ReceiverSettings,
    check_signing_secret,
    check_url,
)

__all__ = ["MAX_TIMEOUT", "NAME", "PAGERDUTY_URL", "check_signing_secret", "check_url",
           "parse_dispatch", "parse_receivers"]

NAME = re.compile(r"[a-z0-9][a-z0-9_.-]*")
MAX_TIMEOUT = 600.0

# ReceiverSettings fields of their own; other secret keys go to ``secrets``.
_FIELDS = ("url", "signing_secret", "routing_key")
_TIMEOUT = duration(0, MAX_TIMEOUT, low_open=True,
                    expected="a duration in (0, 10m] such as 250ms, 10s or 1m")
# Every dispatch key is a duration > 0 but the two counts.
_DISPATCH: Mapping[str, Parser] = {
    **{field.name: duration(0, low_open=True, expected="a duration > 0 such as 250ms, 10s or 1m")
       for field in fields(DispatchSettings)},
    "max_attempts": integer(1, 100, text=False), "batch": integer(1, 1000, text=False)}


def _read_secret(values: Mapping[object, object], key: str, environ: Mapping[str, str],
                 path: str) -> tuple[str, str] | None:
    """``key``'s value, given literally, as ``key_env`` or as ``key_file``, and where it came
    from (the key path, and the variable or file); None when none of the three is given."""
    given = [name for name in (key, f"{key}_env", f"{key}_file") if name in values]
    if len(given) > 1:
        raise AlertingConfigError(f"{path}: give only one of {', '.join(given)}", f"{path}.{key}")
    if not given:
        return None
    name = given[0]
    where = f"{path}.{name}"
    raw = values[name]
    if not isinstance(raw, str) or not raw.strip():
        what = ("the value" if name == key else
                "a variable name" if name.endswith("_env") else "a file path")
        raise AlertingConfigError(f"{where}: must be a non-empty string ({what})", where)
    if name == key:
        return raw.strip(), where
    if name.endswith("_env"):
        value = environ.get(raw, "").strip()
        if not value:
            raise AlertingConfigError(
                f"{where}: environment variable {raw!r} is not set or empty", where)
        return value, f"{where} (from variable {raw})"
    try:
        value = Path(raw).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else "unreadable"
        raise AlertingConfigError(f"{where}: cannot read {raw!r}: {reason}", where) from None
    if not value:
        raise AlertingConfigError(f"{where}: file {raw!r} is empty", where)
    return value, f"{where} (from file {raw})"


def _timeout(values: Mapping[object, object], path: str) -> float | None:
    return _TIMEOUT(values["timeout"], f"{path}.timeout") if "timeout" in values else None


def _receiver(name: str, raw: object, environ: Mapping[str, str], path: str) -> ReceiverSettings:
    values = secret_mapping(raw, path)
    kind = choice(*REGISTRY)(values.get("type"), f"{path}.type")  # read now: tests add kinds
    keys = REGISTRY[kind].keys
    allowed = ("type", "timeout", *(f"{key.name}{suffix}" for key in keys
                                    for suffix in ("", "_env", "_file")))
    for key in values:
        if key not in allowed:
            raise AlertingConfigError(f"{path}: unknown key {show(key)} for a {kind} receiver "
                                      f"(allowed: {', '.join(allowed)})", f"{path}.{key}")
    found: dict[str, tuple[str, str]] = {}
    for key in keys:
        value = _read_secret(values, key.name, environ, path)
        if value is None and key.default is not None:
            value = key.default, f"{path}.{key.name}"
        if value is not None:
            found[key.name] = value
        elif key.required:
            raise AlertingConfigError(f"{path}: missing {key.name} (give {key.name}, "
                                      f"{key.name}_env or {key.name}_file)", f"{path}.{key.name}")
    checked = {key.name: key.check(*found[key.name]) for key in keys if key.name in found}
    timeout = _timeout(values, path)
    receiver = ReceiverSettings(
        name=name, type=kind, url=checked["url"],
        signing_secret=checked.get("signing_secret"), routing_key=checked.get("routing_key"),
        secrets={key: value for key, value in checked.items() if key not in _FIELDS})
    return receiver if timeout is None else replace(receiver, timeout=timeout)


def parse_receivers(raw: object, environ: Mapping[str, str],
                    path: str = "alerting.receivers") -> Mapping[str, ReceiverSettings]:
    """The receivers by name, from the ``receivers`` mapping of the configuration."""
    receivers: dict[str, ReceiverSettings] = {}
    for name, body in secret_mapping(raw, path).items():
        if not isinstance(name, str) or not NAME.fullmatch(name):
            raise AlertingConfigError(f"{path}: receiver name must match {NAME.pattern}, "
                                      f"got {show(name)}", f"{path}.{name}")
        receivers[name] = _receiver(name, body, environ, f"{path}.{name}")
    return receivers


def parse_dispatch(raw: object, path: str = "alerting.dispatch") -> DispatchSettings:
    """The dispatcher's retry settings; absent keys keep ``DispatchSettings``' defaults."""
    values = secret_mapping(raw, path)
    names = tuple(_DISPATCH)
    parsed: dict[str, float | int] = {}
    for key, value in values.items():
        where = f"{path}.{key}"
        if key not in names:
            raise AlertingConfigError(f"{path}: unknown key {show(key)} (allowed: "
                                      f"{', '.join(names)})", where)
        parsed[str(key)] = _DISPATCH[key](value, where)
    settings = DispatchSettings(**parsed)  # type: ignore[arg-type]
    if settings.base_delay > settings.max_delay:
        raise AlertingConfigError(
            f"{path}.base_delay: must be <= max_delay ({settings.max_delay:g}s), "
            f"got {settings.base_delay:g}s", f"{path}.base_delay")
    return settings
