"""The ``slack`` receiver: a Slack incoming webhook.

Takes a ``url`` (the incoming-webhook URL, itself a secret). It is sent the Block
Kit message of ``alerting.slack`` as JSON, for firings and resolutions.
"""

from __future__ import annotations

from typing import Any

from alerting.delivery import json_request
from alerting.model import AlertEvent
from alerting.receivers import URL, ReceiverKind, ReceiverSettings, Request
from alerting.slack import slack
from store.outbox import OutboxRow


def render(event: AlertEvent, receiver: ReceiverSettings,
           grafana_url: str | None) -> dict[str, Any]:
    return slack(event, grafana_url)


def request(row: OutboxRow, receiver: ReceiverSettings, now: float) -> Request:
    return json_request(row.payload, receiver)


KIND = ReceiverKind("slack", (URL,), render, request)
