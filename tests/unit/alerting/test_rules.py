"""Rule parsing: the documented defaults, and one clear error per kind of mistake."""

from __future__ import annotations

from typing import Any

import pytest

from alerting.model import AlertingConfigError
from alerting.rules import Rule, parse_rules

RECEIVERS = {"oncall-slack", "pagerduty"}

EXAMPLE: list[dict[str, Any]] = [
    {"name": "psi-critical", "metric": "feature.psi", "above": 0.25, "resolve_below": 0.1,
     "for": 2, "resolve_for": 1, "severity": "critical", "cooldown": "30m",
     "models": ["fraud"], "versions": ["3"], "features": ["amount"],
     "receivers": ["oncall-slack"], "runbook_url": "https://runbooks.example/psi",
     "retrain": False},
    {"name": "stalled", "metric": "no_data", "after": "15m"},
]


def psi_rule(**keys: Any) -> dict[str, Any]:
    return {"name": "psi-critical", "metric": "feature.psi", "above": 0.25} | keys


def parse_error(raw: object) -> AlertingConfigError:
    with pytest.raises(AlertingConfigError) as caught:
        parse_rules(raw, RECEIVERS)
    return caught.value


def test_the_documented_example_parses() -> None:
    psi, stalled = parse_rules(EXAMPLE, RECEIVERS)
    assert psi == Rule(name="psi-critical", metric="feature.psi", above=0.25, resolve_below=0.1,
                       for_=2, resolve_for=1, severity="critical", cooldown=1800.0,
                       models=("fraud",), versions=("3",), features=("amount",),
                       receivers=("oncall-slack",), runbook_url="https://runbooks.example/psi")
    assert psi.source == "drift"
    assert stalled == Rule(name="stalled", metric="no_data", after=900.0)
    assert stalled.source == "silence"
    assert stalled.threshold == 900.0


def test_defaults() -> None:
    (rule,) = parse_rules([psi_rule()], RECEIVERS)
    assert (rule.for_, rule.resolve_for, rule.severity, rule.cooldown) == (1, 1, "warning", 0.0)
    assert (rule.models, rule.versions, rule.features, rule.receivers) == (None, None, None, ())
    assert (rule.runbook_url, rule.retrain, rule.resolve_below) == (None, False, None)


def test_no_rules() -> None:
    assert parse_rules(None, RECEIVERS) == ()
    assert parse_rules([], set()) == ()


@pytest.mark.parametrize(("metric", "source"), [
    ("feature.effect", "drift"), ("drift_share", "drift"), ("late_rate", "drift"),
    ("performance.roc_auc", "performance"), ("estimate.f1", "drift"),
    ("label_coverage", "performance"), ("concept_drift", "performance")])
def test_source_of_each_family(metric: str, source: str) -> None:
    (rule,) = parse_rules([{"name": "r", "metric": metric, "below": 1.0}], RECEIVERS)
    assert rule.source == source


def test_boolean_and_concept_drift_default_to_above_zero() -> None:
    rules = parse_rules([{"name": "a", "metric": "feature.drifted"},
                         {"name": "b", "metric": "dataset_drift"},
                         {"name": "c", "metric": "concept_drift"},
                         {"name": "d", "metric": "concept_drift", "above": 3}], RECEIVERS)
    assert [rule.above for rule in rules] == [0.0, 0.0, 0.0, 3.0]
    assert rules[0].breaches(1.0)
    assert not rules[0].breaches(0.0)
    assert rules[2].breaches(1.0)
    assert not rules[3].breaches(3.0)


def test_hysteresis_comparisons() -> None:
    above, below, plain = parse_rules([
        psi_rule(name="above", resolve_below=0.1),
        {"name": "below", "metric": "performance.accuracy", "below": 0.8, "resolve_above": 0.85},
        psi_rule(name="plain")], RECEIVERS)
    assert above.breaches(0.26)
    assert not above.breaches(0.25)
    assert not above.clears(0.1)
    assert above.clears(0.09)
    assert below.breaches(0.79)
    assert not below.breaches(0.8)
    assert not below.clears(0.85)
    assert below.clears(0.86)
    assert plain.clears(0.25)
    assert not plain.clears(0.2501)


def test_scope() -> None:
    (rule,) = parse_rules([psi_rule(models=["fraud"], versions=[3], features=["amount"])],
                          RECEIVERS)
    assert rule.versions == ("3",)
    assert rule.matches("fraud", "3", "amount")
    assert not rule.matches("churn", "3", "amount")
    assert not rule.matches("fraud", "4", "amount")
    assert not rule.matches("fraud", "3", "age")
    assert rule.matches("fraud", "3")
    (everything,) = parse_rules([{"name": "d", "metric": "drift_share", "above": 0.5}], RECEIVERS)
    assert everything.matches("any", "1")


def test_receivers_may_be_empty_and_http_runbook() -> None:
    (rule,) = parse_rules([psi_rule(receivers=[], runbook_url="http://wiki/psi")], set())
    assert rule.receivers == ()
    assert rule.runbook_url == "http://wiki/psi"


BAD_RULES: list[tuple[str, dict[str, Any], list[str]]] = [
    ("unknown key", psi_rule(abvoe=0.3), ["psi-critical", "abvoe", "unknown key",
                                          "did you mean 'above'?"]),
    ("threshold type", psi_rule(above="0.25"), ["psi-critical", "above", "'0.25'"]),
    ("threshold bool", psi_rule(above=True), ["psi-critical", "above", "True"]),
    ("threshold nan", psi_rule(above=float("nan")), ["psi-critical", "above", "nan"]),
    ("unknown metric", psi_rule(metric="feature.pis"),
     ["psi-critical", "metric", "'feature.pis'", "did you mean 'feature.psi'?"]),
    ("unknown metric, no guess", psi_rule(metric="zzz"), ["psi-critical", "metric", "'zzz'"]),
    ("metric type", psi_rule(metric=["feature.psi"]),
     ["psi-critical", "metric", "['feature.psi']"]),
    ("missing metric", {"name": "psi-critical", "above": 0.2},
     ["psi-critical", "metric", "required"]),
    ("unknown receiver", psi_rule(receivers=["oncall-slack", "nobody"]),
     ["psi-critical", "receivers", "'nobody'", "oncall-slack, pagerduty"]),
    ("receivers not a list", psi_rule(receivers="oncall-slack"),
     ["psi-critical", "receivers", "'oncall-slack'"]),
    ("resolve_below above the threshold", psi_rule(resolve_below=0.3),
     ["(psi-critical).resolve_below", "above (0.25)", "got 0.3"]),
    ("resolve_above below the threshold",
     {"name": "acc", "metric": "performance.accuracy", "below": 0.8, "resolve_above": 0.7},
     ["(acc).resolve_above", "below (0.8)", "got 0.7"]),
    ("resolve_below with below",
     {"name": "acc", "metric": "performance.accuracy", "below": 0.8, "resolve_below": 0.7},
     ["(acc).resolve_below", "only allowed with above", "0.7"]),
    ("above and below", psi_rule(below=0.1), ["psi-critical", "below", "not both", "0.1"]),
    ("no threshold", {"name": "psi-critical", "metric": "feature.psi"},
     ["psi-critical", "above", "required", "feature.psi"]),
    ("threshold on a boolean", {"name": "dr", "metric": "feature.drifted", "above": 0.5},
     ["(dr).above", "boolean", "0.5"]),
    ("features on a model metric", {"name": "ds", "metric": "drift_share", "above": 0.5,
                                    "features": ["amount"]},
     ["(ds).features", "feature.*", "['amount']"]),
    ("empty scope", psi_rule(models=[]), ["psi-critical", "models", "[]"]),
    ("scope not a list", psi_rule(versions="3"), ["psi-critical", "versions", "'3'"]),
    ("for zero", psi_rule(**{"for": 0}), ["psi-critical", ".for:", "got 0"]),
    ("for fraction", psi_rule(**{"for": 1.5}), ["psi-critical", ".for:", "1.5"]),
    ("resolve_for bool", psi_rule(resolve_for=True), ["psi-critical", "resolve_for", "True"]),
    ("severity", psi_rule(severity="high"), ["psi-critical", "severity", "'high'"]),
    ("cooldown", psi_rule(cooldown="5 minutes"), ["psi-critical", "cooldown", "'5 minutes'"]),
    ("negative cooldown", psi_rule(cooldown=-5), ["psi-critical", "cooldown", "-5"]),
    ("runbook scheme", psi_rule(runbook_url="ftp://x/y"), ["psi-critical", "runbook_url", "ftp"]),
    ("runbook not a url", psi_rule(runbook_url="runbook"), ["psi-critical", "runbook_url",
                                                            "'runbook'"]),
    ("retrain", psi_rule(retrain="yes"), ["psi-critical", "retrain", "'yes'"]),
    ("after on another metric", psi_rule(after="5m"), ["psi-critical", "after", "'5m'"]),
    ("no_data without after", {"name": "stalled", "metric": "no_data"},
     ["(stalled).after", "required"]),
    ("no_data zero after", {"name": "stalled", "metric": "no_data", "after": 0},
     ["(stalled).after", "got 0"]),
    ("no_data with for", {"name": "stalled", "metric": "no_data", "after": "5m", "for": 3},
     ["(stalled).for", "no_data", "3"]),
    ("bad name", psi_rule(name="PSI Critical"), ["rules[0].name", "'PSI Critical'"]),
    ("missing name", {"metric": "feature.psi", "above": 0.2}, ["rules[0].name", "required"]),
]


@pytest.mark.parametrize(("raw", "needles"), [(raw, needles) for _, raw, needles in BAD_RULES],
                         ids=[case for case, _, _ in BAD_RULES])
def test_bad_rule_gives_one_clear_line(raw: dict[str, Any], needles: list[str]) -> None:
    error = parse_error([EXAMPLE[1], raw])
    message = str(error)
    assert "\n" not in message
    assert message.startswith("alerting.rules[1]")
    for needle in needles:
        assert needle.replace("rules[0]", "rules[1]") in message


def test_error_path_names_the_key() -> None:
    error = parse_error([psi_rule(), psi_rule(name="second", resolve_below=0.3)])
    assert error.path == "alerting.rules[1].resolve_below"
    assert str(error) == ("alerting.rules[1] (second).resolve_below: must be at most above "
                          "(0.25), got 0.3")


def test_duplicate_names() -> None:
    error = parse_error([psi_rule(), EXAMPLE[1], psi_rule()])
    assert str(error) == ("alerting.rules[2] (psi-critical).name: duplicate rule name "
                          "'psi-critical' (also alerting.rules[0])")


def test_the_list_and_each_rule_must_have_the_right_shape() -> None:
    assert str(parse_error({"name": "x"})).startswith("alerting.rules: must be a list")
    assert str(parse_error(["psi"])) == ("alerting.rules[0]: must be a mapping of rule keys, "
                                         "got 'psi'")


def test_custom_path_and_password_masking() -> None:
    with pytest.raises(AlertingConfigError) as caught:
        parse_rules([psi_rule(runbook_url="ftp://user:hunter2@host/x")], RECEIVERS, "rules")
    assert str(caught.value).startswith("rules[0] (psi-critical).runbook_url")
    assert "hunter2" not in str(caught.value)


