"""The alert values the store persists: alert states and alert events.

Decided: these live in ``store`` (not ``alerting``) so that ``store`` never
imports ``alerting``; ``alerting.model`` re-exports them, so alerting code and
its callers keep importing them from there. They are plain frozen dataclasses
with no imports beyond the standard library.

- ``AlertState``: what the state machine keeps per (rule, model, version,
  feature), stored in the ``alerts`` table in the transaction of the window
  that moved it.
- ``AlertEvent``: a transition worth telling someone about (firing or resolved),
  stored in ``alert_transitions``. Receivers render it; its keys make every
  delivery idempotent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any, Literal

Severity = Literal["info", "warning", "critical"]
Status = Literal["inactive", "pending", "firing", "resolved"]
SEVERITIES: tuple[Severity, ...] = ("info", "warning", "critical")


def _frozen(values: Mapping[str, Any] | None = None) -> Mapping[str, Any]:
    return MappingProxyType(dict(values or {}))


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
    # The model registry's record of (model, version) when one set its reference
    # (``store.registry_links``): registry, name, version and url. Added when receivers
    # are told (``alerting.apply``), not stored with the transition.
    registry: Mapping[str, str | None] | None = None

    @property
    def dedup_key(self) -> str:
        """The same for an incident's firing and its resolution (PagerDuty ``dedup_key``)."""
        return f"{self.rule}/{self.model_id}/{self.model_version}/{self.feature}/{self.episode}"

    @property
    def idempotency_key(self) -> str:
        """Unique per notification: a redelivery carries the same key."""
        return f"{self.dedup_key}/{self.status}"
