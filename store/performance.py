"""Performance per window, concept-drift detections and score calibrations.

The outcome consumer writes ``save_performance`` and ``save_detections`` in the
same transaction as its checkpoint; the ingest writes ``save_estimate`` with the
window it closes. All writes are idempotent upserts:

- a performance row is keyed by (model, version, window_start); late labels
  rewrite it in place (``revision`` counts the rewrites, never a second row), and
  the realised side never touches ``estimate`` nor the reverse;
- a detection is keyed by (model, version, detector, position): a replay inserts
  nothing new;
- the first calibration stored for a (model, version) stays (the reference period
  is the first labelled rows; a replay cannot replace it with a later one).

Label coverage is the labels joined to a window over the predictions the drift
window counted (``windows.n_events``); it is looked up when the row is written and
again when it is read, so a window whose drift row closed later still gets one.

A row's window is its drift window's, by ``window_start``, for time windows and
count windows alike. A count window's end is known only when it closes, so once
the drift row is stored its ``window_end`` is the one written and read here (the
outcome consumer's own end for a count window is the latest labelled prediction).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.engine import Connection

from store.records import check_aware, check_count, check_text, check_version
from store.tables import concept_drift_events, performance, score_calibrations, windows
from store.upsert import insert_for, insert_ignore
from store.values import finite, json_safe, utc_now

PERFORMANCE_KEY = ("model_id", "model_version", "window_start")
DETECTION_KEY = ("model_id", "model_version", "detector", "position")


@dataclass(frozen=True)
class PerformanceRecord:
    """The realised performance of one window, from the labels joined so far."""

    model_id: str
    model_version: str
    window_start: datetime
    window_end: datetime
    task: str | None
    n_labels: int
    latency_p50: float | None
    latency_p95: float | None
    metrics: dict[str, Any] | None

    def __post_init__(self) -> None:
        check_text("model_id", self.model_id)
        check_version("model_version", self.model_version)
        check_aware("window_start", self.window_start)
        check_aware("window_end", self.window_end)
        check_count("n_labels", self.n_labels)
        if self.task not in (None, "classification", "regression"):
            raise ValueError(f"task must be classification or regression, got {self.task!r}")


@dataclass(frozen=True)
class DetectionRecord:
    """One concept-drift detection on a model's error stream."""

    model_id: str
    model_version: str
    detector: str
    position: int
    event_time: datetime
    statistic: str
    params: dict[str, Any]

    def __post_init__(self) -> None:
        check_text("model_id", self.model_id)
        check_version("model_version", self.model_version)
        check_text("detector", self.detector)
        check_count("position", self.position)
        check_aware("event_time", self.event_time)


def _drift_window(conn: Connection, model_id: str, version: str,
                  start: datetime) -> tuple[int, datetime] | None:
    """The stored drift window's event count and end, or None before it is stored."""
    query = select(windows.c.n_events, windows.c.window_end).where(
        windows.c.model_id == model_id, windows.c.model_version == version,
        windows.c.window_start == start)
    row = conn.execute(query).first()
    return None if row is None else (int(row[0]), row[1])


def _coverage(n_labels: int, n_predictions: int | None) -> float | None:
    return n_labels / n_predictions if n_predictions else None


def save_performance(conn: Connection, record: PerformanceRecord,
                     now: datetime | None = None) -> float | None:
    """Upsert the realised side of a window's performance row; its label coverage
    (None while the window's drift row is not stored)."""
    drift = _drift_window(conn, record.model_id, record.model_version, record.window_start)
    n_predictions, window_end = (None, record.window_end) if drift is None else drift
    coverage = _coverage(record.n_labels, n_predictions)
    row = {"model_id": record.model_id, "model_version": record.model_version,
           "window_start": record.window_start, "window_end": window_end,
           "task": record.task, "n_labels": record.n_labels, "n_predictions": n_predictions,
           "label_coverage": coverage,
           "latency_p50": finite(record.latency_p50), "latency_p95": finite(record.latency_p95),
           "metrics": json_safe(record.metrics), "estimate": None, "revision": 0,
           "updated_at": now or utc_now()}
    stmt = insert_for(conn, performance)
    changed = ("window_end", "task", "n_labels", "n_predictions", "label_coverage",
               "latency_p50", "latency_p95", "metrics", "updated_at")
    set_: dict[str, Any] = {name: stmt.excluded[name] for name in changed}
    set_["revision"] = performance.c.revision + 1
    conn.execute(stmt.on_conflict_do_update(index_elements=list(PERFORMANCE_KEY), set_=set_),
                 row)
    return coverage


def save_estimate(conn: Connection, model_id: str, model_version: str, window_start: datetime,
                  window_end: datetime, estimate: dict[str, Any],
                  now: datetime | None = None) -> None:
    """Upsert the estimated side of a window's performance row (the realised side stays)."""
    row = {"model_id": check_text("model_id", model_id),
           "model_version": check_version("model_version", model_version),
           "window_start": check_aware("window_start", window_start),
           "window_end": check_aware("window_end", window_end), "task": "classification",
           "n_labels": 0, "n_predictions": None, "label_coverage": None, "latency_p50": None,
           "latency_p95": None, "metrics": None, "estimate": json_safe(estimate), "revision": 0,
           "updated_at": now or utc_now()}
    stmt = insert_for(conn, performance)
    set_ = {"estimate": stmt.excluded["estimate"], "updated_at": stmt.excluded["updated_at"]}
    conn.execute(stmt.on_conflict_do_update(index_elements=list(PERFORMANCE_KEY), set_=set_),
                 row)


def save_detections(conn: Connection, records: Iterable[DetectionRecord],
                    now: datetime | None = None) -> None:
    """Insert detections; one already stored (a replay) is left as it is."""
    rows = [{"model_id": r.model_id, "model_version": r.model_version, "detector": r.detector,
             "position": r.position, "event_time": r.event_time, "statistic": r.statistic,
             "params": json_safe(r.params), "detected_at": now or utc_now()} for r in records]
    if rows:
        conn.execute(insert_ignore(conn, concept_drift_events, DETECTION_KEY), rows)


def save_calibration(conn: Connection, model_id: str, model_version: str,
                     calibration: dict[str, Any], n_rows: int,
                     now: datetime | None = None) -> None:
    """Store the first calibration of a (model, version); a later one is ignored."""
    row = {"model_id": check_text("model_id", model_id),
           "model_version": check_version("model_version", model_version),
           "calibration": json_safe(calibration), "n_rows": check_count("n_rows", n_rows),
           "created_at": now or utc_now()}
    conn.execute(insert_ignore(conn, score_calibrations, ("model_id", "model_version")), row)


def load_calibration(conn: Connection, model_id: str,
                     model_version: str) -> dict[str, Any] | None:
    query = select(score_calibrations.c.calibration).where(
        score_calibrations.c.model_id == model_id,
        score_calibrations.c.model_version == model_version)
    value = conn.execute(query).scalar_one_or_none()
    return None if value is None else dict(value)


def _with_windows() -> Any:
    """Performance rows beside their drift window (for the prediction count)."""
    return performance.outerjoin(windows, and_(
        windows.c.model_id == performance.c.model_id,
        windows.c.model_version == performance.c.model_version,
        windows.c.window_start == performance.c.window_start))


def list_performance(conn: Connection, model_id: str, model_version: str | None = None,
                     since: datetime | None = None, until: datetime | None = None
                     ) -> list[dict[str, Any]]:
    """The performance rows of a model (of windows starting in ``[since, until)`` when
    given), oldest window first, coverage filled in."""
    query = select(performance, windows.c.n_events,
                   windows.c.window_end.label("drift_window_end")).select_from(
        _with_windows()).where(performance.c.model_id == model_id)
    if model_version is not None:
        query = query.where(performance.c.model_version == model_version)
    if since is not None:
        query = query.where(performance.c.window_start >= since)
    if until is not None:
        query = query.where(performance.c.window_start < until)
    query = query.order_by(performance.c.window_start, performance.c.model_version)
    rows = []
    for row in conn.execute(query).mappings():
        item = {key: row[key] for key in _names(performance)}
        n_events = row["n_events"]
        if n_events is not None:
            item["n_predictions"] = int(n_events)
            item["label_coverage"] = _coverage(int(item["n_labels"]), int(n_events))
            item["window_end"] = row["drift_window_end"]
        rows.append(item)
    return rows


def list_detections(conn: Connection, model_id: str, model_version: str | None = None,
                    since: datetime | None = None, until: datetime | None = None
                    ) -> list[dict[str, Any]]:
    """The concept-drift detections of a model (with an event time in ``[since, until)``
    when given), in stream order per version."""
    table = concept_drift_events
    query = select(table).where(table.c.model_id == model_id)
    if model_version is not None:
        query = query.where(table.c.model_version == model_version)
    if since is not None:
        query = query.where(table.c.event_time >= since)
    if until is not None:
        query = query.where(table.c.event_time < until)
    query = query.order_by(table.c.model_version, table.c.detector, table.c.position)
    return [{key: row[key] for key in _names(table)}
            for row in conn.execute(query).mappings()]


def _names(table: Any) -> list[str]:
    return [column.name for column in table.columns if column.name != "id"]


def window_context(conn: Connection, model_id: str, model_version: str, start: datetime,
                   end: datetime) -> tuple[float | None, int]:
    """A performance window's label coverage (None before its drift row exists) and the
    number of concept-drift detections whose event time falls in it."""
    row = conn.execute(select(performance.c.n_labels, windows.c.n_events).select_from(
        _with_windows()).where(
        performance.c.model_id == model_id, performance.c.model_version == model_version,
        performance.c.window_start == start)).first()
    coverage = None if row is None or row[1] is None else _coverage(int(row[0]), int(row[1]))
    table = concept_drift_events
    detections = conn.execute(select(func.count()).select_from(table).where(
        table.c.model_id == model_id, table.c.model_version == model_version,
        table.c.event_time >= start, table.c.event_time < end)).scalar_one()
    return coverage, int(detections)
