"""no_data rules: driven by the clock, fire at once, resolve when data is newer."""

from __future__ import annotations

from datetime import timedelta

import pytest

from alerting.model import AlertState
from alerting.state import Step, evaluate_silence

from .streams import T0, rule

MINUTE = timedelta(minutes=1)


def tick(step: Step | None, state: AlertState | None) -> AlertState | None:
    return step.state if step is not None else state


def test_fires_after_the_silence_and_resolves_on_new_data() -> None:
    stalled = rule(metric="no_data", after="15m", receivers=["oncall-slack"])
    assert evaluate_silence(stalled, "fraud", "3", T0, T0 + 14 * MINUTE, None) is None
    fired = evaluate_silence(stalled, "fraud", "3", T0, T0 + 15 * MINUTE, None)
    assert fired is not None
    assert fired.event is not None
    event = fired.event
    assert (event.status, event.episode, event.metric, event.value) == (
        "firing", 1, "no_data", 900.0)
    assert (event.threshold, event.receivers, event.feature) == (900.0, ("oncall-slack",), "")
    assert (event.window_start, event.window_end, event.started_at) == (
        T0, T0 + 15 * MINUTE, T0 + 15 * MINUTE)
    assert event.summary == "fraud v3: no data for 15m"
    assert event.evidence["last_seen"] == T0.isoformat()
    # Still silent a minute later: nothing new to store.
    assert evaluate_silence(stalled, "fraud", "3", T0, T0 + 16 * MINUTE, fired.state) is None
    back = evaluate_silence(stalled, "fraud", "3", T0 + 17 * MINUTE, T0 + 17 * MINUTE,
                            fired.state)
    assert back is not None
    assert back.event is not None
    assert (back.event.status, back.event.episode) == ("resolved", 1)
    assert back.event.dedup_key == event.dedup_key
    assert back.event.started_at == event.started_at
    assert back.event.summary == "fraud v3: resolved: data seen again"
    assert (back.state.status, back.state.resolved_at) == ("resolved", T0 + 17 * MINUTE)


def test_cooldown_applies_in_clock_time() -> None:
    stalled = rule(metric="no_data", after="5m", cooldown="1h")
    state: AlertState | None = None
    events = []
    # Data stops at T0, comes back at +10m, stops again at +12m; the clock ticks each minute.
    for minute in range(0, 100):
        now = T0 + minute * MINUTE
        last_seen = T0 if minute < 10 else T0 + min(minute, 12) * MINUTE
        step = evaluate_silence(stalled, "fraud", "3", last_seen, now, state)
        if step is not None and step.event is not None:
            events.append((minute, step.event.status, step.event.episode))
        state = tick(step, state)
    # Silent from +12m: breach from +17m, cooling until +70m (1h after the +10m resolution).
    assert events == [(5, "firing", 1), (10, "resolved", 1), (70, "firing", 2)]


def test_scope_and_wrong_rule() -> None:
    scoped = rule(metric="no_data", after="5m", models=["fraud"], versions=["3"])
    assert evaluate_silence(scoped, "churn", "3", T0, T0 + timedelta(hours=1), None) is None
    assert evaluate_silence(scoped, "fraud", "4", T0, T0 + timedelta(hours=1), None) is None
    with pytest.raises(ValueError, match=r"'r' watches feature\.psi, not no_data"):
        evaluate_silence(rule(), "fraud", "3", T0, T0, None)


def test_clock_behind_the_data_is_not_silence() -> None:
    stalled = rule(metric="no_data", after="5m")
    assert evaluate_silence(stalled, "fraud", "3", T0 + MINUTE, T0, None) is None
