"""Reads for the API, the CLI and the dashboards: JSON-safe dicts, oldest first.

Decisions:

- Timestamps are ISO 8601 UTC text with a ``Z`` suffix.
- ``limit`` keeps the *newest* rows; the list is still in time order (newest
  last), which is what a chart or a "last N windows" table wants.
- ``model_version=None`` means every version of the model; ``''`` means the
  rows stored without a version.
- A window dict is the stored report (the ``driftline compare --format json``
  document: ``features``, ``predictions``, ``targets``, ``policy`` …) with the
  window's identity and counts in front.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.engine import Connection, RowMapping

from store.records import check_count, check_text
from store.tables import STAT_COLUMNS, feature_stats, models, windows
from store.types import iso_utc

WINDOW_FIELDS = (
    "n_events", "n_late", "status", "drift_share", "dataset_drift", "prediction_drift",
    "reference_id", "reference_source",
)
FEATURE_FIELDS = (
    "model_version", "feature", "kind", "role", "effect_statistic", *STAT_COLUMNS,
    "severity", "drifted", "n_reference", "n_current", "n_missing",
)


def list_models(conn: Connection) -> list[str]:
    """Every model id seen, sorted."""
    return list(conn.execute(select(models.c.model_id).order_by(models.c.model_id)).scalars())


def _newest(query: Select[Any], limit: int | None) -> Select[Any]:
    if limit is None:
        return query
    return query.limit(check_count("limit", limit))


def window_dict(row: RowMapping) -> dict[str, Any]:
    """A stored window as a JSON-safe dict (the module docstring gives the shape)."""
    data: dict[str, Any] = {
        "model_id": row["model_id"],
        "model_version": row["model_version"],
        "window_start": iso_utc(row["window_start"]),
        "window_end": iso_utc(row["window_end"]),
        **{name: row[name] for name in WINDOW_FIELDS},
        "closed_at": iso_utc(row["closed_at"]),
    }
    report: dict[str, Any] = row["report"]
    data.update({key: value for key, value in report.items() if key not in data})
    return data


def list_windows(
    conn: Connection, model_id: str, model_version: str | None = None, limit: int | None = None
) -> list[dict[str, Any]]:
    """The model's windows, newest last (module docstring for the shape)."""
    check_text("model_id", model_id)
    query = select(windows).where(windows.c.model_id == model_id)
    if model_version is not None:
        query = query.where(windows.c.model_version == model_version)
    query = query.order_by(
        windows.c.window_start.desc(), windows.c.model_version.desc(), windows.c.id.desc()
    )
    rows = conn.execute(_newest(query, limit)).mappings().all()
    return [window_dict(row) for row in reversed(rows)]


def feature_history(
    conn: Connection,
    model_id: str,
    feature: str,
    model_version: str | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """One column's statistics per window, newest last: ``window_start`` + the statistics."""
    check_text("model_id", model_id)
    check_text("feature", feature)
    table = feature_stats
    query = select(table).where(table.c.model_id == model_id, table.c.feature == feature)
    if model_version is not None:
        query = query.where(table.c.model_version == model_version)
    query = query.order_by(
        table.c.window_start.desc(), table.c.model_version.desc(), table.c.id.desc()
    )
    rows = conn.execute(_newest(query, limit)).mappings().all()
    return [
        {"window_start": iso_utc(row["window_start"]), **{k: row[k] for k in FEATURE_FIELDS}}
        for row in reversed(rows)
    ]


def last_closed(conn: Connection) -> dict[str, datetime]:
    """When each model's newest window was closed (wall clock), for the no-data rules."""
    query = select(windows.c.model_id, func.max(windows.c.closed_at)).group_by(
        windows.c.model_id)
    return {model: closed for model, closed in conn.execute(query) if closed is not None}
