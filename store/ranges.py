"""Reads of one model version over a time range, for ``driftline report``.

Decisions:

- A window is in the range when its *start* is: ``since <= window_start < until``;
  either bound may be left open. Detections go by their event time alike.
- The window dicts have the shape of ``store.queries.list_windows`` (the stored
  report with the window's identity in front), oldest first.
- ``count_windows_between`` counts a range before it is read, so a caller can refuse
  a range too large to hold; ``window_shown_at`` finds the window whose statistics
  the exported gauges showed at a moment (the newest one closed by then).
- Performance rows are those of ``store.performance.list_performance`` for the
  windows in the range.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from store.performance import list_detections, list_performance
from store.queries import window_dict
from store.records import check_aware, check_text, check_version
from store.tables import windows


def _range(query: Any, model_id: str, model_version: str, since: datetime | None,
           until: datetime | None) -> Any:
    check_text("model_id", model_id)
    version = check_version("model_version", model_version)
    query = query.where(windows.c.model_id == model_id, windows.c.model_version == version)
    if since is not None:
        query = query.where(windows.c.window_start >= check_aware("since", since))
    if until is not None:
        query = query.where(windows.c.window_start < check_aware("until", until))
    return query


def _aware(since: datetime | None, until: datetime | None
           ) -> tuple[datetime | None, datetime | None]:
    return (None if since is None else check_aware("since", since),
            None if until is None else check_aware("until", until))


def count_windows_between(conn: Connection, model_id: str, model_version: str,
                          since: datetime | None = None, until: datetime | None = None) -> int:
    """How many of the version's windows start in ``[since, until)``."""
    query = _range(select(func.count()).select_from(windows), model_id, model_version,
                   since, until)
    return int(conn.execute(query).scalar_one())


def window_shown_at(conn: Connection, model_id: str, model_version: str, at: datetime
                    ) -> datetime | None:
    """The start of the newest window of the version closed at or before ``at``: the one
    whose statistics the exported gauges showed then. None when none had closed."""
    query = _range(select(windows.c.window_start), model_id, model_version, None, None)
    query = query.where(windows.c.closed_at <= check_aware("at", at)).order_by(
        windows.c.closed_at.desc(), windows.c.id.desc()).limit(1)
    found: datetime | None = conn.execute(query).scalar()
    return found


def windows_between(conn: Connection, model_id: str, model_version: str,
                    since: datetime | None = None, until: datetime | None = None
                    ) -> list[dict[str, Any]]:
    """The version's windows that start in ``[since, until)``, oldest first."""
    query = _range(select(windows), model_id, model_version, since, until)
    query = query.order_by(windows.c.window_start, windows.c.id)
    return [window_dict(row) for row in conn.execute(query).mappings()]


def performance_between(conn: Connection, model_id: str, model_version: str,
                        since: datetime | None = None, until: datetime | None = None
                        ) -> list[dict[str, Any]]:
    """The version's performance rows (realised and estimated) of windows in the range."""
    return list_performance(conn, model_id, model_version, *_aware(since, until))


def detections_between(conn: Connection, model_id: str, model_version: str,
                       since: datetime | None = None, until: datetime | None = None
                       ) -> list[dict[str, Any]]:
    """The version's concept-drift detections whose event time is in the range."""
    rows = list_detections(conn, model_id, model_version, *_aware(since, until))
    return sorted(rows, key=lambda row: (row["event_time"], row["detector"], row["position"]))
