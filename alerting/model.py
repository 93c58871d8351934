"""The values alerting passes between its parts: what rules see, remember and send.

- ``WindowFacts``: the stored results of one window of one (model, version), as
  alert rules see them. ``streams`` builds it from a closed window (drift, data
  quality) or from a re-finalised performance row (performance, estimate,
  concept drift); a field the source does not know is None.
- ``AlertState`` and ``AlertEvent`` (with ``Severity``, ``Status`` and
  ``SEVERITIES``) are defined in ``store.alert_values``, because the store
  persists them and ``store`` must not import ``alerting``; they are re-exported
  here, so alerting code keeps importing them from this module.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any, Literal

from alerting.config_values import ConfigError
from detectors.catalogue import names, statistics
from store.alert_values import (
    SEVERITIES,
    AlertEvent,
    AlertState,
    Severity,
    Status,
)

__all__ = ["SEVERITIES", "AlertEvent", "AlertState", "AlertingConfigError", "FeatureFacts",
           "Severity", "Status", "WindowFacts"]


def _frozen(values: Mapping[str, float | None] | None = None) -> Mapping[str, float | None]:
    return MappingProxyType(dict(values or {}))


@dataclass(frozen=True)
class FeatureFacts:
    """One feature's drift statistics in a window.

    ``statistics`` holds the catalogue's alert statistics by name
    (``detectors/catalogue.py``, entries with ``alerts``); a statistic that does
    not apply (a KS statistic of a categorical feature) is None or absent.
    """

    name: str
    drifted: bool
    severity: Literal["none", "warn", "critical"]
    statistics: Mapping[str, float | None] = field(default_factory=_frozen)
    missing_rate: float | None = None
    effect_statistic: str = "psi"
    effect_value: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "statistics", _frozen(self.statistics))

    def statistic(self, name: str) -> float | None:
        """The value of one statistic (None when it does not apply or is not known)."""
        return self.statistics.get(name)

    def to_dict(self) -> dict[str, Any]:
        """Flat, as alert evidence shows it: every alert statistic of the catalogue is a
        key of its own (None when it does not apply)."""
        return {"name": self.name, "drifted": self.drifted, "severity": self.severity,
                **{key: self.statistic(key) for key in names(statistics(alerts=True))},
                "missing_rate": self.missing_rate, "effect_statistic": self.effect_statistic,
                "effect_value": self.effect_value}


@dataclass(frozen=True)
class WindowFacts:
    """The results of one window, keyed by (model_id, model_version, window_start).

    ``source`` says which path produced it: ``"drift"`` (a window closed by the
    ingest: features, drift share, data quality) or ``"performance"`` (a window's
    realised performance, estimate and concept-drift detections). Rules read only
    the fields of the source they need and ignore facts of the other source.
    """

    source: Literal["drift", "performance"]
    model_id: str
    model_version: str
    window_start: datetime
    window_end: datetime
    n_events: int = 0
    n_late: int = 0
    n_invalid: int = 0
    drift_share: float | None = None
    dataset_drift: bool | None = None
    n_drifted: int | None = None
    features: tuple[FeatureFacts, ...] = ()
    performance: Mapping[str, float | None] = field(default_factory=_frozen)
    estimate: Mapping[str, float | None] = field(default_factory=_frozen)
    label_coverage: float | None = None
    concept_detections: int = 0

    @property
    def window_id(self) -> str:
        """A stable name of the window, for evidence and idempotency keys."""
        return f"{self.model_id}/{self.model_version}/{self.window_start.isoformat()}"

    @property
    def late_rate(self) -> float | None:
        total = self.n_events + self.n_late
        return self.n_late / total if total else None

    @property
    def invalid_rate(self) -> float | None:
        total = self.n_events + self.n_invalid
        return self.n_invalid / total if total else None


# A bad ``alerting`` setting: one line naming the key path (``path``) and the value; secrets
# are never part of the message. The same class as every configuration error.
AlertingConfigError = ConfigError
