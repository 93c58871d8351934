"""The outbox dispatcher against real HTTP receivers (pytest-httpserver) and real databases.

SQLite always; PostgreSQL when ``DRIFTLINE_TEST_DATABASE_URL`` is set. Nothing
sleeps to synchronise: tests wait for conditions (requests seen, row states)
with a deadline.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import os
import random
import socket
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from pytest_httpserver import HTTPServer
from sqlalchemy.engine import Engine
from werkzeug import Request, Response

from alerting.dispatcher import Dispatcher, Transport
from alerting.http import HttpTransport
from alerting.receivers import DispatchSettings, ReceiverSettings, Secret
from store import make_engine, upgrade
from store.alerts import claim, enqueue, list_outbox, pending_count
from tests.conftest import schema_url

pytestmark = pytest.mark.integration

FAST = DispatchSettings(max_attempts=10, base_delay=0.05, max_delay=0.2, batch=10, lease=30,
                        poll_interval=0.05)
SIGNING_SECRET = "whsec_" + base64.b64encode(b"driftline-test-signing-key-32byt").decode()
ROUTING_KEY = "R0UT1NGKEY-abcdef0123456789"


@pytest.fixture(params=["sqlite", pytest.param("postgresql")])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A migrated engine: a SQLite file, or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'outbox.db'}")
        upgrade(engine)
        yield engine
        engine.dispose()
        return
    postgres_url: str = request.getfixturevalue("postgres_url")
    with schema_url(postgres_url, "outbox", migrated=True) as url:
        engine = make_engine(url)
        yield engine
        engine.dispose()


@dataclass
class Seen:
    """One request a receiver got, and what it answered."""

    at: float
    path: str
    headers: dict[str, str]
    body: bytes
    status: int


@dataclass
class Receiver:
    """A scripted HTTP receiver: ``answer(path, n)`` gives the response to the n-th request."""

    server: HTTPServer
    answer: Callable[[str, int], Response] = field(
        default=lambda path, n: Response("ok", status=200))
    seen: list[Seen] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def handle(self, request: Request) -> Response:
        with self.lock:
            n = sum(1 for s in self.seen if s.path == request.path)
            response = self.answer(request.path, n)
            self.seen.append(Seen(time.time(), request.path,
                                  {k.lower(): v for k, v in request.headers.items()},
                                  request.get_data(), response.status_code))
        return response

    def serve(self, path: str) -> str:
        self.server.expect_request(path, method="POST").respond_with_handler(self.handle)
        return self.server.url_for(path)

    def requests(self, path: str | None = None, status: int | None = None) -> list[Seen]:
        with self.lock:
            return [s for s in self.seen
                    if (path is None or s.path == path) and (status is None or s.status == status)]


@pytest.fixture
def receiver(httpserver: HTTPServer) -> Receiver:
    return Receiver(httpserver)


async def wait_until(condition: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        await asyncio.sleep(0.01)


@asynccontextmanager
async def running(*dispatchers: Dispatcher) -> AsyncIterator[None]:
    stop = asyncio.Event()
    tasks = [asyncio.create_task(d.run(stop)) for d in dispatchers]
    try:
        yield
    finally:
        stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks), 10)


def put(engine: Engine, receiver: str, kind: str, keys: list[str],
        payload: Callable[[str], dict[str, Any]] = lambda key: {"id": key},
        ordering_key: str | None = None) -> None:
    now = datetime.now(UTC)
    with engine.begin() as conn:
        for key in keys:
            assert enqueue(conn, receiver, kind, key, payload(key), now,
                           ordering_key=ordering_key)


def rows(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return list_outbox(conn)


def nothing_pending(engine: Engine) -> Callable[[], bool]:
    def check() -> bool:
        with engine.connect() as conn:
            return pending_count(conn) == 0
    return check


class Outcomes:
    def __init__(self) -> None:
        self.items: list[tuple[str, str]] = []

    def __call__(self, receiver: str, outcome: str) -> None:
        self.items.append((receiver, outcome))

    def of(self, receiver: str) -> list[str]:
        return [o for r, o in self.items if r == receiver]


def dispatcher(engine: Engine, transport: HttpTransport, settings: DispatchSettings = FAST,
               on_result: Outcomes | None = None, **kwargs: Any) -> Dispatcher:
    def transport_for(name: str) -> Transport | None:
        return transport if transport.serves(name) else None
    return Dispatcher(engine, transport_for, settings, on_result=on_result,
                      rng=random.Random(7), **kwargs)


def webhook(name: str, url: str, kind: str = "webhook") -> ReceiverSettings:
    return ReceiverSettings(name=name, type=kind,
                            url=Secret(url), signing_secret=Secret(SIGNING_SECRET), timeout=5)


@pytest.mark.asyncio
async def test_slack_429_with_retry_after_then_delivered_once(
        engine: Engine, receiver: Receiver) -> None:
    path = "/services/T000/B000/SLACKSECRETPATH"
    receiver.answer = lambda p, n: (Response("slow down", status=429, headers={"Retry-After": "1"})
                                    if n == 0 else Response("ok"))
    url = receiver.serve(path)
    outcomes = Outcomes()
    put(engine, "ops-slack", "slack", ["drift/fraud/7/amount/1/firing"],
        payload=lambda key: {"text": ":red_circle: amount drifted"})
    async with aiohttp.ClientSession() as session:
        transport = HttpTransport({"ops-slack": ReceiverSettings(
            name="ops-slack", type="slack", url=Secret(url))}, session)
        async with running(dispatcher(engine, transport, on_result=outcomes)):
            await wait_until(lambda: len(outcomes.items) == 2)
    first, second = receiver.requests()
    assert (first.status, second.status) == (429, 200)
    assert second.at - first.at >= 1.0
    assert json.loads(second.body) == {"text": ":red_circle: amount drifted"}
    assert len(receiver.requests(status=200)) == 1
    assert outcomes.of("ops-slack") == ["retry", "delivered"]
    [row] = rows(engine)
    assert (row["status"], row["attempts"]) == ("delivered", 2)
    assert row["last_error"] == "receiver 'ops-slack': HTTP 429"


@pytest.mark.asyncio
async def test_pagerduty_trigger_then_resolve_in_order_with_the_key_added_at_send(
        engine: Engine, receiver: Receiver) -> None:
    dedup = "drift/fraud/7/amount/1"
    # the trigger fails once: the resolve must still not overtake it
    receiver.answer = lambda p, n: Response("busy", status=503) if n == 0 else Response(
        '{"status":"success"}', status=202)
    url = receiver.serve("/v2/enqueue")
    put(engine, "pd", "pagerduty", [f"{dedup}/trigger", f"{dedup}/resolve"],
        ordering_key=dedup,
        payload=lambda key: {"event_action": key.rsplit("/", 1)[1], "dedup_key": dedup,
                             "payload": {"summary": "amount drifted"}})
    async with aiohttp.ClientSession() as session:
        transport = HttpTransport({"pd": ReceiverSettings(
            name="pd", type="pagerduty", url=Secret(url), routing_key=Secret(ROUTING_KEY))},
            session)
        async with running(dispatcher(engine, transport)):
            await wait_until(nothing_pending(engine))
    bodies = [json.loads(s.body) for s in receiver.requests()]
    assert [(b["event_action"], s.status) for b, s in zip(bodies, receiver.requests(),
                                                          strict=True)] == [
        ("trigger", 503), ("trigger", 202), ("resolve", 202)]
    assert {b["dedup_key"] for b in bodies} == {dedup}
    assert all(b["routing_key"] == ROUTING_KEY for b in bodies)
    stored = rows(engine)
    assert [r["status"] for r in stored] == ["delivered", "delivered"]
    assert ROUTING_KEY not in repr(stored)
    assert all("routing_key" not in r["payload"] for r in stored)


@pytest.mark.asyncio
async def test_every_row_is_delivered_after_an_outage(
        engine: Engine, receiver: Receiver) -> None:
    outage = threading.Event()
    outage.set()
    receiver.answer = lambda p, n: Response("down", status=503) if outage.is_set() else Response(
        "ok")
    url = receiver.serve("/hook")
    keys = [f"event-{i}" for i in range(12)]
    put(engine, "hook", "webhook", keys)
    outcomes = Outcomes()
    settings = DispatchSettings(max_attempts=1000, base_delay=0.02, max_delay=0.1, batch=5,
                                lease=30, poll_interval=0.05)
    async with aiohttp.ClientSession() as session:
        transport = HttpTransport({"hook": webhook("hook", url)}, session)
        async with running(dispatcher(engine, transport, settings, outcomes)):
            # every key has failed at least twice before the receiver comes back
            await wait_until(lambda: all(
                n >= 2 for n in Counter(s.headers["webhook-id"]
                                        for s in receiver.requests(status=503)).values())
                and len({s.headers["webhook-id"] for s in receiver.requests()}) == len(keys))
            outage.clear()
            await wait_until(nothing_pending(engine))
    received = {s.headers["webhook-id"] for s in receiver.requests(status=200)}
    assert received == set(keys)
    assert [r["status"] for r in rows(engine)] == ["delivered"] * len(keys)
    assert Counter(outcomes.of("hook"))["delivered"] == len(keys)
    assert Counter(outcomes.of("hook"))["retry"] >= 2 * len(keys)


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.asyncio
async def test_exhausted_retries_and_bad_requests_are_dead_letters(
        engine: Engine, receiver: Receiver) -> None:
    receiver.answer = lambda p, n: Response("no", status=503 if p == "/down" else 400)
    down = receiver.serve("/down")
    bad = receiver.serve("/bad")
    gone = f"http://127.0.0.1:{closed_port()}/hooks/SECRETPATH?token=SECRETQUERY"
    for name in ("down", "bad", "gone"):
        put(engine, name, "webhook", [f"{name}-1"])
    put(engine, "nobody", "webhook", ["nobody-1"])
    outcomes = Outcomes()
    settings = DispatchSettings(max_attempts=3, base_delay=0.01, max_delay=0.05, batch=10,
                                lease=30, poll_interval=0.05)
    async with aiohttp.ClientSession() as session:
        transport = HttpTransport({"down": webhook("down", down), "bad": webhook("bad", bad),
                                   "gone": webhook("gone", gone)}, session)
        async with running(dispatcher(engine, transport, settings, outcomes)):
            await wait_until(nothing_pending(engine))
    assert outcomes.of("down") == ["retry", "retry", "dead_letter"]
    assert outcomes.of("gone") == ["retry", "retry", "dead_letter"]
    assert outcomes.of("bad") == ["dead_letter"]
    assert outcomes.of("nobody") == ["dead_letter"]
    assert len(receiver.requests("/down")) == 3
    assert len(receiver.requests("/bad")) == 1
    errors = {r["receiver"]: (r["status"], r["attempts"], r["last_error"]) for r in rows(engine)}
    assert errors["down"] == ("dead", 3, "receiver 'down': HTTP 503; gave up after 3 attempts")
    assert errors["bad"] == ("dead", 1, "receiver 'bad': HTTP 400")
    assert errors["nobody"] == ("dead", 1, "receiver 'nobody' is not configured")
    assert errors["gone"][:2] == ("dead", 3)
    assert errors["gone"][2].startswith("receiver 'gone': ")
    for secret in ("SECRETPATH", "SECRETQUERY", "/hooks", "127.0.0.1"):
        assert secret not in errors["gone"][2]


def independent_verify(secret: str, headers: dict[str, str], body: bytes, now: float,
                       tolerance: int = 300) -> bool:
    """Standard Webhooks verification written from the spec, not with alerting.signing."""
    key = base64.b64decode(secret[len("whsec_"):])
    msg_id, timestamp = headers["webhook-id"], headers["webhook-timestamp"]
    if abs(now - int(timestamp)) > tolerance:
        return False
    signed = f"{msg_id}.{timestamp}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    for part in headers["webhook-signature"].split(" "):
        version, _, value = part.partition(",")
        if version == "v1" and hmac.compare_digest(value, expected):
            return True
    return False


@pytest.mark.asyncio
async def test_webhook_signature_verifies_independently_and_is_fresh_per_attempt(
        engine: Engine, receiver: Receiver) -> None:
    receiver.answer = lambda p, n: (Response("later", status=503, headers={"Retry-After": "1"})
                                    if n == 0 else Response("ok"))
    url = receiver.serve("/deploy")
    event = {"specversion": "1.0", "id": "retrain/fraud/7/1", "type": "io.driftline.retrain",
             "source": "driftline", "data": {"model_id": "fraud", "évidence": [0.3, None]}}
    put(engine, "deployer", "deployer", ["retrain/fraud/7/1"], payload=lambda key: event)
    async with aiohttp.ClientSession() as session:
        transport = HttpTransport({"deployer": webhook("deployer", url, "deployer")}, session)
        async with running(dispatcher(engine, transport)):
            await wait_until(nothing_pending(engine))
    attempts = receiver.requests()
    assert [s.status for s in attempts] == [503, 200]
    for seen in attempts:
        assert seen.headers["content-type"] == "application/cloudevents+json"
        assert seen.headers["webhook-id"] == "retrain/fraud/7/1"
        assert json.loads(seen.body) == event
        assert seen.body == json.dumps(event, sort_keys=True, separators=(",", ":"),
                                       ensure_ascii=False).encode()
        assert independent_verify(SIGNING_SECRET, seen.headers, seen.body, seen.at)
        assert not independent_verify(SIGNING_SECRET, seen.headers, seen.body + b" ", seen.at)
        other = "whsec_" + base64.b64encode(b"another-key-another-key-32bytes!").decode()
        assert not independent_verify(other, seen.headers, seen.body, seen.at)
    first, second = (int(s.headers["webhook-timestamp"]) for s in attempts)
    assert second > first  # signed again at the second attempt


@pytest.mark.asyncio
async def test_a_vanished_dispatchers_rows_are_delivered_after_their_lease(
        engine: Engine, receiver: Receiver) -> None:
    url = receiver.serve("/hook")
    put(engine, "hook", "webhook", ["a", "b"])
    with engine.begin() as conn:  # claimed by a dispatcher that then vanished
        assert len(claim(conn, datetime.now(UTC), limit=10, lease=30)) == 2
    async with aiohttp.ClientSession() as session:
        transport = HttpTransport({"hook": webhook("hook", url)}, session)
        assert await dispatcher(engine, transport).run_once() == 0  # still leased
        assert receiver.requests() == []
        later = dispatcher(engine, transport, clock=lambda: time.time() + 31)
        assert await later.run_once() == 2
    assert sorted(s.headers["webhook-id"] for s in receiver.requests()) == ["a", "b"]
    assert [r["status"] for r in rows(engine)] == ["delivered", "delivered"]


@pytest.mark.asyncio
async def test_rows_pending_at_shutdown_are_delivered_by_the_next_dispatcher(
        engine: Engine, receiver: Receiver) -> None:
    healthy = threading.Event()
    receiver.answer = lambda p, n: Response("ok") if healthy.is_set() else Response(
        "down", status=503)
    url = receiver.serve("/hook")
    keys = [f"k{i}" for i in range(6)]
    put(engine, "hook", "webhook", keys)
    async with aiohttp.ClientSession() as session:
        transport = HttpTransport({"hook": webhook("hook", url)}, session)
        async with running(dispatcher(engine, transport)):
            await wait_until(lambda: len(receiver.requests()) >= len(keys))
        assert {r["status"] for r in rows(engine)} == {"pending"}  # shut down before success
        healthy.set()
        async with running(dispatcher(engine, transport)):
            await wait_until(nothing_pending(engine))
    assert {s.headers["webhook-id"] for s in receiver.requests(status=200)} == set(keys)


@pytest.mark.asyncio
async def test_wake_dispatches_without_waiting_for_the_poll(
        engine: Engine, receiver: Receiver) -> None:
    url = receiver.serve("/hook")
    slow_poll = DispatchSettings(base_delay=0.05, max_delay=0.2, poll_interval=300, lease=30)
    async with aiohttp.ClientSession() as session:
        transport = HttpTransport({"hook": webhook("hook", url)}, session)
        quiet = dispatcher(engine, transport, slow_poll)
        put(engine, "hook", "webhook", ["first"])
        async with running(quiet):
            await wait_until(nothing_pending(engine))  # the first round is done: now idle
            put(engine, "hook", "webhook", ["woken"])
            quiet.wake()
            await wait_until(nothing_pending(engine), timeout=10)
    assert [s.headers["webhook-id"] for s in receiver.requests()] == ["first", "woken"]


@pytest.mark.skipif(not os.environ.get("DRIFTLINE_TEST_DATABASE_URL"),
                    reason="DRIFTLINE_TEST_DATABASE_URL is not set")
@pytest.mark.asyncio
async def test_two_dispatchers_on_postgresql_deliver_each_key_once(
        postgres_url: str, receiver: Receiver) -> None:
    url = receiver.serve("/hook")
    keys = [f"row-{i}" for i in range(60)]
    settings = DispatchSettings(base_delay=0.05, max_delay=0.2, batch=5, lease=30,
                                poll_interval=0.05)
    with schema_url(postgres_url, "outbox", migrated=True) as schema:
        engines = [make_engine(schema), make_engine(schema)]
        try:
            put(engines[0], "hook", "webhook", keys)
            counts = [Outcomes(), Outcomes()]
            async with aiohttp.ClientSession() as session:
                transport = HttpTransport({"hook": webhook("hook", url)}, session)
                both = [dispatcher(e, transport, settings, c)
                        for e, c in zip(engines, counts, strict=True)]
                async with running(*both):
                    await wait_until(nothing_pending(engines[0]))
        finally:
            for engine in engines:
                engine.dispose()
    received = Counter(s.headers["webhook-id"] for s in receiver.requests())
    assert received == Counter(keys)  # each key exactly once
    assert all(c.of("hook") for c in counts), "both dispatchers delivered rows"
    assert sum(len(c.of("hook")) for c in counts) == len(keys)
