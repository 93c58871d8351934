"""The notification outbox: rows written with a window's results, delivered later.

A window's alert transitions and their notifications commit together
(``enqueue`` runs in the caller's transaction); the dispatcher then claims,
sends and marks rows in short transactions of its own. Decisions:

- ``enqueue`` inserts if absent on (receiver, idempotency_key): a replayed
  window enqueues nothing new, so a receiver is not told twice by driftline's
  own replays (it may still be told twice by a redelivery: at least once).
- ``claim`` leases rows instead of holding a transaction open while sending: it
  sets ``claimed_until = now + lease``, and a row whose lease has passed is
  claimable again, so a dispatcher that died mid-send loses nothing. It is ONE
  statement, ``UPDATE ... WHERE id IN (SELECT ... LIMIT n) RETURNING ...``. On
  PostgreSQL the inner select takes ``FOR UPDATE SKIP LOCKED``, so concurrent
  dispatchers claim disjoint rows without waiting for each other. On SQLite the
  statement is a write from its first step, so it takes the database's single
  write lock at once (waiting up to the busy timeout) — the effect of ``BEGIN
  IMMEDIATE`` — and claims are serialised; call ``claim`` first in its
  transaction so no earlier read snapshot can make the lock upgrade fail.
- ``ordering_key`` (optional, e.g. an incident's PagerDuty ``dedup_key``): a row
  is not claimed while an older row of the same receiver and key is still
  pending, so a resolve never overtakes its trigger, even across retries.
- The marks only change a row still ``pending`` and return whether they did: a
  stale dispatcher whose lease ran out cannot turn a delivered row back.
- ``kind`` says how a row is sent (a receiver type, or ``topic``). The store does
  not list the kinds (``alerting.kinds`` does, and its ``enqueue`` refuses an
  unknown one); here a kind only has to be a lowercase name of at most 16
  characters (``KIND``), the column's width.
- ``last_error`` is what the transport said, cut to ``MAX_ERROR`` characters;
  transports keep secrets and URLs out of it.
- All times come from the caller (``now``), never from the database clock, so
  tests and dispatchers agree on one clock.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import exists, func, or_, select, update
from sqlalchemy.engine import Connection

from store.records import check_aware, check_text
from store.tables import OUTBOX_STATUSES, outbox
from store.upsert import insert_if_absent
from store.values import json_safe

OUTBOX_KEY = ("receiver", "idempotency_key")
MAX_ERROR = 2000
KIND = re.compile(r"[a-z][a-z0-9_]{0,15}")


@dataclass(frozen=True)
class OutboxRow:
    """A claimed notification. ``attempts`` counts the failed attempts before this one."""

    id: int
    receiver: str
    kind: str
    idempotency_key: str
    payload: dict[str, Any]
    attempts: int
    created_at: datetime


def enqueue(conn: Connection, receiver: str, kind: str, idempotency_key: str,
            payload: dict[str, Any], now: datetime, *,
            ordering_key: str | None = None) -> bool:
    """Add a notification unless (receiver, idempotency_key) is already there; True when new."""
    if not isinstance(kind, str) or not KIND.fullmatch(kind):
        raise ValueError(f"kind must match {KIND.pattern}, got {kind!r}")
    if not isinstance(payload, dict):
        raise ValueError(f"payload must be a dict, got {type(payload).__name__}")
    row = {"receiver": check_text("receiver", receiver), "kind": kind,
           "idempotency_key": check_text("idempotency_key", idempotency_key),
           "ordering_key": ordering_key, "payload": json_safe(payload), "status": "pending",
           "attempts": 0, "next_attempt_at": check_aware("now", now), "claimed_until": None,
           "last_error": None, "created_at": now, "delivered_at": None, "dead_at": None}
    return insert_if_absent(conn, outbox, OUTBOX_KEY, row)


def claim(conn: Connection, now: datetime, limit: int, lease: float) -> list[OutboxRow]:
    """Lease up to ``limit`` due rows, oldest first (module docstring)."""
    check_aware("now", now)
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ValueError(f"limit must be an int >= 1, got {limit!r}")
    if not lease > 0:
        raise ValueError(f"lease must be > 0 seconds, got {lease!r}")
    older = outbox.alias("older")
    blocked = exists().where(
        older.c.receiver == outbox.c.receiver, older.c.ordering_key == outbox.c.ordering_key,
        older.c.status == "pending", older.c.id < outbox.c.id)
    due = (select(outbox.c.id)
           .where(outbox.c.status == "pending", outbox.c.next_attempt_at <= now,
                  or_(outbox.c.claimed_until.is_(None), outbox.c.claimed_until < now),
                  ~blocked)
           .order_by(outbox.c.id).limit(limit))
    if conn.dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True, of=outbox)
    stmt = (update(outbox).where(outbox.c.id.in_(due.scalar_subquery()))
            .values(claimed_until=now + timedelta(seconds=lease))
            .returning(outbox.c.id, outbox.c.receiver, outbox.c.kind,
                       outbox.c.idempotency_key, outbox.c.payload, outbox.c.attempts,
                       outbox.c.created_at))
    rows = [OutboxRow(id=int(r.id), receiver=r.receiver, kind=r.kind,
                      idempotency_key=r.idempotency_key, payload=dict(r.payload),
                      attempts=int(r.attempts), created_at=r.created_at)
            for r in conn.execute(stmt)]
    return sorted(rows, key=lambda row: row.id)


def _mark(conn: Connection, row_id: int, **values: Any) -> bool:
    stmt = (update(outbox).where(outbox.c.id == row_id, outbox.c.status == "pending")
            .values(attempts=outbox.c.attempts + 1, claimed_until=None, **values))
    return conn.execute(stmt).rowcount == 1


def _error(error: str | None) -> str | None:
    return None if error is None else error[:MAX_ERROR]


def mark_delivered(conn: Connection, row_id: int, now: datetime) -> bool:
    """The row was accepted by its receiver."""
    return _mark(conn, row_id, status="delivered", delivered_at=check_aware("now", now))


def mark_retry(conn: Connection, row_id: int, next_attempt_at: datetime,
               error: str | None) -> bool:
    """The attempt failed; try again from ``next_attempt_at`` (attempts + 1, lease released)."""
    return _mark(conn, row_id, next_attempt_at=check_aware("next_attempt_at", next_attempt_at),
                 last_error=_error(error))


def mark_dead(conn: Connection, row_id: int, error: str | None, now: datetime) -> bool:
    """Give up on the row (dead letter): not retryable, retries exhausted, unknown receiver."""
    return _mark(conn, row_id, status="dead", last_error=_error(error),
                 dead_at=check_aware("now", now))


def pending_count(conn: Connection) -> int:
    """Rows still to deliver (claimed or not)."""
    query = select(func.count()).select_from(outbox).where(outbox.c.status == "pending")
    return int(conn.execute(query).scalar_one())


def outbox_counts(conn: Connection) -> dict[str, int]:
    """Rows per status, every status present (for gauges)."""
    query = select(outbox.c.status, func.count()).group_by(outbox.c.status)
    counts = dict.fromkeys(OUTBOX_STATUSES, 0)
    counts.update({str(status): int(n) for status, n in conn.execute(query)})
    return counts


def list_outbox(conn: Connection, status: str | None = None) -> list[dict[str, Any]]:
    """The outbox rows, in id order, optionally of one status."""
    query = select(outbox).order_by(outbox.c.id)
    if status is not None:
        if status not in OUTBOX_STATUSES:
            raise ValueError(f"status must be one of {', '.join(OUTBOX_STATUSES)}, "
                             f"got {status!r}")
        query = query.where(outbox.c.status == status)
    return [dict(row) for row in conn.execute(query).mappings()]
