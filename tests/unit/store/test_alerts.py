"""Alert state, transitions, outbox and retrain requests (SQLite always, PostgreSQL when set)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import insert
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from alerting.model import AlertEvent, AlertState
from store import upgrade
from store.alerts import (
    claim,
    enqueue,
    list_outbox,
    list_transitions,
    load_alert_states,
    mark_dead,
    mark_delivered,
    mark_retry,
    open_retrain,
    outbox_counts,
    pending_count,
    record_transition,
    save_alert_states,
    save_retrain,
)
from store.tables import alerts, outbox
from tests.conftest import statements

T0 = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


def _state(**changes: Any) -> AlertState:
    base = AlertState(rule="drift", model_id="fraud", model_version="7", feature="amount",
                      status="firing", episode=2, breaches=3, clears=0,
                      last_window_start=T0, since=T0 - timedelta(minutes=5), resolved_at=None,
                      value=0.31)
    return replace(base, **changes)


def _event(status: str = "firing", **changes: Any) -> AlertEvent:
    fields: dict[str, Any] = {
        "rule": "drift", "status": status, "severity": "critical", "model_id": "fraud",
        "model_version": "7", "feature": "amount", "episode": 2, "metric": "psi",
        "value": 0.31, "threshold": 0.25, "window_start": T0,
        "window_end": T0 + timedelta(minutes=5), "started_at": T0,
        "summary": "amount drifted", "evidence": {"psi": 0.31, "windows": ["a", "b"]},
    }
    fields.update(changes)
    return AlertEvent(**fields)



def test_alert_states_upsert_and_load(engine: Engine) -> None:
    states = [_state(), _state(feature="", rule="share", status="pending", value=None)]
    for _ in range(2):
        with engine.begin() as conn:
            save_alert_states(conn, states, now=T0)
    with engine.connect() as conn:
        loaded = load_alert_states(conn, "fraud", "7")
        assert len(conn.execute(alerts.select()).all()) == 2
        assert load_alert_states(conn, "fraud", "8") == {}
    assert loaded == {(s.rule, s.model_id, s.model_version, s.feature): s for s in states}
    moved = _state(status="resolved", clears=2, resolved_at=T0 + timedelta(minutes=10))
    with engine.begin() as conn:
        save_alert_states(conn, [moved], now=T0)
    with engine.connect() as conn:
        assert load_alert_states(conn, "fraud", "7")[("drift", "fraud", "7", "amount")] == moved


def test_load_with_lock_selects_for_update_on_postgresql_only(engine: Engine) -> None:
    with engine.begin() as conn:
        save_alert_states(conn, [_state()], now=T0)
    with statements(engine) as seen, engine.begin() as conn:
        assert len(load_alert_states(conn, "fraud", "7", lock=True)) == 1
    locking = [s for s in seen if "FOR UPDATE" in s]
    assert len(locking) == (1 if engine.dialect.name == "postgresql" else 0)


def test_alert_status_is_checked(engine: Engine) -> None:
    with pytest.raises(ValueError, match=r"status must be one of .*'bogus'"), \
            engine.begin() as conn:
        save_alert_states(conn, [_state(status="bogus")])
    row = {"rule": "r", "model_id": "m", "model_version": "", "feature": "", "status": "bogus",
           "episode": 0, "breaches": 0, "clears": 0, "updated_at": T0}
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(insert(alerts), row)


def test_a_replayed_transition_inserts_nothing(engine: Engine) -> None:
    with engine.begin() as conn:
        assert record_transition(conn, _event(), now=T0) is True
        assert record_transition(conn, _event(), now=T0 + timedelta(hours=1)) is False
        assert record_transition(conn, _event("resolved"), now=T0 + timedelta(hours=2))
        assert record_transition(conn, _event(model_id="other"), now=T0)
    with engine.connect() as conn:
        history = list_transitions(conn, "fraud")
        assert len(list_transitions(conn)) == 3
    assert [(h["status"], h["at"]) for h in history] == [
        ("firing", T0), ("resolved", T0 + timedelta(hours=2))]
    assert history[0]["evidence"] == {"psi": 0.31, "windows": ["a", "b"]}


def test_enqueue_twice_inserts_one_row(engine: Engine) -> None:
    with engine.begin() as conn:
        assert enqueue(conn, "ops", "slack", "k1", {"text": "hi"}, T0) is True
        assert enqueue(conn, "ops", "slack", "k1", {"text": "changed"}, T0) is False
        assert enqueue(conn, "pd", "pagerduty", "k1", {"x": 1}, T0) is True
    with engine.connect() as conn:
        rows = list_outbox(conn)
        assert pending_count(conn) == 2
    assert [(r["receiver"], r["payload"]) for r in rows] == [("ops", {"text": "hi"}),
                                                            ("pd", {"x": 1})]
    assert rows[0]["status"] == "pending"
    assert rows[0]["attempts"] == 0


@pytest.mark.parametrize("kind", ["", "SMS", "a kind", "k" * 17, "1st"])
def test_enqueue_refuses_a_kind_that_is_not_a_short_lowercase_name(engine: Engine,
                                                                  kind: str) -> None:
    with pytest.raises(ValueError, match=r"kind must match "), engine.begin() as conn:
        enqueue(conn, "ops", kind, "k", {}, T0)


def test_enqueue_takes_any_short_lowercase_kind(engine: Engine) -> None:
    """The store lists no receiver types (``alerting.kinds.enqueue`` refuses unknown ones)."""
    with engine.begin() as conn:
        assert enqueue(conn, "ops", "sms", "k", {}, T0) is True


def _fill(engine: Engine, n: int, **keys: Any) -> None:
    with engine.begin() as conn:
        for i in range(n):
            enqueue(conn, "hook", "webhook", f"k{i}", {"i": i}, T0, **keys)


def test_claim_leases_oldest_first(engine: Engine) -> None:
    _fill(engine, 5)
    with engine.begin() as conn:
        first = claim(conn, T0, limit=3, lease=30)
    assert [r.idempotency_key for r in first] == ["k0", "k1", "k2"]
    assert first[0].payload == {"i": 0}
    assert first[0].attempts == 0
    with engine.begin() as conn:
        second = claim(conn, T0 + timedelta(seconds=10), limit=10, lease=30)
    assert [r.idempotency_key for r in second] == ["k3", "k4"]
    with engine.begin() as conn:
        assert claim(conn, T0 + timedelta(seconds=20), limit=10, lease=30) == []
        again = claim(conn, T0 + timedelta(seconds=31), limit=10, lease=30)
    assert [r.idempotency_key for r in again] == ["k0", "k1", "k2"]  # their lease passed


def test_claim_skips_rows_not_yet_due(engine: Engine) -> None:
    _fill(engine, 1)
    with engine.begin() as conn:
        assert claim(conn, T0 - timedelta(seconds=1), limit=5, lease=30) == []


def test_retry_delivered_and_dead(engine: Engine) -> None:
    _fill(engine, 3)
    with engine.begin() as conn:
        rows = claim(conn, T0, limit=3, lease=30)
        assert mark_retry(conn, rows[0].id, T0 + timedelta(seconds=5), "HTTP 503")
        assert mark_delivered(conn, rows[1].id, T0)
        assert mark_dead(conn, rows[2].id, "HTTP 400", T0)
        assert not mark_retry(conn, rows[1].id, T0, "late")  # a delivered row stays delivered
    with engine.begin() as conn:
        assert claim(conn, T0 + timedelta(seconds=4), limit=5, lease=30) == []
        retried = claim(conn, T0 + timedelta(seconds=5), limit=5, lease=30)
        counts = outbox_counts(conn)
        stored = {r["idempotency_key"]: r for r in list_outbox(conn)}
        assert [r["idempotency_key"] for r in list_outbox(conn, "dead")] == ["k2"]
    assert [(r.idempotency_key, r.attempts) for r in retried] == [("k0", 1)]
    assert counts == {"pending": 1, "delivered": 1, "dead": 1}
    assert stored["k0"]["last_error"] == "HTTP 503"
    assert stored["k1"]["delivered_at"] == T0
    assert stored["k1"]["claimed_until"] is None
    assert stored["k2"]["dead_at"] == T0
    assert stored["k2"]["attempts"] == 1


def test_an_ordering_key_holds_later_rows_back(engine: Engine) -> None:
    _fill(engine, 2, ordering_key="incident-1")
    with engine.begin() as conn:
        enqueue(conn, "other", "webhook", "k0", {}, T0, ordering_key="incident-1")
        first = claim(conn, T0, limit=10, lease=30)
        assert [(r.receiver, r.idempotency_key) for r in first] == [("hook", "k0"),
                                                                    ("other", "k0")]
        mark_retry(conn, first[0].id, T0, "HTTP 503")
        assert [r.idempotency_key for r in claim(conn, T0, limit=10, lease=30)] == ["k0"]
    with engine.begin() as conn:
        mark_dead(conn, first[0].id, "gave up", T0)
        assert [r.idempotency_key for r in claim(conn, T0, limit=10, lease=30)] == ["k1"]


def test_outbox_status_is_checked_and_kind_is_not(engine: Engine) -> None:
    """Since migration 0004 the schema does not list the kinds: a new receiver type
    needs no schema change (the code checks kinds)."""
    row = {"receiver": "r", "kind": "webhook", "idempotency_key": "k", "payload": {},
           "status": "lost", "attempts": 0, "next_attempt_at": T0, "created_at": T0}
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(insert(outbox), row)
    with engine.begin() as conn:
        conn.execute(insert(outbox), row | {"status": "pending", "kind": "fax"})


def test_retrain_gate(engine: Engine) -> None:
    until = T0 + timedelta(hours=6)
    with engine.begin() as conn:
        assert open_retrain(conn, "fraud", "7", T0) is None
        assert save_retrain(conn, "fraud", "7", "perf", "retrain/1", T0, until, {"f1": 0.5})
        assert not save_retrain(conn, "fraud", "7", "perf", "retrain/1", T0, until, {})
    with engine.connect() as conn:
        found = open_retrain(conn, "fraud", "7", T0 + timedelta(hours=1))
        assert open_retrain(conn, "fraud", "8", T0) is None
        assert open_retrain(conn, "fraud", "7", until) is None
    assert found is not None
    assert (found.idempotency_key, found.open_until, found.evidence) == ("retrain/1", until,
                                                                         {"f1": 0.5})


def test_retrain_cooldown_must_not_end_before_it_starts(engine: Engine) -> None:
    with pytest.raises(ValueError, match="open_until must not be before"), \
            engine.begin() as conn:
        save_retrain(conn, "fraud", "7", "perf", "k", T0, T0 - timedelta(seconds=1), {})


@pytest.mark.integration
def test_concurrent_claimers_get_disjoint_rows_on_postgresql(postgres_engine: Engine) -> None:
    upgrade(postgres_engine)
    _fill(postgres_engine, 6)
    with postgres_engine.connect() as one, postgres_engine.connect() as two, one.begin():
        first = claim(one, T0, limit=4, lease=30)
        with two.begin():  # one's transaction is still open: its rows are locked
            second = claim(two, T0, limit=4, lease=30)
    assert [r.idempotency_key for r in first] == ["k0", "k1", "k2", "k3"]
    assert [r.idempotency_key for r in second] == ["k4", "k5"]
