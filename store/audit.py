"""The audit trail: one row per write made by a person or a tool (API, CLI).

Decisions:

- ``record_audit`` runs in the caller's transaction: a write and its audit row
  commit together or not at all, so the trail never claims a change that did
  not happen nor misses one that did. Every write function of ``store.silences``,
  ``store.deletion`` and ``store.reference_writes`` calls it itself.
- ``actor`` is the name of the token (or ``cli:<user>`` for the CLI), never the
  token itself. ``action`` is a short dotted name (``ACTION``), e.g.
  ``alert.silence`` or ``reference.set``. ``target`` names what was changed
  beyond the model and version (a rule and feature, a time range) as a JSON
  object; ``before`` and ``after`` are JSON documents of the state (None when
  there was none, or none is left). Datetimes in them are ISO 8601 UTC text.
- Rows are never updated or deleted by driftline (deleting a model version's
  data keeps its audit rows: they are the record of that delete).
- ``list_audit`` is newest first and paginated by keyset on the id: a page
  ends with ``next_before``, the id to pass as ``before`` for the next page, so
  a page costs the same however deep it is and rows written meanwhile do not
  shift it. Filters: time range on ``at`` (``since`` inclusive, ``until``
  exclusive), ``action``, ``model_id``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.engine import Connection, RowMapping

from store.records import check_aware, check_count, check_text
from store.tables import audit
from store.types import iso_utc
from store.values import json_safe, utc_now

ACTION = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*")
MAX_ACTION = 64
MAX_PAGE = 1000


@dataclass(frozen=True)
class AuditRow:
    """One recorded write."""

    id: int
    at: datetime
    actor: str
    action: str
    model_id: str | None
    model_version: str | None
    target: dict[str, Any]
    before: Any
    after: Any

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe form (``at`` as ISO 8601 UTC text)."""
        return {"id": self.id, "at": iso_utc(self.at), "actor": self.actor,
                "action": self.action, "model_id": self.model_id,
                "model_version": self.model_version, "target": self.target,
                "before": self.before, "after": self.after}


@dataclass(frozen=True)
class AuditPage:
    """One page of the trail, newest first; ``next_before`` is None on the last page."""

    rows: list[AuditRow]
    next_before: int | None


def jsonable(value: Any) -> Any:
    """``value`` as JSON: datetimes as ISO 8601 UTC text, non-finite floats as None."""
    if isinstance(value, datetime):
        return iso_utc(value)
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return json_safe(value)


def record_audit(conn: Connection, actor: str, action: str, *,
                 model_id: str | None = None, model_version: str | None = None,
                 target: dict[str, Any] | None = None, before: Any = None,
                 after: Any = None, now: datetime | None = None) -> int:
    """Append one audit row in the caller's transaction; its id."""
    check_text("actor", actor)
    if not isinstance(action, str) or len(action) > MAX_ACTION or not ACTION.fullmatch(action):
        raise ValueError(f"action must be a dotted lowercase name of at most {MAX_ACTION} "
                         f"characters, got {action!r}")
    row = {"at": check_aware("now", now) if now is not None else utc_now(),
           "actor": actor, "action": action, "model_id": model_id,
           "model_version": model_version, "target": jsonable(target or {}),
           "before": jsonable(before), "after": jsonable(after)}
    stmt = insert(audit).returning(audit.c.id)
    return int(conn.execute(stmt, row).scalar_one())


def _row(row: RowMapping) -> AuditRow:
    return AuditRow(id=int(row["id"]), at=row["at"], actor=row["actor"], action=row["action"],
                    model_id=row["model_id"], model_version=row["model_version"],
                    target=dict(row["target"] or {}), before=row["before"], after=row["after"])


def list_audit(conn: Connection, *, since: datetime | None = None,
               until: datetime | None = None, action: str | None = None,
               model_id: str | None = None, before: int | None = None,
               limit: int = 100) -> AuditPage:
    """A page of audit rows, newest first (module docstring)."""
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE:
        raise ValueError(f"limit must be an int in [1, {MAX_PAGE}], got {limit!r}")
    query = select(audit).order_by(audit.c.id.desc()).limit(limit + 1)
    if since is not None:
        query = query.where(audit.c.at >= check_aware("since", since))
    if until is not None:
        query = query.where(audit.c.at < check_aware("until", until))
    if action is not None:
        query = query.where(audit.c.action == action)
    if model_id is not None:
        query = query.where(audit.c.model_id == model_id)
    if before is not None:
        query = query.where(audit.c.id < check_count("before", before))
    rows = [_row(row) for row in conn.execute(query).mappings()]
    more = len(rows) > limit
    rows = rows[:limit]
    return AuditPage(rows=rows, next_before=rows[-1].id if more else None)
