"""The typed answers of the API; the OpenAPI document is generated from them.

Decisions:

- A window is the row of ``driftline windows --format json``
  (``store.queries``): its identity and counts are typed here, and the rest of the
  stored report (``features``, ``predictions``, ``targets``, ``policy`` …) passes
  through as it is stored (``extra="allow"``), so the two never drift apart.
- A feature's history row has its statistics as typed fields where they are common
  to every kind and the others (``store.tables.STAT_COLUMNS``) pass through.
- Times are ISO 8601 UTC text with a ``Z`` suffix, as the store gives them.
- A page is ``items`` and ``next_cursor`` (None on the last page).
- A request body says in its schema what the store will refuse when it can (a
  ``reason`` is not empty), so a client reads it from the document.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

Item = TypeVar("Item")
# The store refuses an empty reason (store.records.check_text); the document says so.
Reason = Annotated[str, Field(min_length=1)]


class Page(BaseModel, Generic[Item]):
    """One page of a list, oldest first; pass ``next_cursor`` as ``cursor`` for the next."""

    items: list[Item]
    next_cursor: str | None


class LastWindow(BaseModel):
    window_start: str
    window_end: str
    status: str
    drift_share: float | None
    closed_at: str
    reference_id: int | None
    reference_source: str


class ReferenceSummary(BaseModel):
    """A stored reference profile without its distributions."""

    id: int
    model_id: str
    model_version: str
    source: str
    created_at: str
    n_rows: int | None
    columns: dict[str, str | None]


class Reference(ReferenceSummary):
    """A stored reference with its profile (``ReferenceProfile.to_dict``)."""

    profile: dict[str, Any]


class ModelVersion(BaseModel):
    """A model version with windows: its last window, status and reference."""

    model_version: str
    n_windows: int
    status: str
    last_window: LastWindow
    reference: ReferenceSummary | None


class Model(BaseModel):
    model_id: str
    first_seen_at: str
    versions: list[ModelVersion]


class Window(BaseModel):
    """A stored window as ``driftline windows --format json`` prints it."""

    model_config = ConfigDict(extra="allow")

    model_id: str
    model_version: str
    window_start: str
    window_end: str
    n_events: int
    n_late: int
    status: str
    drift_share: float | None
    dataset_drift: bool
    prediction_drift: bool | None
    reference_id: int | None
    reference_source: str
    closed_at: str
    features: list[dict[str, Any]]
    performance: dict[str, Any] | None
    performance_estimate: dict[str, Any] | None


class FeaturePoint(BaseModel):
    """One column's statistics in one window."""

    model_config = ConfigDict(extra="allow")

    window_start: str
    model_version: str
    feature: str
    kind: str
    role: str
    effect_statistic: str
    effect_value: float | None
    pvalue: float | None
    pvalue_adjusted: float | None
    missing_rate: float | None
    severity: str
    drifted: bool
    n_reference: int
    n_current: int
    n_missing: int


class Performance(BaseModel):
    """A window's realised performance (``metrics``, from labels) and its ``estimate``."""

    window_start: str
    window_end: str
    task: str | None
    n_labels: int
    n_predictions: int | None
    label_coverage: float | None
    latency_p50: float | None
    latency_p95: float | None
    metrics: dict[str, Any] | None
    estimate: dict[str, Any] | None
    revision: int


class Detection(BaseModel):
    """A concept-drift detection on the model's error stream."""

    detector: str
    position: int
    event_time: str
    statistic: str
    params: dict[str, Any]
    detected_at: str


class AlertInstance(BaseModel):
    """The current state of one alert instance (rule, version, feature)."""

    rule: str
    model_id: str
    model_version: str
    feature: str
    status: str
    episode: int
    breaches: int
    clears: int
    last_window_start: str | None
    since: str | None
    resolved_at: str | None
    value: float | None
    updated_at: str


class Transition(BaseModel):
    """An alert firing or resolving."""

    rule: str
    model_id: str
    model_version: str
    feature: str
    episode: int
    status: str
    severity: str
    metric: str
    value: float | None
    threshold: float
    window_start: str
    window_end: str
    started_at: str
    summary: str
    evidence: dict[str, Any]
    at: str


class Health(BaseModel):
    status: str


class SilenceRequest(BaseModel):
    """Silence an alert instance until ``until`` (a time without a zone is UTC)."""

    until: datetime
    reason: Reason
    feature: str = ""


class AcknowledgeRequest(BaseModel):
    """Acknowledge the current episode of a firing alert instance."""

    reason: Reason
    feature: str = ""


class SilenceState(BaseModel):
    """The stored silence and acknowledgement of one alert instance (``store.silences``)."""

    rule: str
    model_id: str
    model_version: str
    feature: str
    silenced_until: str | None
    silenced_at: str | None
    silenced_by: str | None
    reason: str | None
    acknowledged: bool
    acknowledged_at: str | None
    acknowledged_by: str | None
    acknowledged_episode: int | None
    acknowledge_reason: str | None
    suppressed_episode: int | None
    updated_at: str


class Deleted(BaseModel):
    """The rows deleted per table (``store.deletion.VERSION_TABLES``)."""

    model_id: str
    model_version: str
    deleted: dict[str, int]


class AuditEntry(BaseModel):
    """One recorded write: who (the token's name), what, and the state before and after."""

    id: int
    at: str
    actor: str
    action: str
    model_id: str | None
    model_version: str | None
    target: dict[str, Any]
    before: Any
    after: Any


class AuditPage(BaseModel):
    """A page of the audit trail, newest first; pass ``next_before`` as ``before``."""

    items: list[AuditEntry]
    next_before: int | None
