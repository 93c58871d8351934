"""The ``registry`` section of the configuration: the model registry references come from.

::

    registry:
      mlflow:
        tracking_uri: http://mlflow.internal:5000   # unset: no registry is watched
        poll_interval: 30s
        champion_alias: champion
        reference_artifact: reference/reference.parquet
        models:                                     # registered model -> driftline model id
          fraud-classifier: fraud

Decisions:

- ``driftline registry watch`` reads this section (docs/versions.md); the worker does
  not. Without ``tracking_uri`` the section is inert and the command refuses to start.
- ``models`` maps registered model names to driftline model ids. Left empty, every
  registered model is watched under its own name; given, only the listed models are.
- ``reference_artifact`` is a path under a run's artifacts (CSV, Parquet or JSON
  Lines), read before the run's logged input datasets.
- ``tracking_uri`` may carry a password (``https://user:secret@host``): ``driftline
  config check`` masks it like the database URL, and a version's page
  (``version_url``, ``{tracking_uri}/#/models/{name}/versions/{version}``) leaves it out.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from alerting.config_values import (
    bad,
    check_keys,
    duration,
    mapping,
    matching,
    optional,
)

KEYS = ("mlflow",)
MLFLOW_KEYS = ("tracking_uri", "poll_interval", "champion_alias", "reference_artifact",
               "models")
TRACKING_URI = r"https?://\S+"
ALIAS = r"[A-Za-z0-9_-]{1,255}"
ARTIFACT = r"[^/\s][^\s]*\.(csv|parquet|jsonl)"
DEFAULT_POLL_INTERVAL = 30.0
MIN_POLL_INTERVAL = 1.0


@dataclass(frozen=True)
class MlflowSettings:
    """``registry.mlflow``: where the tracking server is and what to read from it."""

    tracking_uri: str | None = None
    poll_interval: float = DEFAULT_POLL_INTERVAL
    champion_alias: str = "champion"
    reference_artifact: str = "reference/reference.parquet"
    models: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    def model_id(self, registered: str) -> str | None:
        """The driftline model id of a registered model, or None when it is not watched."""
        if not self.models:
            return registered
        return self.models.get(registered)

    def version_url(self, registered: str, version: str) -> str | None:
        """The registry's page of a model version, or None without a tracking URI."""
        if self.tracking_uri is None:
            return None
        parts = urlsplit(self.tracking_uri)
        host = parts.netloc.rpartition("@")[2]  # never a password in a link
        base = urlunsplit((parts.scheme, host, parts.path, parts.query, "")).rstrip("/")
        return f"{base}/#/models/{quote(registered, safe='')}/versions/{quote(version)}"


@dataclass(frozen=True)
class RegistrySettings:
    """``registry``: the model registries driftline reads references from."""

    mlflow: MlflowSettings = field(default_factory=MlflowSettings)


_uri = matching(TRACKING_URI, "an http:// or https:// URL of an MLflow tracking server")
_alias = matching(ALIAS, "an alias name (1-255 of A-Z a-z 0-9 _ -)")
_artifact = matching(ARTIFACT, "a relative artifact path ending in .csv, .parquet or .jsonl")
_poll = duration(MIN_POLL_INTERVAL, 86400.0)


def _models(raw: object, path: str) -> Mapping[str, str]:
    names: dict[str, str] = {}
    for registered, model_id in mapping(raw, path).items():
        if not isinstance(registered, str) or not registered.strip() or "/" in registered:
            raise bad(path, "a mapping of registered model names (without '/') to model ids",
                      registered)
        if not isinstance(model_id, str) or not re.fullmatch(r"\S+", model_id):
            raise bad(f"{path}.{registered}", "a driftline model id (text without spaces)",
                      model_id)
        names[registered] = model_id
    return MappingProxyType(names)


def _mlflow(raw: object, path: str) -> MlflowSettings:
    values = mapping(raw, path)
    check_keys(values, MLFLOW_KEYS, path)
    parsed: dict[str, Any] = {}
    parsed["tracking_uri"] = optional(_uri)(values.get("tracking_uri"), f"{path}.tracking_uri")
    if "poll_interval" in values:
        parsed["poll_interval"] = _poll(values["poll_interval"], f"{path}.poll_interval")
    if "champion_alias" in values:
        parsed["champion_alias"] = _alias(values["champion_alias"], f"{path}.champion_alias")
    if "reference_artifact" in values:
        parsed["reference_artifact"] = _artifact(values["reference_artifact"],
                                                 f"{path}.reference_artifact")
    parsed["models"] = _models(values.get("models"), f"{path}.models")
    return MlflowSettings(**parsed)


def parse_registry(raw: object, path: str = "registry") -> RegistrySettings:
    """The ``registry`` section (None: no registry watched)."""
    values = mapping(raw, path)
    check_keys(values, KEYS, path)
    return RegistrySettings(mlflow=_mlflow(values.get("mlflow"), f"{path}.mlflow"))
