"""The worker's web pages through their real handlers: only three pages, health and readiness.

The ingest service runs its real rebalance steps and consume loop against a fake
consumer; the pages are requested over HTTP from the Faust web server's aiohttp
application.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import faust
import mode
import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer
from aiokafka import TopicPartition
from prometheus_client import CollectorRegistry

from store import make_engine, upgrade
from streams.app.web import add_pages
from streams.app.worker import IngestService
from streams.app.worker_app import WorkerApp
from streams.config.settings import load_settings
from streams.ingest.service import Ingest
from streams.runtime.health import Health
from streams.runtime.metrics import Metrics

FAUST_PAGES = ("/", "/router/", "/router/topics", "/table/", "/table/t/", "/assignment/",
               "/graph/", "/performance/")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class StopLoopError(Exception):
    """Ends the consume loop after the fetches the test scripted."""


class FakeConsumer:
    """Partitions behind their high watermark that never hand out a record."""

    def __init__(self, topic: str, fetches: int, clock: Clock) -> None:
        self.topic, self.fetches, self.clock = topic, fetches, clock
        self.held: set[TopicPartition] = set()
        self.seeks: dict[TopicPartition, int] = {}

    async def getmany(self, timeout_ms: int, max_records: int) -> dict[Any, Any]:
        if self.fetches == 0:
            raise StopLoopError
        self.fetches -= 1
        self.clock.now += 30  # each fetch waits out its timeout, for half a minute here
        return {}

    def assignment(self) -> set[TopicPartition]:
        return self.held

    def highwater(self, tp: TopicPartition) -> int:
        return 500

    async def position(self, tp: TopicPartition) -> int:
        return 100

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.seeks[tp] = offset


async def client_of(app: faust.App) -> TestClient[Any, Any]:
    client: TestClient[Any, Any] = TestClient(TestServer(await app.web.wsgi()))
    await client.start_server()
    return client


@pytest_asyncio.fixture
async def worker(tmp_path: Path) -> AsyncIterator[tuple[IngestService, TestClient[Any, Any],
                                                         Clock]]:
    settings = load_settings(None, {"DRIFTLINE_DATABASE_URL": f"sqlite:///{tmp_path / 'd.db'}",
                                    "DRIFTLINE_WORKER__STALL_TIMEOUT": "2m"})
    engine = make_engine(settings.database_url)
    upgrade(engine)
    registry = CollectorRegistry()
    ingest = Ingest(settings, engine, Metrics(registry))
    clock = Clock()
    ingest.health = Health(settings.worker.stall_timeout,
                           settings.worker.store_failure_timeout, clock=clock)
    app = WorkerApp("test-worker", datadir=str(tmp_path / "faust"))
    add_pages(app, registry, ingest.health)
    service = IngestService(ingest)
    client = await client_of(app)
    try:
        yield service, client, clock
    finally:
        await client.close()
        engine.dispose()


@pytest.mark.asyncio
async def test_only_the_three_pages_are_served(
        worker: tuple[IngestService, TestClient[Any, Any], Clock], tmp_path: Path) -> None:
    _, client, _ = worker
    for path in FAUST_PAGES:
        assert (path, (await client.get(path)).status) == (path, 404)
    metrics = await client.get("/metrics")
    assert metrics.status == 200
    assert "driftline_ready" in await metrics.text()
    # What a plain Faust app serves, so the 404s above are the worker's doing.
    plain = faust.App("test-plain", datadir=str(tmp_path / "plain"))
    other = await client_of(plain)
    try:
        assert [(await other.get(p)).status for p in ("/", "/router/", "/table/")] == [200] * 3
    finally:
        await other.close()


def ready_gauge(service: IngestService) -> float:
    """``driftline_ready`` as a scrape reads it."""
    (metric,) = service.ingest.metrics.ready.collect()
    return float(metric.samples[0].value)


@pytest.mark.asyncio
async def test_readyz_follows_assignment_and_revocation(
        worker: tuple[IngestService, TestClient[Any, Any], Clock],
        caplog: pytest.LogCaptureFixture) -> None:
    service, client, clock = worker
    caplog.set_level(logging.INFO, logger="streams.app.worker")
    service.consumer = FakeConsumer(service.ingest.topic, 0, clock)
    answer = await client.get("/readyz")
    assert (answer.status, await answer.json()) == (
        503, {"ready": False, "partitions": [], "problems": []})
    await service.assign([0, 1])
    answer = await client.get("/readyz")
    assert (answer.status, await answer.json()) == (
        200, {"ready": True, "partitions": [0, 1], "problems": []})
    assert ready_gauge(service) == 1
    service.ingest.health.broker_failed("no answer to a metadata request within 3 s")
    answer = await client.get("/readyz")
    assert (answer.status, (await answer.json())["problems"]) == (
        503, ["broker unreachable for 0 s: no answer to a metadata request within 3 s"])
    assert ready_gauge(service) == 0
    service.ingest.health.broker_ok()
    assert (await client.get("/readyz")).status == 200
    assert ready_gauge(service) == 1
    await service.release([0, 1])  # revoked ...
    await service.assign([])  # ... and not reassigned
    answer = await client.get("/readyz")
    assert (answer.status, await answer.json()) == (
        503, {"ready": False, "partitions": [], "problems": []})
    assert ready_gauge(service) == 0
    assert [r.__dict__["event"] for r in caplog.records] == [
        "ready", "partitions_revoked", "not_ready"]


@pytest.mark.asyncio
async def test_healthz_fails_when_the_loop_turns_without_progress_while_lagging(
        worker: tuple[IngestService, TestClient[Any, Any], Clock]) -> None:
    service, client, clock = worker
    consumer = FakeConsumer(service.ingest.topic, 5, clock)
    service.consumer = consumer
    await service.assign([0])
    consumer.held = {TopicPartition(service.ingest.topic, 0)}
    assert (await client.get("/healthz")).status == 200
    with pytest.raises(StopLoopError):
        await IngestService._consume(service)  # five empty fetches, 400 messages behind
    answer = await client.get("/healthz")
    body = await answer.json()
    assert answer.status == 503
    assert body["status"] == "stuck"
    assert body["problems"] == ["no ingest progress for 150 s (limit 120 s)"]


@pytest.mark.asyncio
async def test_healthz_stays_ok_while_idle(
        worker: tuple[IngestService, TestClient[Any, Any], Clock]) -> None:
    service, client, clock = worker
    consumer = FakeConsumer(service.ingest.topic, 10, clock)  # five minutes of empty fetches
    service.consumer = consumer
    await service.assign([0])  # held, but not behind: nothing to read
    with pytest.raises(StopLoopError):
        await IngestService._consume(service)
    answer = await client.get("/healthz")
    assert (answer.status, (await answer.json())["status"]) == (200, "ok")


class Probe(mode.Service):
    """A service that counts its starts."""

    starts = 0

    async def on_start(self) -> None:
        Probe.starts += 1


@pytest.mark.asyncio
async def test_a_service_whose_turn_comes_after_the_stop_is_not_started(tmp_path: Path) -> None:
    app = WorkerApp("test-stopping", datadir=str(tmp_path / "faust"))
    app._started.set()  # a running app starts an extra service at once
    first = await app.on_init_extra_service(Probe)
    assert Probe.starts == 1
    app._stopped.set()  # what App.stop sets first (mode.Service.stop)
    late = await app.on_init_extra_service(Probe)
    assert isinstance(late, Probe)
    assert Probe.starts == 1
    assert not late._started.is_set()
    await first.stop()
