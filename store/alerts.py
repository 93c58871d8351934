"""Alert state, transition history and the retrain gate (the outbox is ``store.outbox``,
re-exported here so alerting finds all its storage in one module).

Functions take a Connection; the caller owns the transaction, so a window's
results, its alert states, transitions and outbox rows commit together.

Decisions:

- ``alerts`` is keyed by (rule, model_id, model_version, feature); ``save_alert_states``
  upserts, so saving the same states twice leaves the same rows. There is no
  foreign key to ``models``: a rule may keep state for a configured model with
  no rows yet (``no_data``).
- ``load_alert_states(lock=True)`` reads with ``SELECT ... FOR UPDATE`` on
  PostgreSQL, so two transactions evaluating the same model take turns instead
  of both moving the state from the same starting point. SQLite has one writer
  at a time anyway and ignores the clause.
- ``record_transition`` inserts if absent on (instance, episode, status): a
  replayed window records nothing new and returns False, which is the caller's
  signal not to enqueue its notifications again.
- A retrain request is one row, unique on its idempotency key; it is "open"
  until ``open_until`` (the cooldown end), and ``open_retrain`` finds the open
  one of a (model, version) so a second request inside the cooldown is not made.
- The value types these functions speak (``AlertState``, ``AlertEvent``) live in
  ``store.alert_values`` and ``alerting.model`` re-exports them: ``store`` never
  imports ``alerting``, while ``alerting`` imports ``store``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from store.alert_values import AlertEvent, AlertState, Status
from store.outbox import (
    OutboxRow,
    claim,
    enqueue,
    list_outbox,
    mark_dead,
    mark_delivered,
    mark_retry,
    outbox_counts,
    pending_count,
)
from store.records import check_aware, check_count, check_text, check_version
from store.tables import ALERT_STATUSES, alert_transitions, alerts, retrain_requests
from store.upsert import insert_if_absent, upsert
from store.values import finite, json_safe, utc_now

__all__ = [
    "OutboxRow", "RetrainRow", "claim", "enqueue", "list_outbox", "list_transitions",
    "load_alert_states", "mark_dead", "mark_delivered", "mark_retry", "open_retrain",
    "outbox_counts", "pending_count", "record_transition", "save_alert_states",
    "save_retrain",
]

ALERT_KEY = ("rule", "model_id", "model_version", "feature")
TRANSITION_KEY = (*ALERT_KEY, "episode", "status")
AlertKey = tuple[str, str, str, str]


@dataclass(frozen=True)
class RetrainRow:
    """One retrain request as stored."""

    id: int
    model_id: str
    model_version: str
    rule: str
    idempotency_key: str
    requested_at: datetime
    open_until: datetime
    evidence: dict[str, Any]


def _state_row(state: AlertState, now: datetime) -> dict[str, Any]:
    if state.status not in ALERT_STATUSES:
        raise ValueError(f"status must be one of {', '.join(ALERT_STATUSES)}, "
                         f"got {state.status!r}")
    for name in ("episode", "breaches", "clears"):
        check_count(name, getattr(state, name), 2**31 - 1)
    return {"rule": check_text("rule", state.rule),
            "model_id": check_text("model_id", state.model_id),
            "model_version": check_version("model_version", state.model_version),
            "feature": state.feature, "status": state.status, "episode": state.episode,
            "breaches": state.breaches, "clears": state.clears,
            "last_window_start": state.last_window_start, "since": state.since,
            "resolved_at": state.resolved_at, "value": finite(state.value), "updated_at": now}


def save_alert_states(conn: Connection, states: Iterable[AlertState],
                      now: datetime | None = None) -> None:
    """Upsert the states of alert instances."""
    moment = now or utc_now()
    rows = [_state_row(state, moment) for state in states]
    if rows:
        conn.execute(upsert(conn, alerts, ALERT_KEY), rows)


def load_alert_states(conn: Connection, model_id: str, model_version: str,
                      lock: bool = False) -> dict[AlertKey, AlertState]:
    """The stored states of a (model, version), by (rule, model_id, model_version, feature)."""
    query = select(alerts).where(alerts.c.model_id == model_id,
                                 alerts.c.model_version == model_version)
    if lock:
        query = query.with_for_update()
    states: dict[AlertKey, AlertState] = {}
    for row in conn.execute(query).mappings():
        state = AlertState(rule=row["rule"], model_id=row["model_id"],
                           model_version=row["model_version"], feature=row["feature"],
                           status=cast(Status, row["status"]), episode=int(row["episode"]),
                           breaches=int(row["breaches"]), clears=int(row["clears"]),
                           last_window_start=row["last_window_start"], since=row["since"],
                           resolved_at=row["resolved_at"], value=row["value"])
        states[(state.rule, state.model_id, state.model_version, state.feature)] = state
    return states


def record_transition(conn: Connection, event: AlertEvent, now: datetime | None = None) -> bool:
    """Insert the transition unless it is already recorded; True when it is new."""
    row = {"rule": check_text("rule", event.rule),
           "model_id": check_text("model_id", event.model_id),
           "model_version": check_version("model_version", event.model_version),
           "feature": event.feature, "episode": check_count("episode", event.episode),
           "status": event.status, "severity": event.severity, "metric": event.metric,
           "value": finite(event.value), "threshold": event.threshold,
           "window_start": event.window_start, "window_end": event.window_end,
           "started_at": event.started_at, "summary": event.summary,
           "evidence": json_safe(dict(event.evidence)), "at": now or utc_now()}
    return insert_if_absent(conn, alert_transitions, TRANSITION_KEY, row)


def list_transitions(conn: Connection, model_id: str | None = None) -> list[dict[str, Any]]:
    """The alert history, oldest first, optionally of one model."""
    query = select(alert_transitions).order_by(alert_transitions.c.at, alert_transitions.c.id)
    if model_id is not None:
        query = query.where(alert_transitions.c.model_id == model_id)
    return [{k: v for k, v in row.items() if k != "id"}
            for row in conn.execute(query).mappings()]


def save_retrain(conn: Connection, model_id: str, model_version: str, rule: str,
                 idempotency_key: str, requested_at: datetime, open_until: datetime,
                 evidence: dict[str, Any]) -> bool:
    """Record a retrain request unless its idempotency key is there; True when new."""
    if check_aware("open_until", open_until) < check_aware("requested_at", requested_at):
        raise ValueError(f"open_until must not be before requested_at "
                         f"({requested_at.isoformat()}), got {open_until.isoformat()}")
    row = {"model_id": check_text("model_id", model_id),
           "model_version": check_version("model_version", model_version),
           "rule": check_text("rule", rule),
           "idempotency_key": check_text("idempotency_key", idempotency_key),
           "requested_at": requested_at, "open_until": open_until,
           "evidence": json_safe(evidence)}
    return insert_if_absent(conn, retrain_requests, ("idempotency_key",), row)


def open_retrain(conn: Connection, model_id: str, model_version: str,
                 now: datetime) -> RetrainRow | None:
    """The request of a (model, version) still in its cooldown (``open_until > now``), if any."""
    table = retrain_requests
    query = (select(table)
             .where(table.c.model_id == model_id, table.c.model_version == model_version,
                    table.c.open_until > check_aware("now", now))
             .order_by(table.c.open_until.desc(), table.c.id.desc()).limit(1))
    row = conn.execute(query).mappings().first()
    if row is None:
        return None
    return RetrainRow(id=int(row["id"]), model_id=row["model_id"],
                      model_version=row["model_version"], rule=row["rule"],
                      idempotency_key=row["idempotency_key"], requested_at=row["requested_at"],
                      open_until=row["open_until"], evidence=dict(row["evidence"]))


def firing_counts(conn: Connection) -> dict[tuple[str, str], int]:
    """Alert instances firing, by (rule, model_id)."""
    query = (select(alerts.c.rule, alerts.c.model_id, func.count())
             .where(alerts.c.status == "firing").group_by(alerts.c.rule, alerts.c.model_id))
    return {(rule, model): int(count) for rule, model, count in conn.execute(query)}
