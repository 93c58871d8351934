"""Properties of the state machine over arbitrary streams and rules (hypothesis)."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from alerting.state import evaluate

from .streams import Runner, drift_facts, feature, rule

values = st.floats(min_value=0.0, max_value=0.5, allow_nan=False)
streams = st.lists(st.tuples(values, values), min_size=1, max_size=60)
rule_keys = st.fixed_dictionaries({
    "for": st.integers(1, 4), "resolve_for": st.integers(1, 3),
    "resolve_below": st.sampled_from([0.25, 0.2, 0.1]),
    "cooldown": st.sampled_from([0, "5m", "30m"])})


def run_stream(keys: dict[str, Any], stream: list[tuple[float, float]]) -> Runner:
    run = Runner(rule(**keys))
    run.feed_all(drift_facts(i, feature("amount", a), feature("age", b))
                 for i, (a, b) in enumerate(stream))
    return run


@settings(max_examples=200, deadline=None)
@given(rule_keys, streams)
def test_events_alternate_and_episodes_increase(keys: dict[str, Any],
                                                stream: list[tuple[float, float]]) -> None:
    run = run_stream(keys, stream)
    for name in ("amount", "age"):
        events = [event for event in run.events if event.feature == name]
        statuses = [event.status for event in events]
        alternating = ["firing", "resolved"] * (len(events) // 2) + ["firing"] * (len(events) % 2)
        assert statuses == alternating
        firings = [event.episode for event in events if event.status == "firing"]
        assert firings == list(range(1, len(firings) + 1))
        for firing, resolved in zip(events[::2], events[1::2], strict=False):
            assert firing.dedup_key == resolved.dedup_key
            assert firing.started_at == resolved.started_at <= resolved.window_end
        state = run.state(name)
        assert state.episode == len(firings)
        assert (state.status == "firing") == (statuses[-1:] == ["firing"])


@settings(max_examples=100, deadline=None)
@given(rule_keys, streams)
def test_replaying_any_window_changes_nothing(keys: dict[str, Any],
                                              stream: list[tuple[float, float]]) -> None:
    run = run_stream(keys, stream)
    for i, (a, b) in enumerate(stream):
        assert evaluate(run.rule, drift_facts(i, feature("amount", a), feature("age", b)),
                        run.states) == []


@settings(max_examples=100, deadline=None)
@given(rule_keys, streams)
def test_a_firing_needs_for_breaching_windows_in_a_row(keys: dict[str, Any],
                                                       stream: list[tuple[float, float]]) -> None:
    run = run_stream(keys, stream)
    for event in run.events:
        if event.status == "firing":
            index = len([w for w in range(len(stream))
                         if drift_facts(w).window_end <= event.window_end]) - 1
            column = 0 if event.feature == "amount" else 1
            recent = [stream[w][column] for w in range(index - keys["for"] + 1, index + 1)]
            assert len(recent) == keys["for"]
            assert all(value > 0.25 for value in recent)
