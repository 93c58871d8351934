"""The effective settings: every key with its value after defaults and environment, secrets
masked, and where each value came from (``driftline config check``).

``effective_settings(settings)`` is a dict in the shape of the configuration file
(durations in seconds, sizes in bytes) with every key, including the ``alerting``
section. Without alerting secrets it loads back as a configuration file and gives
the same settings.

``SECRET_SETTINGS`` is the one list of secret settings, by key path (``*`` stands
for a receiver's name), and how each is shown:

- ``password``: a URL with its password masked (``user:***@``, ``password=***``);
- ``origin``: a URL shown as ``scheme://host/***`` (a Slack webhook's path is its secret);
- ``all``: ``***``.

A ``Secret`` value found at a path not in the list is shown as ``***`` as well, and
``unlisted_secrets`` names such paths so a test can keep the list complete.

``value_sources`` says, per leaf key, where its value came from: ``env NAME``,
``file`` or ``default``. A model's key not given for the model itself comes from
``models.default``, where the same order applies.
"""

from __future__ import annotations

import dataclasses
import fnmatch
from collections.abc import Iterator, Mapping
from types import MappingProxyType
from typing import Any, Literal

from alerting.config_values import mask_passwords, url_origin
from alerting.receivers import ReceiverSettings, Secret
from alerting.rules import Rule
from alerting.settings import AlertingSettings
from streams.config.api import ApiSettings
from streams.config.registry import RegistrySettings
from streams.config.settings import Settings, Sources

Mask = Literal["password", "origin", "all"]
MASKED = "***"

SECRET_SETTINGS: Mapping[str, Mask] = MappingProxyType({
    "broker_url": "password",
    "database_url": "password",
    "registry.mlflow.tracking_uri": "password",
    "alerting.receivers.*.url": "origin",
    "alerting.receivers.*.routing_key": "all",
    "alerting.receivers.*.signing_secret": "all",
    "alerting.retrain.signing_secret": "all",
})

_RULE_THRESHOLDS = ("above", "below", "resolve_below", "resolve_above")


def secret_mask(path: str) -> Mask | None:
    """How the value at ``path`` is masked, or None when it is not a secret."""
    for pattern, mask in SECRET_SETTINGS.items():
        if fnmatch.fnmatchcase(path, pattern):
            return mask
    return None


def _receiver(receiver: ReceiverSettings) -> dict[str, Any]:
    shown: dict[str, Any] = {"type": receiver.type, "url": receiver.url}
    if receiver.routing_key is not None:
        shown["routing_key"] = receiver.routing_key
    if receiver.signing_secret is not None:
        shown["signing_secret"] = receiver.signing_secret
    shown.update(receiver.secrets)  # a type's own secret keys (shown as ``***`` unless listed)
    shown["timeout"] = receiver.timeout
    return shown


def _rule(rule: Rule) -> dict[str, Any]:
    shown: dict[str, Any] = {"name": rule.name, "metric": rule.metric}
    if not rule.spec.boolean:  # a boolean metric's stored above: 0 is implied, not written
        shown.update({key: getattr(rule, key) for key in _RULE_THRESHOLDS
                      if getattr(rule, key) is not None})
    if rule.metric != "no_data":
        shown.update({"for": rule.for_, "resolve_for": rule.resolve_for})
    shown.update({"severity": rule.severity, "cooldown": rule.cooldown})
    for key in ("models", "versions", "features"):
        scope = getattr(rule, key)
        if scope is not None:
            shown[key] = list(scope)
    shown["receivers"] = list(rule.receivers)
    if rule.runbook_url is not None:
        shown["runbook_url"] = rule.runbook_url
    shown["retrain"] = rule.retrain
    if rule.after is not None:
        shown["after"] = rule.after
    return shown


def _alerting(alerting: AlertingSettings) -> dict[str, Any]:
    retrain: dict[str, Any] = {"cooldown": alerting.retrain.cooldown,
                               "topic": alerting.retrain.topic}
    if alerting.retrain.signing_secret is not None:
        retrain["signing_secret"] = alerting.retrain.signing_secret
    return {"grafana_url": alerting.grafana_url,
            "receivers": {name: _receiver(r) for name, r in alerting.receivers.items()},
            "rules": [_rule(rule) for rule in alerting.rules],
            "dispatch": dataclasses.asdict(alerting.dispatch), "retrain": retrain}


def _api(api: ApiSettings) -> dict[str, Any]:
    """The ``api`` section: a token shows as its scopes only (only its digest is kept)."""
    return {"open_reads": api.open_reads, "max_page": api.max_page,
            "tokens": {name: {"scopes": sorted(token.scopes)}
                       for name, token in api.tokens.items()}}


def _registry(registry: RegistrySettings) -> dict[str, Any]:
    mlflow = registry.mlflow
    return {"mlflow": {"tracking_uri": mlflow.tracking_uri,
                       "poll_interval": mlflow.poll_interval,
                       "champion_alias": mlflow.champion_alias,
                       "reference_artifact": mlflow.reference_artifact,
                       "models": dict(mlflow.models)}}


def _unmasked(settings: Settings) -> dict[str, Any]:
    return {"broker_url": settings.broker_url, "database_url": settings.database_url,
            "topics": dataclasses.asdict(settings.topics),
            "ingest": dataclasses.asdict(settings.ingest),
            "worker": dataclasses.asdict(settings.worker),
            "labels": dataclasses.asdict(settings.labels),
            "models": {name: model.to_dict() for name, model in settings.models.items()},
            "alerting": _alerting(settings.alerting), "api": _api(settings.api),
            "registry": _registry(settings.registry)}


def _masked_value(value: object, path: str) -> object:
    mask = secret_mask(path)
    text = value.reveal() if isinstance(value, Secret) else value
    if mask is None:
        return MASKED if isinstance(value, Secret) else value
    if not isinstance(text, str):
        return text
    if mask == "password":
        return mask_passwords(text)
    if mask == "origin":
        return f"{url_origin(text)}/{MASKED}"
    return MASKED


def _masked(node: object, path: str) -> object:
    if isinstance(node, Mapping):
        return {key: _masked(value, f"{path}.{key}".lstrip(".")) for key, value in node.items()}
    if isinstance(node, list):
        return [_masked(item, path) for item in node]
    return _masked_value(node, path)


def effective_settings(settings: Settings) -> dict[str, Any]:
    """Every setting, configuration-shaped, with every secret masked."""
    shown = _masked(_unmasked(settings), "")
    assert isinstance(shown, dict)
    return shown


def unlisted_secrets(settings: Settings) -> list[str]:
    """Paths holding a ``Secret`` that ``SECRET_SETTINGS`` does not list (should be none)."""
    return [path for path, value in leaves(_unmasked(settings))
            if isinstance(value, Secret) and secret_mask(path) is None]


def leaves(node: object, path: str = "") -> Iterator[tuple[str, object]]:
    """(key path, value) of every leaf: scalars, lists and empty mappings."""
    if isinstance(node, Mapping) and node:
        for key, value in node.items():
            yield from leaves(value, f"{path}.{key}".lstrip("."))
    else:
        yield path, node


def _given(tree: Mapping[Any, Any], keys: list[str]) -> bool:
    node: object = tree
    for key in keys:
        if not isinstance(node, Mapping) or key not in node:
            return False
        node = node[key]
    return True


def _source(keys: list[str], sources: Sources) -> str | None:
    for depth in range(len(keys), 0, -1):
        variable = sources.variables.get(".".join(keys[:depth]))
        if variable is not None:
            return f"env {variable}"
    return "file" if _given(sources.file, keys) else None


def value_sources(settings: Settings, sources: Sources) -> dict[str, str]:
    """Key path -> ``env NAME``, ``file`` or ``default``, for every leaf of the settings."""
    found: dict[str, str] = {}
    for path, _ in leaves(_unmasked(settings)):
        keys = path.split(".")
        source = _source(keys, sources)
        if source is None and keys[0] == "models" and len(keys) > 2:
            source = _source(["models", "default", *keys[2:]], sources)
        found[path] = source or "default"
    return found
