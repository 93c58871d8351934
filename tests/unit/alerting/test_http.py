"""HTTP transport pieces that need no server: Retry-After, status classes, request building."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest

from alerting import signing
from alerting.http import MAX_RETRY_AFTER, HttpTransport, classify, parse_retry_after
from alerting.receivers import ReceiverSettings, Secret
from store.outbox import OutboxRow

NOW = 1_800_000_000.0
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


@pytest.mark.parametrize(("header", "expected"), [
    ("1", 1.0), (" 2.5 ", 2.5), ("0", 0.0), ("-3", 0.0),
    ("Wed, 15 Jan 2027 08:00:30 GMT",
     datetime(2027, 1, 15, 8, 0, 30, tzinfo=UTC).timestamp() - NOW),
    ("Thu, 01 Jan 1970 00:00:00 GMT", 0.0),
    ("99999999999", MAX_RETRY_AFTER),
    ("soon", None), ("", None), ("nan", None), ("inf", None), (None, None),
])
def test_retry_after(header: str | None, expected: float | None) -> None:
    assert parse_retry_after(header, NOW) == expected


@pytest.mark.parametrize(("status", "ok", "retryable"), [
    (200, True, False), (202, True, False), (204, True, False),
    (408, False, True), (429, False, True), (500, False, True), (503, False, True),
    (400, False, False), (401, False, False), (404, False, False), (410, False, False),
    (301, False, False),
])
def test_classify(status: int, ok: bool, retryable: bool) -> None:
    delivery = classify(status, "7", "ops", NOW)
    assert (delivery.ok, delivery.retryable) == (ok, retryable)
    assert delivery.retry_after == (7.0 if retryable else None)
    assert delivery.error == (None if ok else f"receiver 'ops': HTTP {status}")


def _row(receiver: str, kind: str, payload: dict[str, Any]) -> OutboxRow:
    return OutboxRow(id=1, receiver=receiver, kind=kind, idempotency_key="r/m/7/f/1/firing",
                     payload=payload, attempts=0, created_at=datetime.now(UTC))


RECEIVERS = {
    "slack": ReceiverSettings("slack", "slack", Secret("https://hooks.example/T/B/XYZ")),
    "pd": ReceiverSettings("pd", "pagerduty", Secret("https://pd.example/v2/enqueue"),
                           routing_key=Secret("ROUTINGKEY")),
    "hook": ReceiverSettings("hook", "webhook", Secret("https://hook.example/in"),
                             signing_secret=Secret(SECRET)),
    "unsigned": ReceiverSettings("unsigned", "webhook", Secret("https://x.example/in?t=TOKEN")),
}


@pytest.mark.asyncio
async def test_requests_per_receiver_type() -> None:
    async with aiohttp.ClientSession() as session:
        transport = HttpTransport(RECEIVERS, session, clock=lambda: NOW)
        url, body, headers = transport.request(_row("slack", "slack", {"text": "hi"}))
        assert (url, json.loads(body), headers["content-type"]) == (
            "https://hooks.example/T/B/XYZ", {"text": "hi"}, "application/json")
        payload = {"event_action": "trigger", "dedup_key": "d"}
        _, body, _ = transport.request(_row("pd", "pagerduty", payload))
        assert json.loads(body) == payload | {"routing_key": "ROUTINGKEY"}
        assert payload == {"event_action": "trigger", "dedup_key": "d"}  # not changed
        event = {"b": 1, "a": [1.5, None]}
        _, body, headers = transport.request(_row("hook", "webhook", event))
        assert body == b'{"a":[1.5,null],"b":1}'
        assert headers["content-type"] == "application/cloudevents+json"
        assert headers["webhook-id"] == "r/m/7/f/1/firing"
        assert headers["webhook-timestamp"] == str(int(NOW))
        assert signing.verify(SECRET, headers, body, now=NOW)
        assert transport.serves("hook")
        assert not transport.serves("other")


@pytest.mark.asyncio
@pytest.mark.parametrize(("receiver", "kind", "message"), [
    ("other", "webhook", "receiver 'other' is not configured"),
    ("slack", "webhook", "receiver 'slack' is a slack receiver, but the row's kind is 'webhook'"),
    ("unsigned", "webhook", "receiver 'unsigned' has no signing_secret"),
])
async def test_rows_that_cannot_be_sent_are_not_retried(receiver: str, kind: str,
                                                        message: str) -> None:
    async with aiohttp.ClientSession() as session:
        transport = HttpTransport(RECEIVERS, session)
        delivery = await transport.send(_row(receiver, kind, {}))
    assert (delivery.ok, delivery.retryable, delivery.error) == (False, False, message)
