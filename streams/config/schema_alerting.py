"""The ``alerting`` part of the configuration's JSON Schema (``streams.config.schema``).

Its keys come from the alerting parsers' own lists (``alerting.settings.KEYS`` and
``RETRAIN_KEYS``, ``alerting.rules.KEYS``, the ``DispatchSettings`` fields) and
its enums from the metric catalogue, the severities and the receiver types.
A receiver is one shape per type of ``alerting.kinds.REGISTRY`` (read when the
schema is built), chosen by its ``type``: the type's ``ReceiverKind.keys`` give
its secret keys, each with the JSON Schema of its value and its default; each
is given as the value, ``<key>_env`` or ``<key>_file`` — exactly one of them
when required, at most one when optional.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from alerting import config, rules, settings
from alerting.kinds import REGISTRY
from alerting.metrics import METRICS
from alerting.model import SEVERITIES
from alerting.receivers import (
    HTTP_URL,
    SIGNING_SECRET,
    DispatchSettings,
    ReceiverKind,
    ReceiverSettings,
    Secret,
    SecretKey,
)
from streams.config.schema_parts import duration, integer, optional_object, section, text

SECRET_FORMS = ("", "_env", "_file")

_REFERENCE = {"type": "string", "minLength": 1}  # a variable name or a file path
_NAMES = {"type": "array", "minItems": 1, "items": {"type": ["string", "integer"]}}
_RULE = {
    "name": text(f"^{rules.NAME_PATTERN}$"),
    "metric": {"enum": list(METRICS)},
    "above": {"type": "number"}, "below": {"type": "number"},
    "resolve_below": {"type": "number"}, "resolve_above": {"type": "number"},
    "for": integer(1), "resolve_for": integer(1),
    "severity": {"enum": list(SEVERITIES)},
    "cooldown": duration(0),
    "models": _NAMES, "versions": _NAMES, "features": _NAMES,
    "receivers": {"type": "array", "items": text(f"^{config.NAME.pattern}$")},
    "runbook_url": text(HTTP_URL),
    "retrain": {"type": "boolean"},
    "after": duration(0, exclusive=True),
}
_RULE_DEFAULTS = {"for": "for_", "resolve_for": "resolve_for", "severity": "severity",
                  "cooldown": "cooldown", "retrain": "retrain"}


def _secret_keys(key: SecretKey) -> dict[str, Any]:
    return {f"{key.name}{form}": dict(key.schema) if not form else _REFERENCE
            for form in SECRET_FORMS}


def _one_form(key: str) -> dict[str, Any]:
    """Exactly one of ``key``, ``key_env``, ``key_file``."""
    return {"oneOf": [{"required": [f"{key}{form}"]} for form in SECRET_FORMS]}


def _at_most_one_form(key: str) -> dict[str, Any]:
    forms = [{"required": [f"{key}{form}"]} for form in SECRET_FORMS]
    return {"not": {"anyOf": [{"allOf": [a, b]} for i, a in enumerate(forms)
                              for b in forms[i + 1:]]}}


def _receiver(kind: ReceiverKind) -> dict[str, Any]:
    timeout = duration(0, config.MAX_TIMEOUT, exclusive=True)
    timeout["default"] = ReceiverSettings("", kind.name, Secret("")).timeout
    properties: dict[str, Any] = {"type": {"const": kind.name}, "timeout": timeout}
    for key in kind.keys:
        properties.update(_secret_keys(key))
        if key.default is not None:
            properties[key.name] = {**properties[key.name], "default": key.default}
    return {"properties": properties, "additionalProperties": False,
            "allOf": [*(_one_form(key.name) for key in kind.keys if key.required),
                      *(_at_most_one_form(key.name) for key in kind.keys if not key.required)]}


def _rule() -> dict[str, Any]:
    fields = {field.name: field.default for field in dataclasses.fields(rules.Rule)}
    properties = {key: dict(_RULE[key]) for key in rules.KEYS}
    for key, name in _RULE_DEFAULTS.items():
        properties[key]["default"] = fields[name]
    return {"type": "object", "required": ["name", "metric"], "properties": properties,
            "additionalProperties": False}


def _dispatch() -> dict[str, Any]:
    counts = {"max_attempts": integer(1, 100), "batch": integer(1, 1000)}
    return section({field.name: counts.get(field.name, duration(0, exclusive=True))
                    for field in dataclasses.fields(DispatchSettings)})


def _retrain() -> dict[str, Any]:
    keys = {"cooldown": duration(0), "topic": {"type": "boolean"},
            **_secret_keys(SIGNING_SECRET)}
    assert tuple(keys) == settings.RETRAIN_KEYS, "alerting.retrain keys changed"
    return {**section(keys), "if": {"type": "object"}, "then": _at_most_one_form("signing_secret")}


def alerting_schema() -> dict[str, Any]:
    """The ``alerting`` section."""
    receivers = optional_object({
        "propertyNames": {"pattern": f"^{config.NAME.pattern}$"},
        "additionalProperties": {"type": "object", "required": ["type"],
                                 "properties": {"type": {"enum": list(REGISTRY)}},
                                 "oneOf": [_receiver(kind) for kind in REGISTRY.values()]}})
    parts = {"grafana_url": {"type": ["string", "null"], "pattern": HTTP_URL},
             "receivers": receivers,
             "rules": {"type": ["array", "null"], "items": _rule()},
             "dispatch": _dispatch(), "retrain": _retrain()}
    return section({key: parts[key] for key in settings.KEYS})
