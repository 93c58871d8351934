"""The JSON Schema (draft 2020-12) of the configuration file, for editors and checks.

``python -m streams.config.schema`` (``make config-schema``) writes it to
``streams/config/config.schema.json``, which is committed, shipped with the package and
printed by ``driftline config schema``; ``--check`` fails when the committed file
is stale. A test keeps it fresh.

Where each part comes from:

- the keys, types, enums and ranges: the fragments below and in
  ``streams.config.schema_alerting``, written against the loader's parsers; the
  tests check them against the loader itself (every object's keys against the
  loader's ``allowed:`` list, every range and enum at its bounds);
- the defaults: ``effective_settings(Settings())``, the values a file without the
  key gets (durations in seconds, sizes in bytes);
- the descriptions: the key tables of ``docs/configuration.md``
  (``streams.config.docs``), so the page and the schema say the same.

The schema describes the file: values are the YAML types people write (a port is
an integer, a duration ``30s`` or a number of seconds). The loader also accepts
numbers written as text, as environment variables are; the schema does not
suggest that. Rules that tie two keys together (``heartbeat_interval`` at most a
third of ``session_timeout``, ``critical`` at least ``warn``, ...) are left to
``driftline config check``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, get_args, get_type_hints

from detectors import DEFAULT_THRESHOLDS, DriftPolicy
from detectors.online import DETECTORS
from detectors.policy import CATEGORICAL_EFFECTS, NUMERIC_EFFECTS, VERDICTS
from streams.config.api import NAME as API_NAME
from streams.config.api import SCOPES as API_SCOPES
from streams.config.docs import DOCS_FILE, docs_key, documented_keys
from streams.config.effective import effective_settings, leaves, secret_mask
from streams.config.generated import write_or_check
from streams.config.performance import TASKS
from streams.config.registry import ALIAS, ARTIFACT, MIN_POLL_INTERVAL, TRACKING_URI
from streams.config.schema_alerting import alerting_schema
from streams.config.schema_parts import (
    duration,
    integer,
    number,
    optional_object,
    section,
    size,
    text,
)
from streams.config.settings import Settings

SCHEMA_FILE = Path(__file__).with_name("config.schema.json")
DIALECT = "https://json-schema.org/draft/2020-12/schema"
TOPIC = text(r"^(?!\.{1,2}$)[A-Za-z0-9._-]{1,249}$")

_TOP = {
    "broker_url": text(r"^\S+$"),
    "database_url": text(r"^[A-Za-z][A-Za-z0-9+.-]*://\S*$"),
}
_TOPIC_NAMES = ("predictions", "labels", "deadletter", "retrain", "join", "outcomes")
_TOPICS = {**dict.fromkeys(_TOPIC_NAMES, TOPIC),
           "partitions": integer(1, 10_000), "replication_factor": integer(1, 100)}
_INGEST = {"max_event_bytes": size(64, 1024**3), "max_future": duration(0),
           "max_past": duration(0, exclusive=True),
           "unknown_models": {"enum": ["allow", "reject"]},
           "max_batch": integer(1, 1_000_000),
           "max_features_per_model": integer(1, 100_000),
           "max_models": integer(1, 100_000), "max_metric_features": integer(0, 100_000),
           "backfill_max_past": duration(0, exclusive=True)}
_LOG_LEVELS = ("debug", "info", "warning", "error")
_WORKER = {"group_id": text(r"^\S+$"), "web_host": text(r"^\S+$"),
           "web_port": integer(1, 65535), "checkpoint_interval": duration(0, exclusive=True),
           "session_timeout": duration(6, maximum=1800),
           "heartbeat_interval": duration(0, exclusive=True),
           # The loader also takes the levels and formats in capitals; the documented spelling.
           "log_format": {"enum": ["text", "json"]},
           "log_level": {"enum": list(_LOG_LEVELS)},
           "framework_log_level": {"enum": list(_LOG_LEVELS)},
           "stall_timeout": duration(1), "store_failure_timeout": duration(1)}
_LABELS = {"prediction_ttl": duration(0, exclusive=True), "early_label_hold": duration(0),
           "horizon": duration(0, exclusive=True), "max_batch": integer(1, 1_000_000)}
_WINDOW = {"size": duration(0, exclusive=True),
           "count": {"anyOf": [integer(1), {"type": "null"}]},
           "grace": duration(0), "idle_timeout": duration(0, exclusive=True)}
_REFERENCE = {"policy": {"enum": ["first_window", "previous_window"]}}
_POLICY_TYPES = get_type_hints(DriftPolicy)
_THRESHOLD_SCALARS = {
    "verdict": {"enum": list(VERDICTS)},
    "false_alarms": number(0, exclusive_minimum=True),
    "false_alarm_period": duration(0, exclusive=True),
    "alpha": number(0, 1, exclusive_minimum=True, exclusive_maximum=True),
    "min_samples": integer(1),
    "min_reference_rows": integer(0),
    "numeric_effect": {"enum": list(NUMERIC_EFFECTS)},
    "categorical_effect": {"enum": list(CATEGORICAL_EFFECTS)},
    "drift_share_threshold": number(0, 1, exclusive_minimum=True),
    "correction": {"enum": list(get_args(_POLICY_TYPES["correction"]))},
    "ks_method": {"enum": list(get_args(_POLICY_TYPES["ks_method"]))},
}
_PAIR = {"warn": number(0, exclusive_minimum=True), "critical": number(0, exclusive_minimum=True)}
_PROFILE = {"bins": integer(2, 1000), "sample_cap": integer(10), "top_k": integer(1),
            "max_known": integer(0), "max_unseen": integer(0), "seed": integer()}
# The loader ignores case, '_' and '-' in a detector's name; the documented spellings.
_DETECTOR_NAMES = list(dict.fromkeys([name.lower() for name in DETECTORS] + list(DETECTORS)))
_DETECTOR_PARAMETER = {"type": ["number", "boolean", "string"]}
_PERFORMANCE = {
    "task": {"enum": list(TASKS)},
    "detector": {"anyOf": [
        {"enum": _DETECTOR_NAMES},
        {"type": "object", "required": ["name"],
         "properties": {"name": {"enum": _DETECTOR_NAMES}},
         "additionalProperties": _DETECTOR_PARAMETER}]},
    "calibration_rows": integer(50),
    "alert_after": duration(0),
    "detector_delay": duration(0),
}


def _model() -> dict[str, Any]:
    thresholds = {**_THRESHOLD_SCALARS,
                  **{name: section(_PAIR) for name in DEFAULT_THRESHOLDS}}
    features = optional_object({"additionalProperties": {"enum": ["numeric", "categorical"]},
                                "propertyNames": {"minLength": 1}})
    return section({"window": section(_WINDOW), "reference": section(_REFERENCE),
                    "thresholds": section(thresholds), "profile": section(_PROFILE),
                    "features": features, "performance": section(_PERFORMANCE)})


def _api() -> dict[str, Any]:
    """The ``api`` section (``streams.config.api``): a token has scopes and exactly one of
    ``value_env`` and ``value_file``."""
    token = {"type": "object", "required": ["scopes"], "additionalProperties": False,
             "properties": {"scopes": {"type": "array", "minItems": 1,
                                       "items": text(f"^({'|'.join(API_SCOPES)})$")},
                            "value_env": {"type": "string", "minLength": 1},
                            "value_file": {"type": "string", "minLength": 1}},
             "oneOf": [{"required": ["value_env"]}, {"required": ["value_file"]}]}
    tokens = optional_object({"propertyNames": text(f"^{API_NAME.pattern}$"),
                              "additionalProperties": token})
    return section({"open_reads": {"type": "boolean"}, "max_page": integer(1, 100_000),
                    "tokens": tokens})


def _registry() -> dict[str, Any]:
    """The ``registry`` section (``streams.config.registry``)."""
    models = optional_object({"propertyNames": text(r"^[^/]*\S[^/]*$"),
                              "additionalProperties": text(r"^\S+$")})
    mlflow = {"tracking_uri": {"anyOf": [text(f"^{TRACKING_URI}$"), {"type": "null"}]},
              "poll_interval": duration(MIN_POLL_INTERVAL, maximum=86400),
              "champion_alias": text(f"^{ALIAS}$"),
              "reference_artifact": text(f"^{ARTIFACT}$"),
              "models": models}
    return section({"mlflow": section(mlflow)})


def bare_schema() -> dict[str, Any]:
    """The schema's structure, types and ranges, before defaults and descriptions."""
    models = optional_object({"propertyNames": {"minLength": 1},
                              "additionalProperties": _model()})
    root = section({**_TOP, "topics": section(_TOPICS), "ingest": section(_INGEST),
                    "worker": section(_WORKER), "labels": section(_LABELS),
                    "models": models, "alerting": alerting_schema(), "api": _api(),
                    "registry": _registry()})
    return {"$schema": DIALECT, "title": "driftline configuration",
            "description": "The YAML file read by `driftline worker --config` (or "
                           "$DRIFTLINE_CONFIG); every key is optional. See "
                           "docs/configuration.md.", **root}


_MASKED = {"password": "`driftline config check` shows its password as ***.",
           "origin": "`driftline config check` shows it as scheme://host/***.",
           "all": "`driftline config check` shows it as ***."}
Visit = Callable[[dict[str, Any], str], None]


def walk(node: dict[str, Any], visit: Visit, path: str = "", *, variant: bool = False) -> None:
    """Call ``visit(node, path)`` on every subschema of a key: ``path`` has ``*`` for a
    mapping's entries (a model id, a receiver name) and ``[]`` for a list's items.
    The alternatives of an ``anyOf``/``oneOf`` are walked but not visited themselves."""
    if not variant:
        visit(node, path)
    for key, child in node.get("properties", {}).items():
        walk(child, visit, f"{path}.{key}".lstrip("."))
    extra = node.get("additionalProperties")
    if isinstance(extra, dict):
        walk(extra, visit, f"{path}.*".lstrip("."))
    if isinstance(node.get("items"), dict):
        walk(node["items"], visit, f"{path}[]")
    for variants in ("anyOf", "oneOf"):
        for child in node.get(variants, []):
            walk(child, visit, path, variant=True)


def _defaults() -> dict[str, object]:
    found: dict[str, object] = {}
    for path, value in leaves(effective_settings(Settings())):
        parts = path.split(".")
        if parts[0] == "models":
            parts[1] = "*"
        found[".".join(parts)] = value
    return found


def build_schema(descriptions: Mapping[str, str]) -> dict[str, Any]:
    """The schema with the defaults of ``Settings()`` and ``descriptions`` by docs key."""
    schema: dict[str, Any] = json.loads(json.dumps(bare_schema()))  # no shared fragments
    defaults = _defaults()

    def annotate(node: dict[str, Any], path: str) -> None:
        if not path:
            return
        described = descriptions.get(docs_key(path), "")
        mask = secret_mask(path)
        if mask is not None:
            described = f"{described} {_MASKED[mask]}".strip()
        if described:
            node["description"] = described
        if path in defaults and defaults[path] != {} and "default" not in node:
            node["default"] = defaults[path]

    walk(schema, annotate)
    described: set[str] = set()
    walk(schema, lambda node, path: described.add(path))
    missing = sorted(set(defaults) - described)
    if missing:
        raise ValueError(f"no schema for {', '.join(missing)}: add it to streams/config/schema.py")
    return schema


def render(schema: Mapping[str, Any]) -> str:
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write the configuration's JSON Schema.")
    parser.add_argument("--out", type=Path, default=SCHEMA_FILE)
    parser.add_argument("--docs", type=Path, default=DOCS_FILE)
    parser.add_argument("--check", action="store_true",
                        help="exit 1 when the file differs from what would be written")
    args = parser.parse_args(argv)
    text = render(build_schema(documented_keys(args.docs.read_text(encoding="utf-8"))))
    return write_or_check({args.out: text}, check=args.check,
                          stale_message="{files} is stale: run `make config-schema`")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
