"""The request shapes the HTTP receiver types share: plain JSON and signed CloudEvents.

Decisions:

- A body is compact JSON with sorted keys (``compact_json``), so a retry sends
  the same bytes.
- A signed request (webhook, deployer) is ``application/cloudevents+json`` with the
  Standard Webhooks headers computed per attempt: a fresh timestamp each time, the
  same ``webhook-id`` (the row's idempotency key).
- Errors name the receiver, never a secret.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from alerting import signing
from alerting.receivers import ReceiverSettings, Request
from store.outbox import OutboxRow

CLOUDEVENTS = "application/cloudevents+json"


def compact_json(payload: Mapping[str, Any]) -> bytes:
    """The body of a request: compact JSON, sorted keys, UTF-8."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode()


def json_request(payload: Mapping[str, Any], receiver: ReceiverSettings) -> Request:
    """``payload`` as JSON to the receiver's URL."""
    return receiver.url.reveal(), compact_json(payload), {"content-type": "application/json"}


def signed_request(row: OutboxRow, receiver: ReceiverSettings, now: float) -> Request:
    """The stored CloudEvent, signed with the receiver's ``signing_secret``."""
    if receiver.signing_secret is None:
        raise ValueError(f"receiver {row.receiver!r} has no signing_secret")
    body = compact_json(row.payload)
    headers = {"content-type": CLOUDEVENTS}
    headers.update(signing.headers(receiver.signing_secret.reveal(),
                                   msg_id=row.idempotency_key, body=body, now=now))
    return receiver.url.reveal(), body, headers
