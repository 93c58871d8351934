"""Alerting end to end: a worker, real HTTP receivers, the broker's retrain topic.

A stream drifts on ``amount`` for two windows, then returns to normal. The rule
``amount-drift`` (PSI above 0.25, resolve below 0.1) must fire once and resolve
once: Slack gets both messages, PagerDuty a trigger then a resolve with the same
``dedup_key``, the deployer one signed retrain request, and the retrain topic one
record with the same idempotency key; the transitions are stored once each.

A second run kills the worker with SIGKILL while a receiver holds its first
request open, then starts it again: every outbox row ends delivered, every
idempotency key reaches its receiver (the interrupted one possibly twice, as
at-least-once delivery allows), and no alert or retrain request is created twice.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from store.alerts import list_transitions
from store.engine import make_engine
from store.outbox import list_outbox
from streams.devtools.broker import EmbeddedBroker
from streams.devtools.simulator import Simulator
from tests.integration.event_stream import first_event_time, produce
from tests.integration.worker_harness import RATE, WINDOW, Worker, wait_for

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
    """Records every request to one path and answers 200.

    With an armed ``gate``, the first request of all receivers sharing it is
    recorded and then held open until the gate's ``release`` is set.
    """

    def __init__(self, gate: Gate | None = None) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.gate = gate

    def __call__(self, request: Request) -> Response:
        self.requests.append(({k.lower(): v for k, v in request.headers.items()},
                              request.get_data()))
        if self.gate is not None:
            self.gate.hold(self)
        return Response("ok", status=200)

    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(body) for _, body in self.requests]


class Gate:
    """Once ``armed``, holds the first request until ``release`` is set (``held``: its receiver)."""

    def __init__(self) -> None:
        self.armed = False
        self.entered = threading.Event()
        self.release = threading.Event()
        self.held: Receiver | None = None
        self._lock = threading.Lock()

    def hold(self, receiver: Receiver) -> None:
        with self._lock:
            if not self.armed or self.entered.is_set():
                return
            self.held = receiver
            self.entered.set()
        if not self.release.wait(60):
            raise AssertionError("the held request was never released")


@pytest.fixture
def gate() -> Iterator[Gate]:
    held = Gate()
    yield held
    held.release.set()  # never leave the server's thread waiting


@pytest.fixture
def receivers(httpserver: HTTPServer, gate: Gate) -> dict[str, Receiver]:
    found = {name: Receiver(gate) for name in ("slack", "pagerduty", "deployer")}
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
    slack: {{type: slack, url: "{base}slack", timeout: 2s}}
    pagerduty: {{type: pagerduty, url: "{base}pagerduty", routing_key_env: TEST_PD_ROUTING_KEY,
                timeout: 2s}}
    deployer: {{type: deployer, url: "{base}deployer", signing_secret_env: TEST_DEPLOYER_SECRET,
               timeout: 2s}}
  rules:
    - name: amount-drift
      metric: feature.psi
      above: 0.25
      resolve_below: 0.1
      features: [amount]
      severity: critical
      receivers: [slack, pagerduty]
      retrain: true
    - name: never
      metric: feature.psi
      above: 1000
      severity: warning
      receivers: [slack]
  dispatch: {{base_delay: 100ms, max_delay: 1s, poll_interval: 200ms, lease: 3s}}
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
    quiet = {f'driftline_alerts_firing{{model="fraud",severity="{s}"}} 0.0'
             for s in ("critical", "warning")}  # resolved, and never fired
    wait_for(lambda: quiet <= set(worker.metrics().splitlines()), 30,
             "the firing gauges at 0")


def stored(database_url: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The fraud model's alert transitions and every outbox row."""
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            return list_transitions(conn, "fraud"), list_outbox(conn)
    finally:
        engine.dispose()


def received_keys(receivers: dict[str, Receiver],
                  rows: list[dict[str, Any]]) -> dict[str, list[str]]:
    """The idempotency key of the outbox row behind every request, per receiver, in order.

    Slack and PagerDuty bodies carry no key of ours: a request is matched to the row
    whose payload it is (PagerDuty's routing key is added at send time).
    """
    def key(name: str, headers: dict[str, str], body: bytes) -> str:
        if name == "deployer":
            return headers["webhook-id"]
        sent = json.loads(body)
        sent.pop("routing_key", None)
        (found,) = [r["idempotency_key"] for r in rows
                    if r["receiver"] == name and r["payload"] == sent]
        return str(found)
    return {name: [key(name, h, b) for h, b in r.requests] for name, r in receivers.items()}


def test_a_worker_killed_during_dispatch_loses_nothing_after_restart(
        worker: Worker, broker: EmbeddedBroker, database_url: str,
        receivers: dict[str, Receiver], gate: Gate) -> None:
    gate.armed = True
    worker.start()
    produce(broker.bootstrap, worker.topics["predictions"], stream())
    assert gate.entered.wait(90), "no notification was sent"
    worker.stop(signal.SIGKILL)  # mid-request: the receiver has it, the worker never hears back
    in_flight = {(row["receiver"], row["idempotency_key"]) for row in stored(database_url)[1]
                 if row["status"] == "pending" and row["claimed_until"] is not None}
    gate.release.set()
    assert in_flight, "no row was being sent at the kill"

    worker.start()
    wait_for(lambda: len(rows := stored(database_url)[1]) >= 6
             and all(row["status"] == "delivered" for row in rows), 120,
             "every outbox row delivered after the restart")
    transitions, rows = stored(database_url)
    assert [(t["rule"], t["status"], t["episode"]) for t in transitions] == [
        ("amount-drift", "firing", 1), ("amount-drift", "resolved", 1)]
    # firing + resolved at Slack and PagerDuty, one retrain to the deployer and the topic
    assert sorted(row["receiver"] for row in rows) == sorted(
        ["slack", "slack", "pagerduty", "pagerduty", "deployer",
         f"topic:{worker.topics['retrain']}"])

    keys = received_keys(receivers, rows)
    for name in ("slack", "pagerduty", "deployer"):
        expected = {row["idempotency_key"] for row in rows if row["receiver"] == name}
        assert set(keys[name]) == expected, name
        repeats = {(name, k) for k in keys[name] if keys[name].count(k) > 1}
        # only a row claimed when the worker died may be sent a second time, once
        assert repeats <= in_flight, (name, repeats, in_flight)
        assert all(keys[name].count(k) <= 2 for _, k in repeats), name
    pagerduty = [json.loads(body)["event_action"] for _, body in receivers["pagerduty"].requests]
    assert list(dict.fromkeys(pagerduty)) == ["trigger", "resolve"]
    records = asyncio.run(retrain_records(broker.bootstrap, worker.topics["retrain"], 1))
    assert {json.loads(r.value)["id"] for r in records} == set(keys["deployer"])
