"""The values alerting passes between its parts: what rules see, remember and send.

- ``WindowFacts``: the stored results of one window of one (model, version), as
  alert rules see them. ``streams`` builds it from a closed window (drift, data
  quality) or from a re-finalised performance row (performance, estimate,
  concept drift); a field the source does not know is None.
- ``AlertState``: what the state machine keeps per (rule, model, version,
  feature), stored in the ``alerts`` table in the transaction of the window
  that moved it.
- ``AlertEvent``: a transition worth telling someone about (firing or resolved).
  Receivers render it; its keys make every delivery idempotent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any, Literal

from detectors.catalogue import names, statistics

Severity = Literal["info", "warning", "critical"]
Status = Literal["inactive", "pending", "firing", "resolved"]
SEVERITIES: tuple[Severity, ...] = ("info", "warning", "critical")


def _frozen(values: Mapping[str, Any] | None = None) -> Mapping[str, Any]:
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


@dataclass(frozen=True)
class AlertState:
    """The state of one alert instance: (rule, model_id, model_version, feature).

    ``feature`` is ``""`` for rules not scoped per feature. ``last_window_start``
    is the newest window this instance has evaluated: an older or equal window
    (a replay) changes nothing. ``episode`` counts the times the instance began
    firing, so (instance, episode) names one incident. ``breaches`` counts
    consecutive windows over the threshold (towards ``for``), ``clears``
    consecutive windows past the resolve threshold.
    """

    rule: str
    model_id: str
    model_version: str
    feature: str = ""
    status: Status = "inactive"
    episode: int = 0
    breaches: int = 0
    clears: int = 0
    last_window_start: datetime | None = None
    since: datetime | None = None  # when the current status began (window event time)
    resolved_at: datetime | None = None  # end of the last episode (for the cooldown)
    value: float | None = None  # the value last evaluated


@dataclass(frozen=True)
class AlertEvent:
    """A firing or a resolution, as receivers are told of it."""

    rule: str
    status: Literal["firing", "resolved"]
    severity: Severity
    model_id: str
    model_version: str
    feature: str
    episode: int
    metric: str
    value: float | None
    threshold: float
    window_start: datetime
    window_end: datetime
    started_at: datetime
    summary: str
    receivers: tuple[str, ...] = ()
    runbook_url: str | None = None
    retrain: bool = False
    evidence: Mapping[str, Any] = field(default_factory=_frozen)

    @property
    def dedup_key(self) -> str:
        """The same for an incident's firing and its resolution (PagerDuty ``dedup_key``)."""
        return f"{self.rule}/{self.model_id}/{self.model_version}/{self.feature}/{self.episode}"

    @property
    def idempotency_key(self) -> str:
        """Unique per notification: a redelivery carries the same key."""
        return f"{self.dedup_key}/{self.status}"


class AlertingConfigError(ValueError):
    """A bad ``alerting`` setting: one line naming the key path (``path``) and the value.

    Secrets are never part of the message.
    """

    def __init__(self, message: str, path: str = "") -> None:
        super().__init__(message)
        self.path = path
