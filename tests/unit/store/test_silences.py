"""Silences and acknowledgements: audited writes, and what ``on_transition`` suppresses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.engine import Engine

from store.alert_values import AlertState
from store.alerts import save_alert_states
from store.audit import list_audit
from store.records import NotFoundError
from store.silences import (
    Instance,
    acknowledge,
    get_silence,
    lift,
    list_silences,
    on_transition,
    silence,
)

T0 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
PSI = Instance("psi-high", "fraud", "7", "amount")


def _firing(engine: Engine, episode: int = 1) -> None:
    with engine.begin() as conn:
        save_alert_states(conn, [AlertState(rule="psi-high", model_id="fraud",
                                            model_version="7", feature="amount",
                                            status="firing", episode=episode)], T0)


def test_silence_is_stored_and_audited(engine: Engine) -> None:
    with engine.begin() as conn:
        stored = silence(conn, "oncall", PSI, T0 + 2 * HOUR, "known rollout", now=T0)
    assert (stored.silenced_until, stored.silenced_by, stored.reason) == (
        T0 + 2 * HOUR, "oncall", "known rollout")
    assert stored.silenced(T0 + HOUR)
    assert not stored.silenced(T0 + 2 * HOUR)
    with engine.connect() as conn:
        (row,) = list_audit(conn).rows
        assert list_silences(conn, active_at=T0 + HOUR) == [stored]
        assert list_silences(conn, active_at=T0 + 3 * HOUR) == []
        assert list_silences(conn, model_id="churn") == []
    assert (row.actor, row.action, row.model_id, row.model_version, row.target) == (
        "oncall", "alert.silence", "fraud", "7", {"rule": "psi-high", "feature": "amount"})
    assert row.before is None
    assert row.after["silenced_until"] == "2026-12-07T11:00:00Z"
    assert row.after["reason"] == "known rollout"


def test_silencing_again_replaces_and_lift_ends_it(engine: Engine) -> None:
    with engine.begin() as conn:
        silence(conn, "a", PSI, T0 + HOUR, "first", now=T0)
        silence(conn, "b", PSI, T0 + 3 * HOUR, "longer", now=T0 + HOUR / 2)
        lifted = lift(conn, "c", PSI, now=T0 + HOUR)
    assert lifted.silenced_until is None
    assert not lifted.silenced(T0 + HOUR)
    with engine.connect() as conn:
        rows = list_audit(conn).rows
    assert [(r.actor, r.action) for r in rows] == [
        ("c", "alert.unsilence"), ("b", "alert.silence"), ("a", "alert.silence")]
    assert rows[0].before["reason"] == "longer"
    assert rows[0].after["reason"] is None
    assert rows[1].before["reason"] == "first"


def test_lifting_what_is_not_silenced_is_not_found_and_not_audited(engine: Engine) -> None:
    with engine.begin() as conn, pytest.raises(
            NotFoundError, match="alert instance \\(rule 'psi-high', model 'fraud' version "
                                 "'7' feature 'amount'\\) is not silenced"):
        lift(conn, "c", PSI, now=T0)
    with engine.connect() as conn:
        assert list_audit(conn).rows == []


@pytest.mark.parametrize(("until", "reason", "message"), [
    (T0, "why", "until must be after now"),
    (T0 + HOUR, "", "reason must be a non-empty string"),
])
def test_a_silence_needs_an_end_ahead_and_a_reason(engine: Engine, until: datetime,
                                                   reason: str, message: str) -> None:
    with engine.begin() as conn, pytest.raises(ValueError, match=message):
        silence(conn, "a", PSI, until, reason, now=T0)


def test_acknowledge_needs_a_firing_instance_and_lapses_on_the_next_episode(
        engine: Engine) -> None:
    with engine.begin() as conn, pytest.raises(NotFoundError, match="has no state"):
        acknowledge(conn, "a", PSI, "looking", now=T0)
    _firing(engine)
    with engine.begin() as conn:
        acked = acknowledge(conn, "a", PSI, "looking", now=T0)
    assert (acked.acknowledged, acked.acknowledged_by, acked.acknowledged_episode,
            acked.acknowledge_reason) == (True, "a", 1, "looking")
    assert not acked.silenced(T0)  # an acknowledgement silences nothing
    with engine.begin() as conn:
        assert on_transition(conn, PSI, 1, "resolved", T0 + HOUR) is False
        assert get_silence(conn, PSI).acknowledged  # type: ignore[union-attr]
        assert on_transition(conn, PSI, 2, "firing", T0 + 2 * HOUR) is False
        assert not get_silence(conn, PSI).acknowledged  # type: ignore[union-attr]
    with engine.begin() as conn:
        save_alert_states(conn, [AlertState(rule="psi-high", model_id="fraud",
                                            model_version="7", feature="amount",
                                            status="resolved", episode=2)], T0)
        with pytest.raises(ValueError, match=r"only a firing alert instance can be "
                                             r"acknowledged; .* is resolved"):
            acknowledge(conn, "a", PSI, "late", now=T0)
    with engine.connect() as conn:
        assert [r.action for r in list_audit(conn).rows] == ["alert.acknowledge"]


def test_a_silenced_firing_and_the_resolve_of_its_episode_are_suppressed(
        engine: Engine) -> None:
    with engine.begin() as conn:
        silence(conn, "a", PSI, T0 + HOUR, "rollout", now=T0)
        assert on_transition(conn, PSI, 1, "firing", T0 + HOUR / 2) is True
        # After the silence: the receivers never heard of episode 1, so not of its end.
        assert on_transition(conn, PSI, 1, "resolved", T0 + 2 * HOUR) is True
        assert on_transition(conn, PSI, 2, "firing", T0 + 3 * HOUR) is False
        # Episode 2 was told; its resolve is told even under a new silence.
        silence(conn, "a", PSI, T0 + 5 * HOUR, "again", now=T0 + 4 * HOUR)
        assert on_transition(conn, PSI, 2, "resolved", T0 + 4 * HOUR) is False


def test_an_instance_never_silenced_suppresses_nothing(engine: Engine) -> None:
    with engine.begin() as conn:
        assert on_transition(conn, PSI, 1, "firing", T0) is False
        assert get_silence(conn, PSI) is None
