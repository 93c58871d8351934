"""The ``pagerduty`` receiver: the PagerDuty Events API v2.

Takes a ``routing_key`` and optionally a ``url`` (default the Events API v2
endpoint). It is sent ``alerting.payloads.pagerduty``'s body; the routing key is
added at send time, so it is never stored in the outbox.
"""

from __future__ import annotations

from typing import Any

from alerting.delivery import compact_json
from alerting.model import AlertEvent
from alerting.payloads import pagerduty
from alerting.receivers import (
    URL,
    ReceiverKind,
    ReceiverSettings,
    Request,
    SecretKey,
    any_secret,
)
from store.outbox import OutboxRow

PAGERDUTY_URL = "https://events.pagerduty.com/v2/enqueue"
ROUTING_KEY = SecretKey("routing_key", any_secret, {"type": "string", "minLength": 1})


def render(event: AlertEvent, receiver: ReceiverSettings,
           grafana_url: str | None) -> dict[str, Any]:
    return pagerduty(event, grafana_url)


def request(row: OutboxRow, receiver: ReceiverSettings, now: float) -> Request:
    if receiver.routing_key is None:
        raise ValueError(f"receiver {row.receiver!r} has no routing_key")
    body = compact_json(row.payload | {"routing_key": receiver.routing_key.reveal()})
    return receiver.url.reveal(), body, {"content-type": "application/json"}


KIND = ReceiverKind(
    "pagerduty",
    (ROUTING_KEY, SecretKey(URL.name, URL.check, URL.schema, required=False,
                            default=PAGERDUTY_URL)),
    render, request)
