"""What each receiver is sent: pure functions of an ``AlertEvent``.

Decisions:

- Rendering is deterministic: no clock, no randomness. A retry re-sends the same
  bytes (``json_body``: compact, sorted keys, UTF-8, NaN/Infinity as null), and a
  retrain request's ``requested_at`` is the deciding window's end, not the wall clock.
- Times are RFC 3339 in UTC (``...Z``); a naive datetime is taken as UTC.
- Slack (built in ``alerting/slack.py``): Block Kit within Slack's limits (header
  150, section 3000, 10 fields of 2000, 50 blocks, text 40,000 characters); cut
  text ends in "…" and a cut evidence list says how many lines were left out.
  A resolution has its own header.
- PagerDuty: the Events API v2 body without ``routing_key`` (a secret, added at
  send time by ``with_routing_key`` and never stored); ``dedup_key`` is the
  event's, its tail replaced by a SHA-256 when longer than 255 characters; a
  resolve carries only ``event_action`` and ``dedup_key``.
- Webhooks get a CloudEvents 1.0 structured-mode event; a deployer gets a
  ``io.driftline.retrain.requested`` CloudEvent whose id is
  ``retrain/<model>/<version>/<rule>/<episode>``, and only for firing events
  (``alerting.kinds.should_send``): resolving an alert does not ask for anything.
- Which of these a receiver is sent is decided by its type's module in
  ``alerting/kinds`` (``alerting.kinds.render``).
- The Grafana link opens the Model drill-down (uid ``driftline-model``, variables
  ``model``, ``version``, ``feature``; ``dashboards/catalogue.py``) from one hour
  before the episode began to one hour after the deciding window.
- A model version a registry knows (``AlertEvent.registry``): the webhook's data and
  the retrain request's carry ``registered_model`` (registry, name, version, url);
  Slack and PagerDuty link the version's page in the registry.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

from alerting.formatting import cut, grafana_link, jsonable, registry_page, rfc3339
from alerting.model import AlertEvent
from alerting.receivers import Secret
from alerting.slack import slack

__all__ = ["cloudevent", "dedup_key", "event_data", "grafana_link", "json_body", "pagerduty",
           "retrain_key", "retrain_request", "slack", "with_routing_key"]

MAX_DEDUP_KEY = 255
MAX_PD_SUMMARY = 1024
SPEC_VERSION = "1.0"
FIRING_TYPE = "io.driftline.alert.firing"
RESOLVED_TYPE = "io.driftline.alert.resolved"
RETRAIN_TYPE = "io.driftline.retrain.requested"


def json_body(payload: Mapping[str, Any]) -> bytes:
    """The bytes sent and signed: compact JSON, sorted keys, UTF-8."""
    return json.dumps(jsonable(payload), separators=(",", ":"), sort_keys=True,
                      ensure_ascii=False, allow_nan=False).encode("utf-8")


def event_data(event: AlertEvent) -> dict[str, Any]:
    """The whole event as JSON-able data, with its dedup and idempotency keys."""
    data: dict[str, Any] = jsonable({
        "rule": event.rule, "status": event.status, "severity": event.severity,
        "model_id": event.model_id, "model_version": event.model_version,
        "feature": event.feature, "episode": event.episode, "metric": event.metric,
        "value": event.value, "threshold": event.threshold,
        "window_start": event.window_start, "window_end": event.window_end,
        "started_at": event.started_at, "summary": event.summary,
        "receivers": event.receivers, "runbook_url": event.runbook_url,
        "retrain": event.retrain, "evidence": event.evidence,
        "dedup_key": event.dedup_key, "idempotency_key": event.idempotency_key,
    })
    if event.registry is not None:
        data["registered_model"] = dict(event.registry)
    return data


def dedup_key(event: AlertEvent) -> str:
    """The event's dedup key, at most 255 characters: a longer key keeps its head and
    replaces its tail by the tail's SHA-256 (stable, so firing and resolve still match)."""
    key = event.dedup_key
    if len(key) <= MAX_DEDUP_KEY:
        return key
    head = MAX_DEDUP_KEY - 65
    return f"{key[:head]}~{hashlib.sha256(key[head:].encode()).hexdigest()}"


def _links(event: AlertEvent, grafana_url: str | None) -> list[dict[str, str]]:
    links = []
    grafana = grafana_link(event, grafana_url)
    if grafana:
        links.append({"href": grafana, "text": "Grafana: model drill-down"})
    if event.runbook_url:
        links.append({"href": event.runbook_url, "text": "Runbook"})
    page = registry_page(event)
    if page is not None:
        links.append({"href": page[1], "text": page[0]})
    return links


def pagerduty(event: AlertEvent, grafana_url: str | None) -> dict[str, Any]:
    """An Events API v2 body, without the routing key."""
    if event.status == "resolved":
        return {"event_action": "resolve", "dedup_key": dedup_key(event)}
    details = jsonable(event.evidence) | {
        "rule": event.rule, "status": event.status, "feature": event.feature,
        "episode": event.episode, "metric": event.metric, "value": jsonable(event.value),
        "threshold": jsonable(event.threshold), "window_start": rfc3339(event.window_start),
        "window_end": rfc3339(event.window_end), "started_at": rfc3339(event.started_at),
    }
    body: dict[str, Any] = {
        "event_action": "trigger",
        "dedup_key": dedup_key(event),
        "payload": {
            "summary": cut(event.summary, MAX_PD_SUMMARY),
            "source": f"driftline/{event.model_id}",
            "severity": event.severity,  # info, warning and critical are PagerDuty's too
            "timestamp": rfc3339(event.window_end),
            "component": event.model_id,
            "group": event.model_version,
            "class": event.metric,
            "custom_details": details,
        },
        "client": "driftline",
        "links": _links(event, grafana_url),
    }
    grafana = grafana_link(event, grafana_url)
    if grafana:
        body["client_url"] = grafana
    return body


def with_routing_key(payload: Mapping[str, Any], key: Secret) -> dict[str, Any]:
    """The PagerDuty body as sent: ``payload`` plus the routing key (never stored)."""
    return {**payload, "routing_key": key.reveal()}


def _subject(event: AlertEvent) -> str:
    subject = f"{event.model_id}/{event.model_version}"
    return f"{subject}/{event.feature}" if event.feature else subject


def cloudevent(event: AlertEvent, source: str = "driftline") -> dict[str, Any]:
    """A CloudEvents 1.0 structured-mode event carrying the whole alert event."""
    return {
        "specversion": SPEC_VERSION,
        "id": event.idempotency_key,
        "source": source,
        "type": FIRING_TYPE if event.status == "firing" else RESOLVED_TYPE,
        "subject": _subject(event),
        "time": rfc3339(event.window_end),
        "datacontenttype": "application/json",
        "data": event_data(event),
    }


def retrain_key(event: AlertEvent) -> str:
    """One retrain request per incident: ``retrain/<model>/<version>/<rule>/<episode>``."""
    return f"retrain/{event.model_id}/{event.model_version}/{event.rule}/{event.episode}"


def _drifted_features(event: AlertEvent) -> list[Any]:
    evidence = event.evidence
    listed = evidence.get("drifted_features")
    if isinstance(listed, Sequence) and not isinstance(listed, str):
        return list(jsonable(listed))
    if event.feature:  # a feature rule: the evidence holds that feature's statistics
        skip = {"window_id", "window_ids", "metric", "value", "threshold", "breaches"}
        stats = {key: value for key, value in evidence.items() if key not in skip}
        return [jsonable({"name": event.feature, **stats})]
    return []


def _window_ids(evidence: Mapping[str, Any]) -> list[Any]:
    ids = evidence.get("window_ids")
    if isinstance(ids, Sequence) and not isinstance(ids, str):
        return list(ids)
    return [evidence["window_id"]] if "window_id" in evidence else []


def retrain_request(event: AlertEvent, idempotency_key: str,
                    source: str = "driftline") -> dict[str, Any]:
    """A ``io.driftline.retrain.requested`` CloudEvent for the event's model and version."""
    evidence = event.evidence
    performance = {"metric": event.metric, "value": event.value, "threshold": event.threshold,
                   "observed": evidence.get("performance", {}),
                   "estimate": evidence.get("estimate", {}),
                   "label_coverage": evidence.get("label_coverage")}
    data = {
        "model_id": event.model_id,
        "model_version": event.model_version,
        "idempotency_key": idempotency_key,
        "rule": event.rule,
        "reason": event.summary,
        "evidence": {"drifted_features": _drifted_features(event),
                     "drift_share": evidence.get("drift_share"),
                     "performance": performance,
                     "window_ids": _window_ids(evidence)},
        "requested_at": rfc3339(event.window_end),
    }
    if event.registry is not None:
        data["registered_model"] = dict(event.registry)
    return {
        "specversion": SPEC_VERSION,
        "id": idempotency_key,
        "source": source,
        "type": RETRAIN_TYPE,
        "subject": f"{event.model_id}/{event.model_version}",
        "time": rfc3339(event.window_end),
        "datacontenttype": "application/json",
        "data": jsonable(data),
    }
