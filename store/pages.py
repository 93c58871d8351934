"""Keyset pages of the stored history, for the HTTP API (``streams.api``).

Decisions:

- A page is read by ``(time, id)`` order, oldest first: windows and feature rows by
  ``window_start``, performance by ``window_start``, detections by ``event_time``,
  alert transitions by ``at``. The key of the last row read (``After``) starts the
  next page, so a page costs one indexed range read whatever its depth, and rows
  written meanwhile neither repeat nor go missing (unlike an offset).
- Each reader fetches ``limit + 1`` rows: the extra one only says whether there is
  a next page (``Page.next``); it is not returned.
- ``start``/``end`` bound the time column as ``[start, end)``; ``None`` is open.
- A window's dict is ``store.queries``' (the ``driftline windows --format json``
  row), and ``with_performance`` adds its performance and estimate the same way the
  CLI does; only the performance rows of the page's own windows are read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Column, Select, and_, func, or_, select
from sqlalchemy.engine import Connection

from store.performance import _coverage, _with_windows
from store.queries import FEATURE_FIELDS, window_dict
from store.records import check_count, check_text
from store.tables import (
    alert_transitions,
    alerts,
    concept_drift_events,
    feature_stats,
    performance,
    reference_profiles,
    windows,
)
from store.types import iso_utc

__all__ = ["After", "Page", "alert_page", "detection_page", "feature_page", "model_versions",
           "performance_page", "reference_list", "transition_page", "window_page",
           "with_performance"]


@dataclass(frozen=True)
class After:
    """Where a page ends: the time and id of its last row."""

    time: datetime
    id: int


@dataclass(frozen=True)
class Page:
    """The rows of one page and the key of the next page (None on the last one)."""

    items: list[dict[str, Any]]
    next: After | None


def _keyset(query: Select[Any], time: Column[Any], key: Column[Any], *, start: datetime | None,
            end: datetime | None, after: After | None, limit: int) -> Select[Any]:
    check_count("limit", limit)
    if start is not None:
        query = query.where(time >= start)
    if end is not None:
        query = query.where(time < end)
    if after is not None:
        query = query.where(or_(time > after.time, and_(time == after.time, key > after.id)))
    return query.order_by(time, key).limit(limit + 1)


def _page(rows: list[Any], limit: int, time: str) -> tuple[list[Any], After | None]:
    if len(rows) <= limit:
        return rows, None
    last = rows[limit - 1]
    return rows[:limit], After(last[time], int(last["id"]))


def with_performance(rows: list[dict[str, Any]], performance_rows: list[dict[str, Any]]) -> None:
    """Add ``performance`` (realised, with ``label_coverage``) and ``performance_estimate``
    to window dicts, as ``driftline windows --format json`` shows them."""
    by_key = {(p["model_version"], iso_utc(p["window_start"])): p for p in performance_rows}
    for row in rows:
        found = by_key.get((row["model_version"], row["window_start"]))
        realised = None
        if found is not None and found["metrics"] is not None:
            realised = {"task": found["task"], "n_labels": found["n_labels"],
                        "label_coverage": found["label_coverage"],
                        "latency_p50": found["latency_p50"],
                        "latency_p95": found["latency_p95"], "revision": found["revision"],
                        "metrics": found["metrics"]}
        row["performance"] = realised
        row["performance_estimate"] = None if found is None else found["estimate"]


def window_page(conn: Connection, model_id: str, model_version: str, *,
                start: datetime | None = None, end: datetime | None = None,
                after: After | None = None, limit: int = 100) -> Page:
    """One page of a model version's windows, each with its performance and estimate."""
    check_text("model_id", model_id)
    query = select(windows).where(windows.c.model_id == model_id,
                                  windows.c.model_version == model_version)
    query = _keyset(query, windows.c.window_start, windows.c.id, start=start, end=end,
                    after=after, limit=limit)
    rows, following = _page(list(conn.execute(query).mappings()), limit, "window_start")
    items = [window_dict(row) for row in rows]
    if rows:
        with_performance(items, _performance_between(
            conn, model_id, model_version, rows[0]["window_start"], rows[-1]["window_start"]))
    return Page(items, following)


def _performance_between(conn: Connection, model_id: str, model_version: str,
                         first: datetime, last: datetime) -> list[dict[str, Any]]:
    """``store.performance.list_performance`` for the windows starting in [first, last]."""
    query = select(performance, windows.c.n_events).select_from(_with_windows()).where(
        performance.c.model_id == model_id, performance.c.model_version == model_version,
        performance.c.window_start >= first, performance.c.window_start <= last)
    rows = []
    for row in conn.execute(query).mappings():
        item = dict(row)
        if row["n_events"] is not None:
            item["label_coverage"] = _coverage(int(row["n_labels"]), int(row["n_events"]))
        rows.append(item)
    return rows


def feature_page(conn: Connection, model_id: str, model_version: str, feature: str, *,
                 start: datetime | None = None, end: datetime | None = None,
                 after: After | None = None, limit: int = 100) -> Page:
    """One page of one column's statistics over time (``store.queries.feature_history``)."""
    check_text("feature", feature)
    table = feature_stats
    query = select(table).where(table.c.model_id == model_id,
                                table.c.model_version == model_version,
                                table.c.feature == feature)
    query = _keyset(query, table.c.window_start, table.c.id, start=start, end=end,
                    after=after, limit=limit)
    rows, following = _page(list(conn.execute(query).mappings()), limit, "window_start")
    items = [{"window_start": iso_utc(row["window_start"]), **{k: row[k] for k in FEATURE_FIELDS}}
             for row in rows]
    return Page(items, following)


def performance_page(conn: Connection, model_id: str, model_version: str, *,
                     start: datetime | None = None, end: datetime | None = None,
                     after: After | None = None, limit: int = 100) -> Page:
    """One page of a model version's performance rows (realised and estimated)."""
    query = select(performance, windows.c.n_events,
                   windows.c.window_end.label("drift_window_end")).select_from(
        _with_windows()).where(performance.c.model_id == model_id,
                               performance.c.model_version == model_version)
    query = _keyset(query, performance.c.window_start, performance.c.id, start=start, end=end,
                    after=after, limit=limit)
    rows, following = _page(list(conn.execute(query).mappings()), limit, "window_start")
    items = []
    for row in rows:
        n_events = row["n_events"]
        coverage = row["label_coverage"]
        if n_events is not None:
            coverage = _coverage(int(row["n_labels"]), int(n_events))
        window_end = row["drift_window_end"] or row["window_end"]
        items.append({"window_start": iso_utc(row["window_start"]),
                      "window_end": iso_utc(window_end), "task": row["task"],
                      "n_labels": row["n_labels"],
                      "n_predictions": None if n_events is None else int(n_events),
                      "label_coverage": coverage, "latency_p50": row["latency_p50"],
                      "latency_p95": row["latency_p95"], "metrics": row["metrics"],
                      "estimate": row["estimate"], "revision": row["revision"]})
    return Page(items, following)


def detection_page(conn: Connection, model_id: str, model_version: str, *,
                   start: datetime | None = None, end: datetime | None = None,
                   after: After | None = None, limit: int = 100) -> Page:
    """One page of a model version's concept-drift detections, by event time."""
    table = concept_drift_events
    query = select(table).where(table.c.model_id == model_id,
                                table.c.model_version == model_version)
    query = _keyset(query, table.c.event_time, table.c.id, start=start, end=end, after=after,
                    limit=limit)
    rows, following = _page(list(conn.execute(query).mappings()), limit, "event_time")
    items = [{"detector": r["detector"], "position": r["position"],
              "event_time": iso_utc(r["event_time"]), "statistic": r["statistic"],
              "params": r["params"], "detected_at": iso_utc(r["detected_at"])} for r in rows]
    return Page(items, following)


def transition_page(conn: Connection, model_id: str, model_version: str | None = None, *,
                    start: datetime | None = None, end: datetime | None = None,
                    after: After | None = None, limit: int = 100) -> Page:
    """One page of a model's alert transitions (firings and resolutions), by time."""
    table = alert_transitions
    query = select(table).where(table.c.model_id == model_id)
    if model_version is not None:
        query = query.where(table.c.model_version == model_version)
    query = _keyset(query, table.c.at, table.c.id, start=start, end=end, after=after,
                    limit=limit)
    rows, following = _page(list(conn.execute(query).mappings()), limit, "at")
    items = []
    for row in rows:
        item = {k: v for k, v in row.items() if k != "id"}
        for name in ("window_start", "window_end", "started_at", "at"):
            item[name] = iso_utc(item[name])
        items.append(item)
    return Page(items, following)


def alert_page(conn: Connection, model_id: str) -> list[dict[str, Any]]:
    """The current state of each alert instance of a model (one row per instance)."""
    query = select(alerts).where(alerts.c.model_id == model_id).order_by(
        alerts.c.model_version, alerts.c.rule, alerts.c.feature)
    items = []
    for row in conn.execute(query).mappings():
        item = dict(row)
        for name in ("last_window_start", "since", "resolved_at", "updated_at"):
            item[name] = None if item[name] is None else iso_utc(item[name])
        items.append(item)
    return items


def model_versions(conn: Connection, model_id: str | None = None) -> list[dict[str, Any]]:
    """Each (model, version) with windows: their count and the last window's identity,
    status and close time, sorted by model and version."""
    counted = select(windows.c.model_id, windows.c.model_version,
                     func.count().label("n_windows"),
                     func.max(windows.c.window_start).label("last_start")).group_by(
        windows.c.model_id, windows.c.model_version)
    if model_id is not None:
        counted = counted.where(windows.c.model_id == model_id)
    found = counted.subquery()
    query = select(found.c.n_windows, windows).join(windows, and_(
        windows.c.model_id == found.c.model_id,
        windows.c.model_version == found.c.model_version,
        windows.c.window_start == found.c.last_start)).order_by(
        windows.c.model_id, windows.c.model_version, windows.c.id)
    versions: dict[tuple[str, str], dict[str, Any]] = {}
    for row in conn.execute(query).mappings():
        versions[(row["model_id"], row["model_version"])] = {
            "model_id": row["model_id"], "model_version": row["model_version"],
            "n_windows": int(row["n_windows"]),
            "last_window": {"window_start": iso_utc(row["window_start"]),
                            "window_end": iso_utc(row["window_end"]),
                            "status": row["status"], "drift_share": row["drift_share"],
                            "closed_at": iso_utc(row["closed_at"]),
                            "reference_id": row["reference_id"],
                            "reference_source": row["reference_source"]}}
    return list(versions.values())


def reference_list(conn: Connection, model_id: str) -> list[dict[str, Any]]:
    """A model's stored references (without their profiles), by version."""
    table = reference_profiles
    query = select(table).where(table.c.model_id == model_id).order_by(table.c.model_version)
    return [reference_summary(dict(row)) for row in conn.execute(query).mappings()]


def reference_summary(row: dict[str, Any]) -> dict[str, Any]:
    """A stored reference's identity, its row count and its columns with their kinds."""
    profile = row["profile"] if isinstance(row["profile"], dict) else {}
    kinds = {column["name"]: column.get("kind") for column in profile.get("columns", [])
             if isinstance(column, dict) and "name" in column}
    return {"id": int(row["id"]), "model_id": row["model_id"],
            "model_version": row["model_version"], "source": row["source"],
            "created_at": iso_utc(row["created_at"]),
            "n_rows": profile.get("n_rows"),
            "columns": kinds}
