"""Silences and acknowledgements of alert instances, and what they suppress.

An alert instance is (rule, model_id, model_version, feature), the key of
``alerts``; ``feature`` is ``''`` for rules not scoped per feature. Each write
records its audit row (``store.audit``) in the same transaction. Decisions:

- **Silence**: no notification for the instance while ``now < silenced_until``.
  It needs a reason and an end: a silence that never ends is a rule that should
  be changed instead. Silencing again replaces the end and the reason. An
  instance may be silenced before it has any state (a known noisy rollout);
  ``lift`` ends a silence early.
- **Acknowledge**: someone is on it. It records who, when, why and for which
  episode of the instance (the incident); it suppresses nothing (driftline sends
  one firing per episode, so there is nothing left to repeat), and it lapses
  when the instance fires again with a new episode (``acknowledged`` is then
  reset by ``on_transition``). Only a firing instance can be acknowledged.
- **What is suppressed** (``on_transition``, called by the rule engine for each
  new transition, in the transaction that records it): a firing while the
  instance is silenced is not sent, and its episode is remembered
  (``suppressed_episode``); the resolve of that same episode is then not sent
  either, even after the silence ended, because the receivers never heard of
  the incident. The resolve of an episode whose firing was sent is always sent,
  silenced or not: it closes the incident the receivers have open (a PagerDuty
  incident would otherwise stay open). The alert state itself moves as always:
  a silence changes what is told, never what is recorded.
- Silencing is decided when the notification is enqueued, not when it is
  dispatched (``alerting.apply``): the instance, its episode and the silence
  are at hand in the transaction of the transition, while an outbox row is a
  rendered payload per receiver with no instance to look up. A row enqueued
  before the silence was set is still delivered.
- Times come from the caller (``now``): the wall clock of the process that
  applies the rules, which is the clock a person means by "until 18:00".
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import Connection, RowMapping

from store.audit import record_audit
from store.records import NotFoundError, check_aware, check_text, check_version
from store.tables import alerts, silences
from store.upsert import insert_ignore
from store.values import utc_now


@dataclass(frozen=True)
class Instance:
    """The key of an alert instance (``feature`` is ``''`` for model-level rules)."""

    rule: str
    model_id: str
    model_version: str
    feature: str = ""

    def __post_init__(self) -> None:
        check_text("rule", self.rule)
        check_text("model_id", self.model_id)
        check_version("model_version", self.model_version)
        if not isinstance(self.feature, str):
            raise ValueError(f"feature must be a string, got {self.feature!r}")

    def where(self) -> Any:
        """The SQL condition selecting this instance's row of ``silences``."""
        return ((silences.c.rule == self.rule) & (silences.c.model_id == self.model_id)
                & (silences.c.model_version == self.model_version)
                & (silences.c.feature == self.feature))


@dataclass(frozen=True)
class Silence:
    """The silence and acknowledgement of one instance, as stored."""

    instance: Instance
    silenced_until: datetime | None
    silenced_at: datetime | None
    silenced_by: str | None
    reason: str | None
    acknowledged: bool
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    acknowledged_episode: int | None
    acknowledge_reason: str | None
    suppressed_episode: int | None
    updated_at: datetime

    def silenced(self, now: datetime) -> bool:
        """True while the silence lasts at ``now``."""
        return self.silenced_until is not None and now < self.silenced_until

    def to_dict(self) -> dict[str, Any]:
        """Every field, the instance's key fields first (datetimes as they are)."""
        data = asdict(self)
        return {**data.pop("instance"), **data}


def _silence(row: RowMapping) -> Silence:
    instance = Instance(row["rule"], row["model_id"], row["model_version"], row["feature"])
    return Silence(instance=instance, silenced_until=row["silenced_until"],
                   silenced_at=row["silenced_at"], silenced_by=row["silenced_by"],
                   reason=row["reason"], acknowledged=bool(row["acknowledged"]),
                   acknowledged_at=row["acknowledged_at"],
                   acknowledged_by=row["acknowledged_by"],
                   acknowledged_episode=row["acknowledged_episode"],
                   acknowledge_reason=row["acknowledge_reason"],
                   suppressed_episode=row["suppressed_episode"], updated_at=row["updated_at"])


def get_silence(conn: Connection, instance: Instance, lock: bool = False) -> Silence | None:
    """The stored silence of ``instance``, if any (``lock``: ``FOR UPDATE`` on PostgreSQL)."""
    query = select(silences).where(instance.where())
    if lock:
        query = query.with_for_update()
    row = conn.execute(query).mappings().first()
    return None if row is None else _silence(row)


def list_silences(conn: Connection, model_id: str | None = None,
                  active_at: datetime | None = None) -> list[Silence]:
    """Stored silences and acknowledgements, by instance; ``active_at``: silenced then."""
    query = select(silences).order_by(silences.c.model_id, silences.c.model_version,
                                      silences.c.rule, silences.c.feature)
    if model_id is not None:
        query = query.where(silences.c.model_id == model_id)
    if active_at is not None:
        query = query.where(silences.c.silenced_until > check_aware("active_at", active_at))
    return [_silence(row) for row in conn.execute(query).mappings()]


def _ensure_row(conn: Connection, instance: Instance, now: datetime) -> Silence:
    row = {"rule": instance.rule, "model_id": instance.model_id,
           "model_version": instance.model_version, "feature": instance.feature,
           "acknowledged": False, "updated_at": now}
    conn.execute(insert_ignore(conn, silences, ("rule", "model_id", "model_version",
                                                "feature")), row)
    found = get_silence(conn, instance, lock=True)
    assert found is not None  # inserted or already there, in this transaction
    return found


def _audit_state(silence: Silence | None) -> dict[str, Any] | None:
    if silence is None:
        return None
    data = silence.to_dict()
    for key in ("rule", "model_id", "model_version", "feature", "updated_at"):
        data.pop(key)
    return data


def _write(conn: Connection, actor: str, action: str, instance: Instance,
           before: Silence | None, now: datetime, **values: Any) -> Silence:
    conn.execute(update(silences).where(instance.where()).values(updated_at=now, **values))
    after = get_silence(conn, instance)
    record_audit(conn, actor, action, model_id=instance.model_id,
                 model_version=instance.model_version,
                 target={"rule": instance.rule, "feature": instance.feature},
                 before=_audit_state(before), after=_audit_state(after), now=now)
    assert after is not None
    return after


def silence(conn: Connection, actor: str, instance: Instance, until: datetime, reason: str,
            now: datetime | None = None) -> Silence:
    """Silence ``instance`` until ``until`` (after ``now``) for ``reason``; the stored row."""
    moment = now or utc_now()
    check_text("reason", reason)
    if check_aware("until", until) <= check_aware("now", moment):
        raise ValueError(f"until must be after now ({moment.isoformat()}), "
                         f"got {until.isoformat()}")
    before = get_silence(conn, instance)
    _ensure_row(conn, instance, moment)
    return _write(conn, actor, "alert.silence", instance, before, moment,
                  silenced_until=until, silenced_at=moment, silenced_by=check_text("actor", actor),
                  reason=reason)


def lift(conn: Connection, actor: str, instance: Instance,
         now: datetime | None = None) -> Silence:
    """End the silence of ``instance`` now; ``NotFoundError`` when it is not silenced."""
    moment = now or utc_now()
    before = get_silence(conn, instance, lock=True)
    if before is None or not before.silenced(moment):
        raise NotFoundError(f"alert instance {_name(instance)} is not silenced")
    return _write(conn, actor, "alert.unsilence", instance, before, moment,
                  silenced_until=None, silenced_at=None, silenced_by=None, reason=None)


def acknowledge(conn: Connection, actor: str, instance: Instance, reason: str,
                now: datetime | None = None) -> Silence:
    """Acknowledge the current episode of the firing ``instance``; the stored row."""
    moment = now or utc_now()
    check_text("reason", reason)
    query = select(alerts.c.status, alerts.c.episode).where(
        alerts.c.rule == instance.rule, alerts.c.model_id == instance.model_id,
        alerts.c.model_version == instance.model_version, alerts.c.feature == instance.feature)
    state = conn.execute(query).first()
    if state is None:
        raise NotFoundError(f"alert instance {_name(instance)} has no state")
    if state.status != "firing":
        raise ValueError(f"only a firing alert instance can be acknowledged; "
                         f"{_name(instance)} is {state.status}")
    before = get_silence(conn, instance)
    _ensure_row(conn, instance, moment)
    return _write(conn, actor, "alert.acknowledge", instance, before, moment,
                  acknowledged=True, acknowledged_at=moment,
                  acknowledged_by=check_text("actor", actor),
                  acknowledged_episode=int(state.episode), acknowledge_reason=reason)


def on_transition(conn: Connection, instance: Instance, episode: int, status: str,
                  now: datetime) -> bool:
    """Whether to keep the notifications of this new transition from the receivers.

    Records what it decides: a suppressed firing's episode; a lapsed
    acknowledgement (a firing of a later episode) is reset. See the module docstring.
    """
    stored = get_silence(conn, instance, lock=True)
    if stored is None:
        return False
    if status == "resolved":
        return stored.suppressed_episode == episode
    values: dict[str, Any] = {}
    if stored.acknowledged and (stored.acknowledged_episode or 0) < episode:
        values["acknowledged"] = False
    suppress = stored.silenced(now)
    if suppress:
        values["suppressed_episode"] = episode
    if values:
        conn.execute(update(silences).where(instance.where()).values(updated_at=now, **values))
    return suppress


def _name(instance: Instance) -> str:
    feature = f" feature {instance.feature!r}" if instance.feature else ""
    return (f"(rule {instance.rule!r}, model {instance.model_id!r} version "
            f"{instance.model_version!r}{feature})")
