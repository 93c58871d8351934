"""The repository: every SQL statement of driftline, as functions of a ``Connection``.

Each function runs inside the caller's transaction and never commits, so a
window, its feature rows, alert state and the consumer checkpoint can commit
together::

    with engine.begin() as conn:
        save_window(conn, record)
        save_checkpoint(conn, group_id, topic, partition, next_offset, state)

Every write is an idempotent upsert on a natural key (``store.upsert``): a
replay after a crash rewrites the same rows. Reads live in ``store.queries``
and checkpoints in ``store.checkpoints``; this module re-exports them so that
``store.repository`` is the one place to import from.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.engine import Connection, RowMapping

from detectors import ColumnDrift, ReferenceProfile
from store.checkpoints import load_checkpoints, save_checkpoint
from store.queries import feature_history, list_models, list_windows
from store.records import (
    Checkpoint,
    StoredReference,
    WindowRecord,
    check_source,
    check_text,
    check_version,
)
from store.tables import STAT_COLUMNS, feature_stats, models, reference_profiles, windows
from store.upsert import insert_ignore, upsert
from store.values import finite, json_safe, utc_now

__all__ = [
    "Checkpoint",
    "StoredReference",
    "WindowRecord",
    "feature_history",
    "list_models",
    "list_windows",
    "load_checkpoints",
    "load_reference",
    "load_reference_by_id",
    "save_checkpoint",
    "save_reference",
    "save_window",
    "touch_model",
]

WINDOW_KEY = ("model_id", "model_version", "window_start")
FEATURE_KEY = ("model_id", "model_version", "window_start", "feature")
REFERENCE_KEY = ("model_id", "model_version")


def touch_model(conn: Connection, model_id: str, now: datetime | None = None) -> None:
    """Record that ``model_id`` exists; its ``first_seen_at`` is never moved."""
    check_text("model_id", model_id)
    row = {"model_id": model_id, "first_seen_at": now or utc_now()}
    conn.execute(insert_ignore(conn, models, ("model_id",)), row)


def save_reference(
    conn: Connection,
    model_id: str,
    model_version: str | None,
    profile: ReferenceProfile,
    source: str,
    now: datetime | None = None,
) -> int:
    """Store the reference of a model version (None or ``''``: of any version).

    An existing reference for the same (model, version) is replaced in place
    and keeps its id; ``created_at`` becomes the time of this save. Returns the id.
    """
    check_text("model_id", model_id)
    version = check_version("model_version", model_version)
    check_source("source", source)
    if not isinstance(profile, ReferenceProfile):
        raise ValueError(f"profile must be a ReferenceProfile, got {type(profile).__name__}")
    touch_model(conn, model_id, now)
    row = {
        "model_id": model_id,
        "model_version": version,
        "source": source,
        "profile": json_safe(profile.to_dict()),
        "created_at": now or utc_now(),
    }
    stmt = upsert(conn, reference_profiles, REFERENCE_KEY).returning(reference_profiles.c.id)
    return int(conn.execute(stmt, row).scalar_one())


def _stored_reference(row: RowMapping) -> StoredReference:
    return StoredReference(
        id=int(row["id"]),
        model_id=row["model_id"],
        model_version=row["model_version"],
        source=row["source"],
        profile=ReferenceProfile.from_dict(row["profile"]),
        created_at=row["created_at"],
    )


def load_reference(
    conn: Connection, model_id: str, model_version: str | None
) -> StoredReference | None:
    """The reference for this version if there is one, else the model-wide one, else None."""
    version = check_version("model_version", model_version)
    table = reference_profiles
    query = (
        select(table)
        .where(table.c.model_id == model_id, table.c.model_version.in_({version, ""}))
        .order_by(table.c.model_version.desc())  # the specific version sorts before ''
        .limit(1)
    )
    row = conn.execute(query).mappings().first()
    return None if row is None else _stored_reference(row)


@dataclass(frozen=True)
class LastWindow:
    """Where the stored windows of a model version end: the last one's end and late count."""

    window_end: datetime
    n_late: int


def last_window(conn: Connection, model_id: str, model_version: str) -> LastWindow | None:
    """The last stored window of a model version (by start), or None when it has none."""
    query = (
        select(windows.c.window_end, windows.c.n_late)
        .where(windows.c.model_id == model_id, windows.c.model_version == model_version)
        .order_by(windows.c.window_start.desc())
        .limit(1)
    )
    row = conn.execute(query).first()
    return None if row is None else LastWindow(row.window_end, int(row.n_late))


def load_reference_by_id(conn: Connection, reference_id: int) -> StoredReference | None:
    """The reference with this id (as a window or a checkpoint refers to it), or None.

    A reference replaced by ``save_reference`` keeps its id, so this gives the
    profile as last saved for that (model, version).
    """
    query = select(reference_profiles).where(reference_profiles.c.id == reference_id)
    row = conn.execute(query).mappings().first()
    return None if row is None else _stored_reference(row)


def _window_row(record: WindowRecord) -> dict[str, Any]:
    report = record.report
    return {
        "model_id": record.model_id,
        "model_version": record.model_version,
        "window_start": record.window_start,
        "window_end": record.window_end,
        "n_events": record.n_events,
        "n_late": record.n_late,
        "status": report.status,
        "drift_share": finite(report.drift_share),
        "dataset_drift": bool(report.dataset_drift),
        "prediction_drift": report.prediction_drift,
        "reference_id": record.reference_id,
        "reference_source": record.reference_source,
        "report": json_safe(report.to_dict()),
        "closed_at": record.closed_at or utc_now(),
    }


def _feature_row(window_id: int, record: WindowRecord, column: ColumnDrift) -> dict[str, Any]:
    row: dict[str, Any] = {
        "window_id": window_id,
        "model_id": record.model_id,
        "model_version": record.model_version,
        "window_start": record.window_start,
        "feature": column.name,
        "kind": column.kind,
        "role": column.role,
        "effect_statistic": column.effect_statistic,
        "severity": column.severity,
        "drifted": bool(column.drifted),
        "n_reference": column.n_reference,
        "n_current": column.n_current,
        "n_missing": column.n_missing,
    }
    row.update({name: finite(getattr(column, name)) for name in STAT_COLUMNS})
    return row


def save_window(conn: Connection, record: WindowRecord) -> int:
    """Upsert a window and one ``feature_stats`` row per column of its report.

    Feature, prediction and target columns all get a row. Replaying the same
    window rewrites the same rows; a column that is no longer in the report
    loses its row. Returns the window's id, stable across replays.
    """
    touch_model(conn, record.model_id, record.closed_at)
    stmt = upsert(conn, windows, WINDOW_KEY).returning(windows.c.id)
    window_id = int(conn.execute(stmt, _window_row(record)).scalar_one())
    report = record.report
    columns = [*report.features, *report.predictions, *report.targets]
    names = [c.name for c in columns]
    conn.execute(
        delete(feature_stats).where(
            feature_stats.c.window_id == window_id, feature_stats.c.feature.not_in(names)
        )
    )
    if columns:
        rows = [_feature_row(window_id, record, c) for c in columns]
        conn.execute(upsert(conn, feature_stats, FEATURE_KEY), rows)
    return window_id
