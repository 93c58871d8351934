"""The committed dashboards: fresh, deterministic, importable into Grafana 11, and
written for the on-call engineer."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from dashboards import build, catalogue
from dashboards.inventory import load
from detectors import DEFAULT_THRESHOLDS

DASHBOARDS = load()
# Grafana 11.0 writes schemaVersion 39, 11.6 writes 41 (and reads every earlier one).
GRAFANA_11_SCHEMAS = range(39, 42)


def panels(model: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in build.all_panels(model) if p["type"] != "row"]


def test_the_committed_json_is_what_the_builder_writes() -> None:
    assert build.main(["--check"]) == 0, "stale: run `make dashboards` and commit"
    assert set(DASHBOARDS) == set(build.DASHBOARDS)


def test_check_names_a_stale_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert build.main(["--out", str(tmp_path)]) == 0
    assert build.main(["--check", "--out", str(tmp_path)]) == 0
    path = tmp_path / "model.json"
    path.write_text(path.read_text(encoding="utf-8").replace("PSI per feature", "PSI"),
                    encoding="utf-8")
    assert build.main(["--check", "--out", str(tmp_path)]) == 1
    assert "model.json" in capsys.readouterr().err


def test_rendering_is_deterministic() -> None:
    for make in build.DASHBOARDS.values():
        assert build.render(make) == build.render(make)


@pytest.mark.parametrize("name", sorted(DASHBOARDS))
def test_dashboard_imports_into_grafana_11(name: str) -> None:
    model = DASHBOARDS[name]
    assert model["schemaVersion"] in GRAFANA_11_SCHEMAS
    assert model["uid"] in {catalogue.OVERVIEW_UID, catalogue.MODEL_UID}
    assert "id" not in model or model["id"] is None  # an id would clash on import
    ids = [p["id"] for p in build.all_panels(model)]
    assert len(ids) == len(set(ids))
    variables = {v["name"]: v for v in model["templating"]["list"]}
    assert variables["datasource"]["query"] == "prometheus"
    assert variables["datasource"]["current"]["value"] == catalogue.DATASOURCE_UID


@pytest.mark.parametrize("name", sorted(DASHBOARDS))
def test_every_panel_tells_on_call_what_to_do(name: str) -> None:
    for panel in panels(DASHBOARDS[name]):
        assert len(panel.get("description", "")) >= 80, panel["title"]
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        assert panel["targets"], panel["title"]
        assert all(t["expr"] for t in panel["targets"]), panel["title"]
        steps = panel["fieldConfig"]["defaults"]["thresholds"]["steps"]
        assert steps[0]["value"] is None, panel["title"]


def test_drill_down_is_templated_by_model_version_and_feature() -> None:
    model = DASHBOARDS["model.json"]
    names = [v["name"] for v in model["templating"]["list"]]
    assert names == ["datasource", "model", "version", "feature", "api_url"]
    for panel in panels(model):
        for target in panel["targets"]:
            assert '$model"' in target["expr"], panel["title"]


def _panel(name: str, title: str) -> dict[str, Any]:
    (panel,) = [p for p in panels(DASHBOARDS[name]) if p["title"] == title]
    return panel


@pytest.mark.parametrize(("title", "statistic"), [("PSI per feature", "psi"),
                                                   ("KS statistic per feature",
                                                    "ks_statistic")])
def test_psi_and_ks_draw_the_policy_thresholds(title: str, statistic: str) -> None:
    panel = _panel("model.json", title)
    defaults = panel["fieldConfig"]["defaults"]
    assert defaults["custom"]["thresholdsStyle"]["mode"] != "off"
    values = [s["value"] for s in defaults["thresholds"]["steps"]]
    assert values == [None, *DEFAULT_THRESHOLDS[statistic]]
    assert [s["color"] for s in defaults["thresholds"]["steps"]] == ["green", "yellow", "red"]


def test_feature_by_window_heatmap_and_concept_drift_annotations() -> None:
    heatmap = _panel("model.json", "Feature × window drift (heatmap)")
    assert heatmap["type"] == "status-history"
    assert "{{feature}}" in heatmap["targets"][0]["legendFormat"]
    (annotation,) = DASHBOARDS["model.json"]["annotations"]["list"]
    assert "driftline_concept_drift_detections_total" in annotation["expr"]
    assert annotation["enable"] is True


def test_the_drift_panels_link_each_point_to_its_window_report() -> None:
    linked = {p["title"]: p["fieldConfig"]["defaults"].get("links", [])
              for p in panels(DASHBOARDS["model.json"])}
    drift = ["PSI per feature", "KS statistic per feature", "Feature × window drift (heatmap)",
             "Feature × window PSI (heatmap)", "KS p-value per feature", "Other effect sizes"]
    for title in drift:
        (link,) = linked[title]
        assert link["url"] == catalogue.REPORT_LINK, title
        assert link["targetBlank"] is True
    (api,) = [v for v in DASHBOARDS["model.json"]["templating"]["list"]
              if v["name"] == "api_url"]
    assert api["type"] == "textbox"
    assert api["query"] == catalogue.API_URL


def test_overview_covers_the_issue_list() -> None:
    text = json.dumps(DASHBOARDS["overview.json"])
    for metric in ("driftline_feature_drift", "driftline_dataset_drift_share",
                   "driftline_events_total", "driftline_events_invalid_total",
                   "driftline_late_events_total", "driftline_consumer_lag_messages",
                   "driftline_alerts_firing", "driftline_webhook_deliveries_total",
                   "driftline_last_window_end_timestamp_seconds"):
        assert metric in text, metric

