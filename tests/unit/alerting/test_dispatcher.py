"""Dispatcher decisions with an in-process transport (the HTTP paths are integration tests)."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from alerting.dispatcher import Delivery, Dispatcher, Transport
from alerting.receivers import DispatchSettings
from store import make_engine, upgrade
from store.alerts import enqueue, list_outbox
from store.outbox import OutboxRow

SETTINGS = DispatchSettings(max_attempts=3, base_delay=0.5, max_delay=4.0, batch=10,
                            lease=30, poll_interval=0.05)


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    engine = make_engine(f"sqlite:///{tmp_path / 'd.db'}")
    upgrade(engine)
    return engine


class Scripted:
    """A transport answering from a script; an exception in it is raised."""

    def __init__(self, *answers: Delivery | Exception) -> None:
        self.answers = list(answers)
        self.sent: list[OutboxRow] = []

    async def send(self, row: OutboxRow) -> Delivery:
        self.sent.append(row)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def _only(transport: Transport) -> Callable[[str], Transport | None]:
    return lambda name: transport if name == "hook" else None


def _put(engine: Engine, receiver: str = "hook", key: str = "k") -> None:
    with engine.begin() as conn:
        enqueue(conn, receiver, "webhook", key, {"id": key}, datetime.now(UTC))


def test_delay_is_full_jitter_capped_and_at_least_retry_after(engine: Engine) -> None:
    dispatcher = Dispatcher(engine, _only(Scripted()), SETTINGS, rng=random.Random(11))
    reference = random.Random(11)
    for attempts in range(8):
        cap = min(4.0, 0.5 * 2**attempts)
        assert dispatcher.delay(attempts) == reference.uniform(0.0, cap)
    assert dispatcher.delay(10_000) <= 4.0  # no overflow on a huge attempt count
    assert dispatcher.delay(0, retry_after=30.0) == 30.0


@pytest.mark.parametrize(("name", "value", "allowed"), [
    ("max_attempts", 0, ">= 1"), ("base_delay", -1.0, ">= 0"), ("batch", 0, ">= 1"),
    ("lease", 0.0, "> 0"), ("poll_interval", 0.0, "> 0"),
])
def test_settings_are_checked(engine: Engine, name: str, value: float, allowed: str) -> None:
    changes: dict[str, Any] = {name: value}
    with pytest.raises(ValueError, match=f"dispatch.{name} must be {allowed}, got {value}"):
        Dispatcher(engine, _only(Scripted()), replace(SETTINGS, **changes))


@pytest.mark.asyncio
async def test_a_transport_that_raises_is_retried_and_its_message_not_stored(
        engine: Engine) -> None:
    _put(engine)
    transport = Scripted(RuntimeError("POST https://hooks.example/SECRET failed"),
                         Delivery(ok=True))
    outcomes: list[tuple[str, str]] = []
    now = [time.time()]
    dispatcher = Dispatcher(engine, _only(transport), SETTINGS,
                            on_result=lambda r, o: outcomes.append((r, o)),
                            clock=lambda: now[0])
    assert await dispatcher.run_once() == 1
    with engine.connect() as conn:
        [row] = list_outbox(conn)
    assert (row["status"], row["attempts"]) == ("pending", 1)
    assert row["last_error"] == "receiver 'hook': the send raised RuntimeError"
    now[0] += 10  # past any backoff of the first attempt
    assert await dispatcher.run_once() == 1
    assert outcomes == [("hook", "retry"), ("hook", "delivered")]


@pytest.mark.asyncio
async def test_unknown_receiver_and_a_failing_callback(engine: Engine) -> None:
    _put(engine, receiver="nobody")
    _put(engine, key="k2")

    def broken(receiver: str, outcome: str) -> None:
        raise KeyError(receiver)

    dispatcher = Dispatcher(engine, _only(Scripted(Delivery(ok=True))), SETTINGS,
                            on_result=broken)
    assert await dispatcher.run_once() == 2
    with engine.connect() as conn:
        states = {r["receiver"]: r["status"] for r in list_outbox(conn)}
    assert states == {"nobody": "dead", "hook": "delivered"}


@pytest.mark.asyncio
async def test_run_keeps_going_when_a_round_fails(tmp_path: Path,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="alerting.dispatcher")
    engine = make_engine(f"sqlite:///{tmp_path / 'no-tables.db'}")  # not migrated
    dispatcher = Dispatcher(engine, _only(Scripted()), SETTINGS)
    stop = asyncio.Event()
    task = asyncio.create_task(dispatcher.run(stop))
    deadline = time.monotonic() + 10
    while sum("dispatch round failed" in r.message for r in caplog.records) < 2:
        assert time.monotonic() < deadline, "two failed rounds were expected"
        await asyncio.sleep(0.01)
    stop.set()
    await asyncio.wait_for(task, 5)
    engine.dispose()


@pytest.mark.asyncio
async def test_a_delivery_given_up_logs_one_line_with_the_status_and_no_secret(
        engine: Engine, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="alerting.dispatcher")
    _put(engine)
    _put(engine, key="k2")
    refused = Delivery(ok=False, retryable=False, error="receiver 'hook': HTTP 400", status=400)
    raised = RuntimeError("POST https://hooks.example/SECRET?token=SECRET failed")
    transport = Scripted(refused, raised)
    dispatcher = Dispatcher(engine, _only(transport), replace(SETTINGS, max_attempts=1))
    assert await dispatcher.run_once() == 2
    lines = [r for r in caplog.records if r.__dict__.get("event") == "delivery_given_up"]
    assert sorted(r.getMessage() for r in lines) == [
        "delivery given up: receiver hook, outbox row 1, 1 attempts, last: "
        "receiver 'hook': HTTP 400",
        "delivery given up: receiver hook, outbox row 2, 1 attempts, last: "
        "receiver 'hook': the send raised RuntimeError"]
    by_row = {r.__dict__["row"]: r.__dict__ for r in lines}
    assert (by_row[1]["receiver"], by_row[1]["http_status"]) == ("hook", 400)
    assert (by_row[2]["http_status"], by_row[2]["attempts"]) == (None, 1)
    assert "SECRET" not in caplog.text
    assert all(r.levelno == logging.WARNING for r in lines)
