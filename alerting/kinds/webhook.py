"""The ``webhook`` receiver: a generic CloudEvents webhook.

Takes a ``url`` and a ``signing_secret``. It is sent the alert event as a
CloudEvents 1.0 structured-mode event (``alerting.payloads.cloudevent``), signed
with the Standard Webhooks headers (``alerting.delivery.signed_request``).
"""

from __future__ import annotations

from typing import Any

from alerting.delivery import signed_request
from alerting.model import AlertEvent
from alerting.payloads import cloudevent
from alerting.receivers import SIGNING_SECRET, URL, ReceiverKind, ReceiverSettings


def render(event: AlertEvent, receiver: ReceiverSettings,
           grafana_url: str | None) -> dict[str, Any]:
    return cloudevent(event)


KIND = ReceiverKind("webhook", (URL, SIGNING_SECRET), render, signed_request)
