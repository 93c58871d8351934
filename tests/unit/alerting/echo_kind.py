"""A receiver type that exists only in tests: ``echo``, added the way a new type is added.

It is this one module (registered by ``test_kinds.py`` with ``monkeypatch``): a
``url`` and a secret key of its own, ``token`` (sent as a bearer token, never
stored in the outbox), and a payload of its own (a one-line text).
"""

from __future__ import annotations

from typing import Any

from alerting.delivery import compact_json
from alerting.model import AlertEvent, AlertingConfigError
from alerting.receivers import URL, ReceiverKind, ReceiverSettings, Request, Secret, SecretKey
from store.outbox import OutboxRow


def check_token(value: str, where: str) -> Secret:
    if not value.startswith("tok_"):
        raise AlertingConfigError(f"{where}: must start with 'tok_' (value not shown)",
                                  where.split(" ")[0])
    return Secret(value)


TOKEN = SecretKey("token", check_token, {"type": "string", "pattern": "^tok_"})


def render(event: AlertEvent, receiver: ReceiverSettings,
           grafana_url: str | None) -> dict[str, Any]:
    return {"line": f"{event.status}: {event.summary}", "key": event.idempotency_key}


def request(row: OutboxRow, receiver: ReceiverSettings, now: float) -> Request:
    token = receiver.secrets["token"].reveal()
    return (receiver.url.reveal(), compact_json(row.payload),
            {"content-type": "application/json", "authorization": f"Bearer {token}"})


KIND = ReceiverKind("echo", (URL, TOKEN), render, request)
