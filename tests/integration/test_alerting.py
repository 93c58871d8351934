"""Alerting end to end: a worker, real HTTP receivers, the broker's retrain topic.

A stream drifts on ``amount`` for two windows, then returns to normal. The rule
``amount-drift`` (PSI above 0.25, resolve below 0.1) must fire once and resolve
once: Slack gets both messages, PagerDuty a trigger then a resolve with the same
``dedup_key``, the deployer one signed retrain request, and the retrain topic one
record with the same idempotency key; the transitions are stored once each.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from store.alerts import list_transitions
from store.engine import make_engine
from streams.broker import EmbeddedBroker
from streams.simulator import Simulator
from tests.integration.test_worker import RATE, WINDOW, Worker, first_event_time, produce, wait_for

pytestmark = pytest.mark.integration
SECRET = "whsec_" + base64.b64encode(b"deployer-test-key-0123456789").decode()
ROUTING_KEY = "pd-routing-key-for-tests"


def verify(headers: dict[str, str], body: bytes) -> bool:
    """Standard Webhooks, written from the spec (not alerting.signing)."""
    key = base64.b64decode(SECRET.removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return any(hmac.compare_digest(f"v1,{expected}", given)
               for given in headers["webhook-signature"].split())


class Receiver:
    """Records every request to one path and answers 200."""

    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []

    def __call__(self, request: Request) -> Response:
        self.requests.append(({k.lower(): v for k, v in request.headers.items()},
                              request.get_data()))
        return Response("ok", status=200)

    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(body) for _, body in self.requests]


@pytest.fixture
def receivers(httpserver: HTTPServer) -> dict[str, Receiver]:
    found = {name: Receiver() for name in ("slack", "pagerduty", "deployer")}
    for name, receiver in found.items():
        httpserver.expect_request(f"/{name}", method="POST").respond_with_handler(receiver)
    return found


@pytest.fixture
def worker(tmp_path: Path, broker: EmbeddedBroker, database_url: str, httpserver: HTTPServer,
           monkeypatch: pytest.MonkeyPatch) -> Iterator[Worker]:
    monkeypatch.setenv("TEST_PD_ROUTING_KEY", ROUTING_KEY)
    monkeypatch.setenv("TEST_DEPLOYER_SECRET", SECRET)
    base = httpserver.url_for("")
    extra = f"""\
alerting:
  grafana_url: http://grafana.test
  receivers:
    slack: {{type: slack, url: "{base}slack"}}
    pagerduty: {{type: pagerduty, url: "{base}pagerduty", routing_key_env: TEST_PD_ROUTING_KEY}}
    deployer: {{type: deployer, url: "{base}deployer", signing_secret_env: TEST_DEPLOYER_SECRET}}
  rules:
    - name: amount-drift
      metric: feature.psi
      above: 0.25
      resolve_below: 0.1
      features: [amount]
      severity: critical
      receivers: [slack, pagerduty]
      retrain: true
  dispatch: {{base_delay: 100ms, max_delay: 1s, poll_interval: 200ms}}
"""
    running = Worker(tmp_path, broker, database_url, extra=extra)
    try:
        yield running
    finally:
        running.stop(signal.SIGKILL)


def stream() -> list[dict[str, Any]]:
    """Windows 0-2 stable, 3-4 shifted, 5-7 stable again (same indices, same times)."""
    per_window = int(WINDOW * RATE)
    start = first_event_time()
    stable = Simulator(seed=11, events_per_second=RATE, shift_at=None, start=start)
    shifted = Simulator(seed=11, events_per_second=RATE, shift_at=0.0, start=start)
    return (list(stable.events(3 * per_window))
            + list(shifted.events(2 * per_window, first=3 * per_window))
            + list(stable.events(3 * per_window, first=5 * per_window)))


async def retrain_records(bootstrap: str, topic: str, want: int) -> list[Any]:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                                group_id=None)
    await consumer.start()
    records: list[Any] = []
    try:
        async with asyncio.timeout(30):
            while len(records) < want:
                batch = await consumer.getmany(timeout_ms=500)
                records += [r for rs in batch.values() for r in rs]
    finally:
        await consumer.stop()
    return records


def test_drift_fires_once_resolves_once_and_asks_for_one_retrain(
        worker: Worker, broker: EmbeddedBroker, database_url: str,
        receivers: dict[str, Receiver]) -> None:
    worker.start()
    produce(broker.bootstrap, worker.topics["predictions"], stream())
    wait_for(lambda: len(receivers["slack"].requests) >= 2
             and len(receivers["pagerduty"].requests) >= 2, 90,
             "the firing and the resolution at Slack and PagerDuty")

    slack = receivers["slack"].bodies()
    assert [":white_check_mark:" in json.dumps(b) for b in slack] == [False, True]
    assert all("amount" in b["text"] for b in slack)

    pagerduty = receivers["pagerduty"].bodies()
    assert [b["event_action"] for b in pagerduty] == ["trigger", "resolve"]
    assert pagerduty[0]["dedup_key"] == pagerduty[1]["dedup_key"]
    assert all(b["routing_key"] == ROUTING_KEY for b in pagerduty)
    assert pagerduty[0]["payload"]["severity"] == "critical"

    wait_for(lambda: len(receivers["deployer"].requests) >= 1, 30, "the retrain request")
    (headers, body), = receivers["deployer"].requests
    assert verify(headers, body)
    request = json.loads(body)
    assert request["type"] == "io.driftline.retrain.requested"
    assert request["data"]["model_id"] == "fraud"
    assert request["data"]["idempotency_key"] == headers["webhook-id"] == request["id"]
    assert request["data"]["evidence"]["drifted_features"][0]["name"] == "amount"

    records = asyncio.run(retrain_records(broker.bootstrap, worker.topics["retrain"], 1))
    assert len(records) == 1
    assert records[0].key == b"fraud"
    assert json.loads(records[0].value)["id"] == request["id"]
    assert verify({k: v.decode() for k, v in records[0].headers}, records[0].value)

    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            transitions = list_transitions(conn, "fraud")
    finally:
        engine.dispose()
    assert [(t["rule"], t["feature"], t["status"], t["episode"]) for t in transitions] == [
        ("amount-drift", "amount", "firing", 1), ("amount-drift", "amount", "resolved", 1)]
    assert worker.metric("driftline_webhook_deliveries_total", outcome="delivered") >= 5
