"""What an alert event says: a one-line summary and the evidence (a JSON-able dict).

Evidence always holds ``window_id``, ``metric``, ``value``, ``threshold``,
``resolve_threshold`` and ``breaches`` (consecutive breaching windows; 0 in a
resolution). Feature rules add the feature's statistics (``feature``); other
drift rules add ``drift_share``, the window's counts and ``drifted_features``;
performance rules add ``performance``, ``estimate``, ``label_coverage`` and
``concept_detections``. NaN and infinite numbers become None so the dict is
strict JSON.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from alerting.config_values import format_duration
from alerting.model import AlertState, FeatureFacts, WindowFacts
from alerting.rules import Rule
from detectors.catalogue import names, statistics


def drifted_feature_keys() -> tuple[str, ...]:
    """The keys of a drifted feature in the evidence of a window rule: its name, the
    catalogue's alert statistics (``detectors/catalogue.py``), its effect and severity."""
    return ("name", *names(statistics(alerts=True)), "effect_statistic", "effect_value",
            "severity")


def _number(value: float | None) -> float | None:
    return value if value is None or math.isfinite(value) else None


def _clean(values: dict[str, Any]) -> dict[str, Any]:
    return {key: _number(value) if isinstance(value, float) else value
            for key, value in values.items()}


def _windows(count: int) -> str:
    return f"{count} window" if count == 1 else f"{count} windows"


def summary(rule: Rule, state: AlertState) -> str:
    """One line for people, e.g. ``fraud v3: feature amount psi 0.41 > 0.25 for 2 windows``."""
    head = f"{state.model_id} v{state.model_version}:"
    if state.feature:
        head += f" feature {state.feature}"
    name = rule.metric.removeprefix("feature.")
    value = state.value if state.value is not None else math.nan
    if rule.metric == "no_data":
        if state.status == "firing":
            return f"{head} no data for {format_duration(round(value))}"
        return f"{head} resolved: data seen again"
    if rule.spec.boolean:
        text = "drifted" if rule.per_feature else name
        if state.status == "firing":
            return f"{head} {text} for {_windows(state.breaches)}"
        return f"{head} resolved: {text} false"
    if state.status == "firing":
        sign = "<" if rule.below is not None else ">"
        return (f"{head} {name} {value:.4g} {sign} {rule.threshold:g} "
                f"for {_windows(state.breaches)}")
    return f"{head} resolved: {name} {value:.4g}"


def _resolve_threshold(rule: Rule) -> float:
    for value in (rule.resolve_below, rule.resolve_above):
        if value is not None:
            return value
    return rule.threshold


def _drifted(feature: FeatureFacts) -> dict[str, Any]:
    flat = feature.to_dict()
    return _clean({key: flat[key] for key in drifted_feature_keys()})


def evidence(rule: Rule, state: AlertState, facts: WindowFacts,
             feature: FeatureFacts | None) -> dict[str, Any]:
    """The evidence of an event decided by the window ``facts``."""
    result: dict[str, Any] = {
        "window_id": facts.window_id, "metric": rule.metric, "value": _number(state.value),
        "threshold": rule.threshold, "resolve_threshold": _resolve_threshold(rule),
        "breaches": state.breaches}
    if feature is not None:
        result["feature"] = _clean(feature.to_dict())
    elif facts.source == "drift":
        result.update(_clean({
            "drift_share": facts.drift_share, "n_drifted": facts.n_drifted,
            "n_events": facts.n_events, "n_late": facts.n_late, "n_invalid": facts.n_invalid}))
        result["drifted_features"] = [_drifted(item) for item in facts.features if item.drifted]
        if facts.estimate:
            result["estimate"] = _clean(dict(facts.estimate))
    else:
        result["performance"] = _clean(dict(facts.performance))
        result["estimate"] = _clean(dict(facts.estimate))
        result["label_coverage"] = _number(facts.label_coverage)
        result["concept_detections"] = facts.concept_detections
    return result


def silence_evidence(rule: Rule, state: AlertState, last_seen: datetime,
                     now: datetime) -> dict[str, Any]:
    """The evidence of a no_data event: no window decided it, so ``window_id`` is None."""
    return {"window_id": None, "metric": rule.metric, "value": _number(state.value),
            "threshold": rule.threshold, "resolve_threshold": rule.threshold,
            "breaches": 1 if state.status == "firing" else 0,
            "last_seen": last_seen.isoformat(), "now": now.isoformat()}
