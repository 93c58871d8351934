"""The tables (SQLAlchemy Core). ``migrations/versions`` must build exactly this.

Decisions:

- Every write is an upsert on a natural key, so each table has one (the unique
  constraints below); surrogate ``id`` columns exist only where other rows point
  at a row (references, windows).
- Constraint and index names follow ``NAMING_CONVENTION`` so migrations can name
  what they alter, identically on SQLite and PostgreSQL.
- Names (model ids, versions, features, topics) are ``TEXT``: no length limit
  that one backend enforces and the other ignores. "Any version" is ``''``,
  never NULL, so it takes part in unique keys on both backends.
- The reference table is ``reference_profiles``, not ``references``, which is a
  reserved word in SQL.
- Timestamps are ``UTCDateTime`` (``store.types``). Statistics are ``DOUBLE
  PRECISION`` and NULL when they do not apply; NaN is never stored.
- The whole report and the reference profile are ``JSON`` documents (the
  versioned ``to_dict()`` forms); ``feature_stats`` copies the statistics into
  columns so history queries and dashboards need no JSON functions. Its
  statistic columns are the catalogue's stored statistics
  (``detectors/catalogue.py``); adding one needs a migration.
- ``performance`` keys on (model_id, model_version, window_start) like
  ``windows`` but is written by the outcome consumer, on its own schedule: a
  window's performance can exist before its drift row (labels of an open window)
  and is rewritten in place while late labels arrive (``updated_at`` moves,
  ``revision`` counts the rewrites). Realised metrics and the estimate are JSON
  documents (``detectors`` result forms) plus the few columns dashboards and
  alert rules filter on.
- ``concept_drift_events`` keys on (model_id, model_version, detector, position):
  a replayed error stream finds the same positions and inserts nothing new.
- ``score_calibrations`` holds one learnt calibration per (model_id, model_version).
- Alerting (migration 0003): ``alerts`` holds the current state of each alert
  instance, keyed by (rule, model_id, model_version, feature) as its primary key
  (nothing points at it); it has no foreign key to ``models`` on purpose, so a
  rule may keep state for a configured model before any of its rows exist (a
  ``no_data`` rule) and alert history never blocks deleting a model's windows.
  ``alert_transitions`` is the history: one row per (instance, episode, status),
  so a replayed transition inserts nothing. ``outbox`` holds the notifications
  to deliver, unique per (receiver, idempotency_key); ``ordering_key`` (nullable)
  makes rows of one receiver and key leave in id order (a PagerDuty resolve never
  overtakes its trigger). ``outbox.kind`` (a receiver type, or ``topic``) has no
  CHECK of its values since migration 0004: the receiver types are listed in
  ``alerting.kinds.REGISTRY`` only, so a new type needs no schema change; the
  code checks kinds instead (``store.outbox.enqueue``, ``alerting.kinds.enqueue``).
  ``retrain_requests`` holds one row per retrain request;
  ``open_until`` is the end of its cooldown.
- Writes by people (migration 0005): ``audit`` holds one row per write made
  through the API or the CLI (who, when, what, the state before and after, as
  JSON); it is append-only and keyed by its id, which also orders it.
  ``silences`` holds one row per alert instance (the key of ``alerts``) that
  someone silenced or acknowledged. It is a table of its own, not columns of
  ``alerts``: an instance may be silenced before it has any state, and the
  rule engine's upserts of ``alerts`` stay unaware of it. No foreign key, like
  ``alerts``. ``suppressed_episode`` is the episode whose firing was kept from
  the receivers, so its resolve is kept from them too (``store.silences``).
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Double,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from detectors.catalogue import names, statistics
from store.types import UTCDateTime

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

REFERENCE_SOURCES = ("file", "first_window", "previous_window", "range")
# A window may also have none yet: its model is gathering its first reference.
WINDOW_REFERENCE_SOURCES = (*REFERENCE_SOURCES, "gathering")
WINDOW_STATUSES = ("drift", "no_drift", "insufficient_data")

metadata = MetaData(naming_convention=NAMING_CONVENTION)

# 64-bit ids on PostgreSQL; SQLite autoincrements only an INTEGER primary key
# (which is 64-bit there anyway).
RowId = BigInteger().with_variant(Integer(), "sqlite")


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


models = Table(
    "models",
    metadata,
    Column("model_id", Text, primary_key=True),
    Column("first_seen_at", UTCDateTime, nullable=False),
)

reference_profiles = Table(
    "reference_profiles",
    metadata,
    Column("id", RowId, primary_key=True, autoincrement=True),
    Column("model_id", Text, ForeignKey("models.model_id"), nullable=False),
    Column("model_version", Text, nullable=False),
    Column("source", String(32), nullable=False),
    Column("profile", JSON, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("model_id", "model_version"),
    CheckConstraint(_one_of("source", REFERENCE_SOURCES), name="source"),
)

windows = Table(
    "windows",
    metadata,
    Column("id", RowId, primary_key=True, autoincrement=True),
    Column("model_id", Text, ForeignKey("models.model_id"), nullable=False),
    Column("model_version", Text, nullable=False),
    Column("window_start", UTCDateTime, nullable=False),
    Column("window_end", UTCDateTime, nullable=False),
    Column("n_events", BigInteger, nullable=False),
    Column("n_late", BigInteger, nullable=False),
    Column("status", String(32), nullable=False),
    Column("drift_share", Double, nullable=True),
    Column("dataset_drift", Boolean, nullable=False),
    Column("prediction_drift", Boolean, nullable=True),
    Column(
        "reference_id",
        RowId,
        ForeignKey("reference_profiles.id", ondelete="SET NULL"),
        nullable=True,
    ),
    Column("reference_source", Text, nullable=False),
    Column("report", JSON, nullable=False),
    Column("closed_at", UTCDateTime, nullable=False),
    UniqueConstraint("model_id", "model_version", "window_start"),
    CheckConstraint(_one_of("status", WINDOW_STATUSES), name="status"),
    CheckConstraint("window_end > window_start", name="window_order"),
    Index(None, "model_id", "window_start"),
)

# The stored drift statistics of the catalogue, then the other numbers of a column.
STAT_COLUMNS = (
    *names(statistics(stored=True)),
    "unseen_rate", "pvalue", "pvalue_adjusted", "effect_value", "missing_rate",
)

feature_stats = Table(
    "feature_stats",
    metadata,
    Column("id", RowId, primary_key=True, autoincrement=True),
    Column(
        "window_id", RowId, ForeignKey("windows.id", ondelete="CASCADE"), nullable=False
    ),
    Column("model_id", Text, nullable=False),
    Column("model_version", Text, nullable=False),
    Column("window_start", UTCDateTime, nullable=False),
    Column("feature", Text, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("role", String(32), nullable=False),
    Column("effect_statistic", String(32), nullable=False),
    *(Column(name, Double, nullable=True) for name in STAT_COLUMNS),
    Column("severity", String(32), nullable=False),
    Column("drifted", Boolean, nullable=False),
    Column("n_reference", BigInteger, nullable=False),
    Column("n_current", BigInteger, nullable=False),
    Column("n_missing", BigInteger, nullable=False),
    UniqueConstraint("model_id", "model_version", "window_start", "feature"),
    Index(None, "window_id"),
    Index(None, "model_id", "feature", "window_start"),
)

TASKS = ("classification", "regression")

performance = Table(
    "performance",
    metadata,
    Column("id", RowId, primary_key=True, autoincrement=True),
    Column("model_id", Text, ForeignKey("models.model_id"), nullable=False),
    Column("model_version", Text, nullable=False),
    Column("window_start", UTCDateTime, nullable=False),
    Column("window_end", UTCDateTime, nullable=False),
    Column("task", String(32), nullable=True),
    Column("n_labels", BigInteger, nullable=False),
    Column("n_predictions", BigInteger, nullable=True),
    Column("label_coverage", Double, nullable=True),
    Column("latency_p50", Double, nullable=True),
    Column("latency_p95", Double, nullable=True),
    Column("metrics", JSON, nullable=True),
    Column("estimate", JSON, nullable=True),
    Column("revision", Integer, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("model_id", "model_version", "window_start"),
    CheckConstraint(f"task IS NULL OR {_one_of('task', TASKS)}", name="task"),
    CheckConstraint("window_end > window_start", name="window_order"),
)

concept_drift_events = Table(
    "concept_drift_events",
    metadata,
    Column("id", RowId, primary_key=True, autoincrement=True),
    Column("model_id", Text, ForeignKey("models.model_id"), nullable=False),
    Column("model_version", Text, nullable=False),
    Column("detector", String(32), nullable=False),
    Column("position", BigInteger, nullable=False),
    Column("event_time", UTCDateTime, nullable=False),
    Column("statistic", String(64), nullable=False),
    Column("params", JSON, nullable=False),
    Column("detected_at", UTCDateTime, nullable=False),
    UniqueConstraint("model_id", "model_version", "detector", "position",
                     name="uq_concept_drift_events_detection"),  # the default is too long
    Index(None, "model_id", "event_time"),
)

score_calibrations = Table(
    "score_calibrations",
    metadata,
    Column("model_id", Text, ForeignKey("models.model_id"), primary_key=True),
    Column("model_version", Text, primary_key=True),
    Column("calibration", JSON, nullable=False),
    Column("n_rows", BigInteger, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

ingest_checkpoints = Table(
    "ingest_checkpoints",
    metadata,
    Column("group_id", Text, primary_key=True),
    Column("topic", Text, primary_key=True),
    Column("partition", Integer, primary_key=True),
    Column("next_offset", BigInteger, nullable=False),
    Column("state", LargeBinary, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    CheckConstraint("next_offset >= 0", name="next_offset"),
)

ALERT_STATUSES = ("inactive", "pending", "firing", "resolved")
TRANSITION_STATUSES = ("firing", "resolved")
OUTBOX_STATUSES = ("pending", "delivered", "dead")

alerts = Table(
    "alerts",
    metadata,
    Column("rule", Text, primary_key=True),
    Column("model_id", Text, primary_key=True),
    Column("model_version", Text, primary_key=True),
    Column("feature", Text, primary_key=True),
    Column("status", String(16), nullable=False),
    Column("episode", Integer, nullable=False),
    Column("breaches", Integer, nullable=False),
    Column("clears", Integer, nullable=False),
    Column("last_window_start", UTCDateTime, nullable=True),
    Column("since", UTCDateTime, nullable=True),
    Column("resolved_at", UTCDateTime, nullable=True),
    Column("value", Double, nullable=True),
    Column("updated_at", UTCDateTime, nullable=False),
    CheckConstraint(_one_of("status", ALERT_STATUSES), name="status"),
)

alert_transitions = Table(
    "alert_transitions",
    metadata,
    Column("id", RowId, primary_key=True, autoincrement=True),
    Column("rule", Text, nullable=False),
    Column("model_id", Text, nullable=False),
    Column("model_version", Text, nullable=False),
    Column("feature", Text, nullable=False),
    Column("episode", Integer, nullable=False),
    Column("status", String(16), nullable=False),
    Column("severity", String(16), nullable=False),
    Column("metric", Text, nullable=False),
    Column("value", Double, nullable=True),
    Column("threshold", Double, nullable=False),
    Column("window_start", UTCDateTime, nullable=False),
    Column("window_end", UTCDateTime, nullable=False),
    Column("started_at", UTCDateTime, nullable=False),
    Column("summary", Text, nullable=False),
    Column("evidence", JSON, nullable=False),
    Column("at", UTCDateTime, nullable=False),
    UniqueConstraint("rule", "model_id", "model_version", "feature", "episode", "status",
                     name="uq_alert_transitions_incident"),  # the default is too long
    CheckConstraint(_one_of("status", TRANSITION_STATUSES), name="status"),
    Index(None, "model_id", "at"),
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", RowId, primary_key=True, autoincrement=True),
    Column("receiver", Text, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("idempotency_key", Text, nullable=False),
    Column("ordering_key", Text, nullable=True),
    Column("payload", JSON, nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", UTCDateTime, nullable=False),
    Column("claimed_until", UTCDateTime, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("delivered_at", UTCDateTime, nullable=True),
    Column("dead_at", UTCDateTime, nullable=True),
    UniqueConstraint("receiver", "idempotency_key"),
    CheckConstraint(_one_of("status", OUTBOX_STATUSES), name="status"),
    CheckConstraint("attempts >= 0", name="attempts"),
    Index(None, "status", "next_attempt_at"),
    Index(None, "receiver", "ordering_key"),
)

retrain_requests = Table(
    "retrain_requests",
    metadata,
    Column("id", RowId, primary_key=True, autoincrement=True),
    Column("model_id", Text, nullable=False),
    Column("model_version", Text, nullable=False),
    Column("rule", Text, nullable=False),
    Column("idempotency_key", Text, nullable=False),
    Column("requested_at", UTCDateTime, nullable=False),
    Column("open_until", UTCDateTime, nullable=False),
    Column("evidence", JSON, nullable=False),
    UniqueConstraint("idempotency_key"),
    CheckConstraint("open_until >= requested_at", name="open_order"),
    Index(None, "model_id", "model_version", "open_until"),
)

audit = Table(
    "audit",
    metadata,
    Column("id", RowId, primary_key=True, autoincrement=True),
    Column("at", UTCDateTime, nullable=False),
    Column("actor", Text, nullable=False),
    Column("action", String(64), nullable=False),
    Column("model_id", Text, nullable=True),
    Column("model_version", Text, nullable=True),
    Column("target", JSON, nullable=False),
    Column("before", JSON, nullable=True),
    Column("after", JSON, nullable=True),
    Index(None, "at"),
    Index(None, "model_id", "at"),
)

silences = Table(
    "silences",
    metadata,
    Column("rule", Text, primary_key=True),
    Column("model_id", Text, primary_key=True),
    Column("model_version", Text, primary_key=True),
    Column("feature", Text, primary_key=True),
    Column("silenced_until", UTCDateTime, nullable=True),
    Column("silenced_at", UTCDateTime, nullable=True),
    Column("silenced_by", Text, nullable=True),
    Column("reason", Text, nullable=True),
    Column("acknowledged", Boolean, nullable=False),
    Column("acknowledged_at", UTCDateTime, nullable=True),
    Column("acknowledged_by", Text, nullable=True),
    Column("acknowledged_episode", Integer, nullable=True),
    Column("acknowledge_reason", Text, nullable=True),
    Column("suppressed_episode", Integer, nullable=True),
    Column("updated_at", UTCDateTime, nullable=False),
)
