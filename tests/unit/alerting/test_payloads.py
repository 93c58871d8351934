"""What receivers are sent: Slack limits, PagerDuty keys, CloudEvents, retrain requests."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from alerting import kinds, payloads, slack
from alerting.formatting import DASHBOARD_UID, DASHBOARD_VARIABLES
from alerting.receivers import ReceiverSettings, Secret
from tests.unit.alerting.payload_events import END, feature_event, model_event

ROOT = Path(__file__).resolve().parents[3]
GRAFANA = "http://grafana.example:3000/"


def texts(message: dict[str, Any]) -> list[tuple[str, str]]:
    """(block type, text) of every text object in a Slack message."""
    found = []
    for block in message["blocks"]:
        if "text" in block:
            found.append((block["type"], block["text"]["text"]))
        found += [("field", item["text"]) for item in block.get("fields", [])]
        found += [(block["type"], item["text"]) for item in block.get("elements", [])
                  if isinstance(item.get("text"), str)]
    return found


def huge_event() -> Any:
    drifted = [{"name": f"feature_{i}_" + "x" * 300, "psi": 0.3 + i / 1000,
                "ks_statistic": 0.2, "ks_pvalue": 1e-9, "severity": "critical"}
               for i in range(2000)]
    return model_event(rule="r" * 400, model_id="m" * 3000, summary="s" * 60_000,
                       evidence={"drifted_features": drifted, "drift_share": 1.0,
                                 "performance": {f"metric_{i}": 0.5 for i in range(500)}})


def test_slack_limits_hold_for_huge_evidence() -> None:
    message = payloads.slack(huge_event(), GRAFANA)
    blocks = message["blocks"]
    assert len(blocks) <= slack.MAX_BLOCKS
    assert len(message["text"]) <= slack.MAX_TEXT
    assert message["text"].endswith("…")
    header = blocks[0]
    assert header["type"] == "header"
    assert len(header["text"]["text"]) <= slack.MAX_HEADER
    assert header["text"]["text"].endswith("…")
    for block in blocks:
        if block["type"] == "section":
            assert len(block["text"]["text"]) <= slack.MAX_SECTION
            assert len(block.get("fields", [])) <= slack.MAX_FIELDS
            assert all(len(item["text"]) <= slack.MAX_FIELD for item in block.get("fields", []))
    evidence = blocks[2]["text"]["text"]
    assert "more lines not shown" in evidence  # the cut is announced
    assert "feature_0_" in evidence
    for block in blocks:
        for element in block.get("elements", []):
            if element.get("type") == "button":
                assert len(element["url"]) <= slack.MAX_URL


def test_slack_cut_counts_the_lines_left_out() -> None:
    lines = [f"line {i} " + "y" * 90 for i in range(100)]
    text = slack.fit_lines(lines, 3000, "Grafana")
    kept = text.count("\n")  # the notice is the last line
    assert len(text) <= 3000
    assert text.endswith(f"… {100 - kept} more lines not shown (Slack's size limit); see Grafana_")
    assert slack.fit_lines(lines[:3], 3000, "Grafana") == "\n".join(lines[:3])


def test_slack_message_carries_the_facts_and_links() -> None:
    message = payloads.slack(feature_event(), GRAFANA)
    assert message["text"] == feature_event().summary
    fields = " ".join(text for kind, text in texts(message) if kind == "field")
    for fact in ("fraud", "7", "amount", "psi", "0.41", "0.25"):
        assert fact in fields
    assert "CRITICAL" in message["blocks"][0]["text"]["text"]
    buttons = message["blocks"][-1]["elements"]
    assert [button["text"]["text"] for button in buttons] == ["Open in Grafana", "Runbook"]
    assert buttons[1]["url"] == "https://runbooks.example/psi"
    # mrkdwn is escaped: a feature name cannot inject a link or a mention
    nasty = payloads.slack(feature_event(feature="<!channel>&x"), None)
    assert "<!channel>" not in json.dumps(nasty)
    assert "&lt;!channel&gt;&amp;x" in json.dumps(nasty)
    assert all(block["type"] != "actions" for block in
               payloads.slack(feature_event(runbook_url=None), None)["blocks"])


def test_slack_resolution_looks_different() -> None:
    firing = payloads.slack(feature_event(), GRAFANA)
    resolved = payloads.slack(feature_event(status="resolved"), GRAFANA)
    assert ":white_check_mark:" in resolved["blocks"][0]["text"]["text"]
    assert "Resolved" in resolved["blocks"][0]["text"]["text"]
    assert resolved["text"].startswith(":white_check_mark: resolved")
    assert ":white_check_mark:" not in json.dumps(firing)


def test_grafana_link_opens_the_model_drilldown() -> None:
    board = json.loads((ROOT / "dashboards/grafana/model.json").read_text(encoding="utf-8"))
    variables = [variable["name"] for variable in board["templating"]["list"]]
    assert board["uid"] == DASHBOARD_UID
    assert set(DASHBOARD_VARIABLES) <= set(variables)
    link = payloads.grafana_link(feature_event(), GRAFANA)
    assert link is not None
    parts = urlsplit(link)
    assert parts.path.startswith(f"/d/{DASHBOARD_UID}/")
    query = parse_qs(parts.query)
    assert query["var-model"] == ["fraud"]
    assert query["var-version"] == ["7"]
    assert query["var-feature"] == ["amount"]
    assert int(query["from"][0]) < int(query["to"][0])
    assert int(query["to"][0]) > END.timestamp() * 1000
    model_link = payloads.grafana_link(model_event(), GRAFANA) or ""
    assert "var-feature" not in model_link
    assert payloads.grafana_link(feature_event(), None) is None


def test_pagerduty_trigger_and_resolve_share_the_dedup_key() -> None:
    trigger = payloads.pagerduty(feature_event(), GRAFANA)
    resolve = payloads.pagerduty(feature_event(status="resolved"), GRAFANA)
    assert trigger["event_action"] == "trigger"
    assert resolve["event_action"] == "resolve"
    assert trigger["dedup_key"] == resolve["dedup_key"] == feature_event().dedup_key
    body = trigger["payload"]
    assert body["source"] == "driftline/fraud"
    assert body["severity"] == "critical"
    assert (body["component"], body["group"], body["class"]) == ("fraud", "7", "psi")
    assert body["timestamp"] == "2026-11-22T10:05:00Z"
    assert body["custom_details"]["ks_pvalue"] == 1.2e-6
    assert body["custom_details"]["rule"] == "psi-critical"
    assert [link["text"] for link in trigger["links"]] == ["Grafana: model drill-down", "Runbook"]
    assert "routing_key" not in json.dumps([trigger, resolve])


@pytest.mark.parametrize("severity", ["info", "warning", "critical"])
def test_pagerduty_severities(severity: Any) -> None:
    body = payloads.pagerduty(feature_event(severity=severity), None)
    assert body["payload"]["severity"] == severity


def test_pagerduty_long_keys_and_summaries_are_cut_stably() -> None:
    long_a = feature_event(feature="f" * 400, summary="s" * 5000)
    long_b = feature_event(feature="f" * 399 + "g")
    key_a = payloads.pagerduty(long_a, None)["dedup_key"]
    assert len(key_a) == 255
    assert key_a == payloads.pagerduty(long_a, None)["dedup_key"]
    assert key_a == payloads.pagerduty(feature_event(feature="f" * 400, status="resolved"),
                                       None)["dedup_key"]
    assert key_a != payloads.pagerduty(long_b, None)["dedup_key"]
    assert len(payloads.pagerduty(long_a, None)["payload"]["summary"]) == 1024


def test_routing_key_is_added_only_when_sending() -> None:
    body = payloads.pagerduty(feature_event(), None)
    sent = payloads.with_routing_key(body, Secret("R0UT1NG"))
    assert sent["routing_key"] == "R0UT1NG"
    assert "routing_key" not in body


def test_cloudevent_has_the_required_attributes_and_valid_json() -> None:
    event = feature_event(value=float("nan"))
    decoded = json.loads(payloads.json_body(payloads.cloudevent(event)))
    assert decoded["specversion"] == "1.0"
    assert decoded["id"] == event.idempotency_key
    assert decoded["source"] == "driftline"
    assert decoded["type"] == "io.driftline.alert.firing"
    assert decoded["subject"] == "fraud/7/amount"
    assert decoded["datacontenttype"] == "application/json"
    assert datetime.fromisoformat(decoded["time"]) == END
    data = decoded["data"]
    assert data["value"] is None  # NaN is not JSON
    assert datetime.fromisoformat(data["started_at"]) == event.started_at
    assert data["evidence"]["ks_pvalue"] == 1.2e-6
    assert data["dedup_key"] == event.dedup_key
    resolved = payloads.cloudevent(feature_event(status="resolved"), source="urn:test")
    assert resolved["type"] == "io.driftline.alert.resolved"
    assert resolved["source"] == "urn:test"
    assert resolved["id"] != decoded["id"]
    assert payloads.cloudevent(model_event())["subject"] == "fraud/7"


def test_retrain_request_carries_model_version_evidence_and_key() -> None:
    event = model_event()
    request = json.loads(payloads.json_body(payloads.retrain_request(event, "retrain/k")))
    assert request["type"] == "io.driftline.retrain.requested"
    assert request["id"] == "retrain/k"
    data = request["data"]
    assert (data["model_id"], data["model_version"]) == ("fraud", "7")
    assert data["idempotency_key"] == "retrain/k"
    assert data["rule"] == "dataset-drift"
    assert data["reason"] == event.summary
    assert data["requested_at"] == "2026-11-22T10:05:00Z"
    evidence = data["evidence"]
    assert [f["name"] for f in evidence["drifted_features"]] == ["amount", "country"]
    assert evidence["drifted_features"][0]["psi"] == 0.41
    assert evidence["window_ids"] == ["fraud/7/2026-11-22T10:00:00+00:00"]
    assert evidence["performance"]["metric"] == "drift_share"
    feature = payloads.retrain_request(feature_event(), "k")["data"]["evidence"]
    assert feature["drifted_features"] == [{"name": "amount", "psi": 0.41,
                                            "ks_statistic": 0.21, "ks_pvalue": 1.2e-6}]


def receiver(kind: Any) -> ReceiverSettings:
    return ReceiverSettings(name=f"r-{kind}", type=kind, url=Secret("https://example/x"))


def test_render_dispatches_by_receiver_type() -> None:
    event = feature_event()
    assert kinds.render(event, receiver("slack"), GRAFANA) == payloads.slack(event, GRAFANA)
    assert kinds.render(event, receiver("pagerduty"), None) == payloads.pagerduty(event, None)
    assert kinds.render(event, receiver("webhook"), None) == payloads.cloudevent(event)
    request = kinds.render(event, receiver("deployer"), None)
    assert request["id"] == "retrain/fraud/7/psi-critical/2"
    resolved = feature_event(status="resolved")
    assert not kinds.should_send(resolved, receiver("deployer"))
    assert kinds.should_send(resolved, receiver("webhook"))
    with pytest.raises(ValueError, match="firing events only"):
        kinds.render(resolved, receiver("deployer"), None)


def test_json_body_is_compact_sorted_utf8_and_stable() -> None:
    body = payloads.json_body({"b": 1, "a": {"d": "é", "c": (1, 2)}})
    assert body == '{"a":{"c":[1,2],"d":"é"},"b":1}'.encode()
    event = model_event()
    assert payloads.json_body(payloads.cloudevent(event)) == payloads.json_body(
        payloads.cloudevent(event))
