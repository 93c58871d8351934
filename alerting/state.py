"""The alert state machine: pure (no I/O, no clock), the caller passes facts and times.

One ``AlertState`` per instance (rule, model_id, model_version, feature). A window
moves it as follows (``breach``: strictly past the threshold; ``clear``: past
the resolve threshold; in between is the hysteresis band):

- inactive / resolved / pending + breach: ``breaches`` += 1. With ``breaches >= for``
  and the cooldown over (no earlier episode, or ``window_end - resolved_at >=
  cooldown``, in window time) it fires: a new episode and a "firing" event.
  Otherwise it is pending (and fires on the first breaching window after the
  cooldown).
- pending + no breach: back to resolved (an earlier episode) or inactive.
- firing + clear: ``clears`` += 1; at ``resolve_for`` it resolves with a
  "resolved" event of the same episode (so the same ``dedup_key``). Firing + band
  resets ``clears``; firing + breach resets ``clears`` and counts ``breaches``.

Every evaluated window stores its start and value, so a replayed window (start
not after ``last_window_start``) changes nothing. A None or NaN value changes
nothing either. The resolved event carries the firing threshold as
``threshold``; the resolve threshold is in its evidence.

``evaluate_silence`` drives ``no_data`` rules from the clock: it fires as soon
as ``now - last_seen >= after`` (``for`` does not apply), resolves as soon as
newer data is seen, and respects the cooldown (clock time). Its state records a
value (seconds without data) only at transitions, so an unchanged alert gives
no Step on every tick.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal

from alerting.evidence import evidence, silence_evidence, summary
from alerting.metrics import feature_value, window_value
from alerting.model import AlertEvent, AlertState, FeatureFacts, WindowFacts
from alerting.rules import Rule

InstanceKey = tuple[str, str, str, str]


@dataclass(frozen=True)
class Step:
    """A new or changed state to store, and the event it causes (if any)."""

    state: AlertState
    event: AlertEvent | None = None


def _resting(state: AlertState) -> AlertState:
    if state.episode > 0:
        return replace(state, status="resolved", breaches=0, clears=0, since=state.resolved_at)
    return replace(state, status="inactive", breaches=0, clears=0, since=None)


def _cooled(rule: Rule, state: AlertState, at: datetime) -> bool:
    return state.resolved_at is None or (at - state.resolved_at).total_seconds() >= rule.cooldown


def advance(rule: Rule, state: AlertState, value: float, at: datetime,
            *, breach: bool, clear: bool) -> AlertState:
    """The state after one observation at time ``at`` (the window end, or now)."""
    if state.status == "firing":
        if breach:
            return replace(state, breaches=state.breaches + 1, clears=0)
        if not clear:
            return replace(state, breaches=0, clears=0)
        clears = state.clears + 1
        if clears < rule.resolve_for:
            return replace(state, breaches=0, clears=clears)
        return replace(state, status="resolved", breaches=0, clears=0, since=at, resolved_at=at)
    if not breach:
        return _resting(state) if state.status == "pending" else state
    breaches = state.breaches + 1
    if breaches >= rule.for_ and _cooled(rule, state, at):
        return replace(state, status="firing", episode=state.episode + 1, breaches=breaches,
                       clears=0, since=at)
    since = state.since if state.status == "pending" else at
    return replace(state, status="pending", breaches=breaches, since=since)


def _transition(old: AlertState, new: AlertState) -> Literal["firing", "resolved"] | None:
    """The event a move causes: into firing, or from firing to resolved (a pending
    window falling back to "resolved" is no news)."""
    if new.status == "firing" and old.status != "firing":
        return "firing"
    if new.status == "resolved" and old.status == "firing":
        return "resolved"
    return None


def _event(rule: Rule, old: AlertState, new: AlertState, facts: WindowFacts,
           feature: FeatureFacts | None) -> AlertEvent | None:
    status = _transition(old, new)
    if status is None:
        return None
    started = new.since if status == "firing" else old.since
    return AlertEvent(
        rule=rule.name, status=status, severity=rule.severity, model_id=new.model_id,
        model_version=new.model_version, feature=new.feature, episode=new.episode,
        metric=rule.metric, value=new.value, threshold=rule.threshold,
        window_start=facts.window_start, window_end=facts.window_end,
        started_at=started or facts.window_end, summary=summary(rule, new),
        receivers=rule.receivers, runbook_url=rule.runbook_url, retrain=rule.retrain,
        evidence=evidence(rule, new, facts, feature))


Instance = tuple[str, FeatureFacts | None, float | None]  # feature name, its facts, the value


def _instances(rule: Rule, facts: WindowFacts) -> list[Instance]:
    if not rule.per_feature:
        return [("", None, window_value(rule.metric, facts))]
    return [(item.name, item, feature_value(rule.metric, item)) for item in facts.features
            if rule.matches(facts.model_id, facts.model_version, item.name)]


def evaluate(rule: Rule, facts: WindowFacts,
             states: Mapping[InstanceKey, AlertState]) -> list[Step]:
    """The Steps one window causes for one rule: a Step per instance whose state changed."""
    if rule.source != facts.source or not rule.matches(facts.model_id, facts.model_version):
        return []
    steps: list[Step] = []
    for name, feature, value in _instances(rule, facts):
        if value is None:
            continue
        key = (rule.name, facts.model_id, facts.model_version, name)
        old = states.get(key) or AlertState(*key)
        if old.last_window_start is not None and facts.window_start <= old.last_window_start:
            continue
        moved = advance(rule, old, value, facts.window_end,
                        breach=rule.breaches(value), clear=rule.clears(value))
        new = replace(moved, last_window_start=facts.window_start, value=value)
        steps.append(Step(new, _event(rule, old, new, facts, feature)))
    return steps


def evaluate_silence(rule: Rule, model_id: str, model_version: str, last_seen: datetime,
                     now: datetime, state: AlertState | None) -> Step | None:
    """The Step of a ``no_data`` rule at ``now``, the last window or event at ``last_seen``.

    None when nothing changed, or the (model, version) is out of the rule's scope.
    """
    if rule.after is None:
        raise ValueError(f"rule {rule.name!r} watches {rule.metric}, not no_data")
    if not rule.matches(model_id, model_version):
        return None
    old = state or AlertState(rule.name, model_id, model_version, "")
    silent = (now - last_seen).total_seconds()
    breach = silent >= rule.after
    # parse_rules refuses 'for' and 'resolve_for' on no_data, so both are 1: it fires
    # on the first silent observation and resolves on the first one with data.
    moved = advance(rule, old, silent, now, breach=breach, clear=not breach)
    if moved.status == old.status:
        return None
    new = replace(moved, value=silent)
    return Step(new, _silence_event(rule, old, new, last_seen, now))


def _silence_event(rule: Rule, old: AlertState, new: AlertState, last_seen: datetime,
                   now: datetime) -> AlertEvent | None:
    status = _transition(old, new)
    if status is None:
        return None
    started = (new.since if status == "firing" else old.since) or now
    return AlertEvent(
        rule=rule.name, status=status, severity=rule.severity, model_id=new.model_id,
        model_version=new.model_version, feature="", episode=new.episode, metric=rule.metric,
        value=new.value, threshold=rule.threshold, window_start=last_seen, window_end=now,
        started_at=started, summary=summary(rule, new),
        receivers=rule.receivers, runbook_url=rule.runbook_url, retrain=rule.retrain,
        evidence=silence_evidence(rule, new, last_seen, now))
