"""Helpers for the state-machine tests: windows, facts and a runner that stores Steps."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from alerting.model import AlertEvent, AlertState, FeatureFacts, WindowFacts
from alerting.rules import Rule, parse_rules
from alerting.state import InstanceKey, evaluate

T0 = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
WINDOW = timedelta(minutes=5)
RECEIVERS = {"oncall-slack"}


def rule(**keys: Any) -> Rule:
    """One rule through the real parser (name r, feature.psi above 0.25 unless given)."""
    raw = {"name": "r", "metric": "feature.psi"} | keys
    if raw["metric"] == "feature.psi" and "below" not in raw:
        raw.setdefault("above", 0.25)
    (parsed,) = parse_rules([raw], RECEIVERS)
    return parsed


FIELDS = ("missing_rate", "effect_statistic", "effect_value")


def feature(name: str = "amount", psi: float | None = 0.0, **stats: Any) -> FeatureFacts:
    """A feature's facts: ``drifted``, ``severity`` and the other fields of FeatureFacts
    by name, every other keyword a statistic."""
    fields = {key: stats.pop(key) for key in FIELDS if key in stats}
    return FeatureFacts(name=name, drifted=bool(stats.pop("drifted", False)),
                        severity=stats.pop("severity", "none"),
                        statistics={"psi": psi, **stats}, **fields)


def drift_facts(index: int, *features: FeatureFacts, model: str = "fraud", version: str = "3",
                **values: Any) -> WindowFacts:
    start = T0 + index * WINDOW
    return WindowFacts(source="drift", model_id=model, model_version=version,
                       window_start=start, window_end=start + WINDOW, features=features,
                       **values)


def psi_facts(index: int, psi: float | None, **values: Any) -> WindowFacts:
    return drift_facts(index, feature("amount", psi), **values)


def perf_facts(index: int, model: str = "fraud", version: str = "3",
               **values: Any) -> WindowFacts:
    start = T0 + index * WINDOW
    return WindowFacts(source="performance", model_id=model, model_version=version,
                       window_start=start, window_end=start + WINDOW, **values)


@dataclass
class Runner:
    """Evaluates windows for one rule and stores the new states, as the worker would."""

    rule: Rule
    states: dict[InstanceKey, AlertState] = field(default_factory=dict)
    events: list[AlertEvent] = field(default_factory=list)

    def feed(self, facts: WindowFacts) -> list[AlertEvent]:
        new: list[AlertEvent] = []
        for step in evaluate(self.rule, facts, self.states):
            state = step.state
            self.states[(state.rule, state.model_id, state.model_version, state.feature)] = state
            if step.event is not None:
                new.append(step.event)
        self.events += new
        return new

    def feed_all(self, stream: Iterable[WindowFacts]) -> list[AlertEvent]:
        return [event for facts in stream for event in self.feed(facts)]

    def state(self, feature: str = "amount", model: str = "fraud",
              version: str = "3") -> AlertState:
        return self.states[(self.rule.name, model, version, feature)]

    def statuses(self) -> list[str]:
        return [event.status for event in self.events]
