"""Prometheus rules and the example Alertmanager configuration, checked by the real tools."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from dashboards.promql import metric_names
from tests.prometheus_tools import tool

ROOT = Path(__file__).resolve().parents[3]
DASHBOARDS = ROOT / "dashboards"
RULES = DASHBOARDS / "prometheus" / "rules" / "driftline.yml"
ALERTMANAGER = DASHBOARDS / "alertmanager" / "alertmanager.yml"
ALERTS = {"DriftlineCriticalDrift", "DriftlineDatasetDrift", "DriftlinePerformanceDrop",
          "DriftlinePipelineStalled", "DriftlineWorkersDown", "DriftlineDeadLetterRateRising",
          "DriftlineWebhookDeadLetters", "DriftlineOutboxBacklog", "DriftlineConsumerLag"}


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=60, check=False)


def rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load(RULES.read_text(encoding="utf-8"))["groups"]
    return [rule for group in groups for rule in group["rules"]]


def test_rules_pass_promtool_check() -> None:
    result = run(tool("promtool"), "check", "rules", str(RULES))
    assert result.returncode == 0, result.stdout + result.stderr


def test_rule_fixtures_pass_promtool_test() -> None:
    fixtures = sorted((DASHBOARDS / "prometheus" / "tests").glob("*.yml"))
    assert fixtures
    result = run(tool("promtool"), "test", "rules", *map(str, fixtures))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_promtool_test_fails_on_a_wrong_expectation(tmp_path: Path) -> None:
    """The fixtures can fail: the same test expecting the wrong summary does."""
    fixture = (DASHBOARDS / "prometheus" / "tests" / "driftline.yml").read_text(encoding="utf-8")
    wrong = fixture.replace("../rules/driftline.yml", str(RULES)).replace(
        "fraud v7: the dataset drifted", "fraud v7: all is well")
    (tmp_path / "wrong.yml").write_text(wrong, encoding="utf-8")
    result = run(tool("promtool"), "test", "rules", str(tmp_path / "wrong.yml"))
    assert result.returncode != 0
    assert "DriftlineDatasetDrift" in result.stdout + result.stderr


def test_every_alert_is_tested_and_routed_by_severity() -> None:
    alerts = {r["alert"]: r for r in rules() if "alert" in r}
    assert set(alerts) == ALERTS
    fixture = (DASHBOARDS / "prometheus" / "tests" / "driftline.yml").read_text(encoding="utf-8")
    for name, rule in alerts.items():
        assert f"alertname: {name}" in fixture, name
        assert rule["labels"]["severity"] in {"critical", "warning"}, name
        assert {"summary", "runbook"} <= set(rule["annotations"]), name


def test_rules_read_only_driftline_metrics() -> None:
    recorded = {r["record"] for r in rules() if "record" in r}
    for rule in rules():
        for name in metric_names(rule["expr"]):
            assert name in recorded or name.startswith("driftline_"), (rule, name)


def test_alertmanager_config_passes_amtool() -> None:
    result = run(tool("amtool"), "check-config", str(ALERTMANAGER))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(("labels", "receivers"), [
    (["severity=critical", "alertname=DriftlineCriticalDrift"], "pagerduty,slack"),
    (["severity=warning", "alertname=DriftlineConsumerLag"], "slack"),
])
def test_alertmanager_routes_critical_to_pagerduty_and_slack(labels: list[str],
                                                             receivers: str) -> None:
    result = run(tool("amtool"), "config", "routes", "test", f"--config.file={ALERTMANAGER}",
                 f"--verify.receivers={receivers}", *labels)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == receivers


def test_dashboards_package_imports_only_stdlib_and_its_build_deps() -> None:
    import ast

    allowed = set(sys.stdlib_module_names) | {"dashboards", "grafana_foundation_sdk"}
    # The shared writer of generated files, a standard-library module of its own.
    light = {"streams.config.generated"}
    for path in sorted(DASHBOARDS.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                     [node.module] if isinstance(node, ast.ImportFrom) and node.module
                     and node.level == 0 else [])
            for name in names:
                assert name in light or name.split(".")[0] in allowed, (path.name, name)


def test_the_generated_file_writer_imports_only_the_standard_library() -> None:
    import ast

    path = DASHBOARDS.parent / "streams" / "config" / "generated.py"
    roots = {alias.name.split(".")[0] for node in ast.walk(ast.parse(path.read_text("utf-8")))
             if isinstance(node, ast.Import) for alias in node.names}
    roots |= {node.module.split(".")[0] for node in ast.walk(ast.parse(path.read_text("utf-8")))
              if isinstance(node, ast.ImportFrom) and node.module}
    assert roots <= set(sys.stdlib_module_names)
