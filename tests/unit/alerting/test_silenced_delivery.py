"""Silenced alert instances through the rule engine, the outbox and a real HTTP receiver.

A silenced firing reaches no receiver and neither does the resolve of its
episode; a firing told before the silence still gets its resolve, which closes
the incident at the receiver (``store.silences``, ``alerting.apply``).
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import aiohttp
import pytest
from pytest_httpserver import HTTPServer
from sqlalchemy.engine import Engine

from alerting.apply import apply_facts
from alerting.dispatcher import Dispatcher, Transport
from alerting.http import HttpTransport
from alerting.model import AlertEvent
from alerting.receivers import DispatchSettings
from alerting.settings import AlertingSettings, parse_alerting
from store import make_engine, upgrade
from store.alerts import list_outbox, load_alert_states
from store.silences import Instance, get_silence, lift, silence

from .streams import T0, psi_facts

HOUR = timedelta(hours=1)
SIGNING = "whsec_" + base64.b64encode(b"driftline-test-signing-key-32byt").decode()
INSTANCE = Instance("psi-high", "fraud", "3", "amount")


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'silenced.db'}")
    upgrade(engine)
    yield engine
    engine.dispose()


def _settings(httpserver: HTTPServer) -> AlertingSettings:
    return parse_alerting({
        "receivers": {"hook": {"type": "webhook", "url": httpserver.url_for("/hook"),
                           "signing_secret": SIGNING}},
        "rules": [{"name": "psi-high", "metric": "feature.psi", "above": 0.25,
                   "receivers": ["hook"]}],
    }, {})


def _window(engine: Engine, settings: AlertingSettings, index: int, psi: float,
            at_hours: float) -> list[AlertEvent]:
    with engine.begin() as conn:
        return apply_facts(conn, settings, psi_facts(index, psi), T0 + at_hours * HOUR,
                           "driftline.retrain")


async def _dispatch(engine: Engine, settings: AlertingSettings) -> int:
    async with aiohttp.ClientSession() as session:
        transport = HttpTransport(settings.receivers, session)

        def transport_for(name: str) -> Transport | None:
            return transport if transport.serves(name) else None

        return await Dispatcher(engine, transport_for, DispatchSettings()).run_once()


def _told(httpserver: HTTPServer) -> list[tuple[str, int]]:
    bodies = [request.get_json() for request, _ in httpserver.log]
    events = [body.get("data", body) for body in bodies]
    return [(event["status"], event["episode"]) for event in events]


@pytest.mark.asyncio
async def test_a_silenced_episode_reaches_no_receiver_and_still_resolves(
        engine: Engine, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    settings = _settings(httpserver)
    with engine.begin() as conn:
        silence(conn, "oncall", INSTANCE, T0 + 2 * HOUR, "known rollout", now=T0)
    fired = _window(engine, settings, 0, 0.9, at_hours=1)
    assert [(e.status, e.episode) for e in fired] == [("firing", 1)]
    assert await _dispatch(engine, settings) == 0
    resolved = _window(engine, settings, 1, 0.0, at_hours=3)  # after the silence ended
    assert [(e.status, e.episode) for e in resolved] == [("resolved", 1)]
    assert await _dispatch(engine, settings) == 0
    with engine.connect() as conn:
        assert list_outbox(conn) == []
        state = load_alert_states(conn, "fraud", "3")[("psi-high", "fraud", "3", "amount")]
        stored = get_silence(conn, INSTANCE)
    assert state.status == "resolved"  # the state machine moved as always
    assert stored is not None
    assert stored.suppressed_episode == 1
    assert httpserver.log == []


@pytest.mark.asyncio
async def test_a_firing_told_before_the_silence_gets_its_resolve(
        engine: Engine, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    settings = _settings(httpserver)
    _window(engine, settings, 0, 0.9, at_hours=0)
    assert await _dispatch(engine, settings) == 1
    with engine.begin() as conn:
        silence(conn, "oncall", INSTANCE, T0 + 5 * HOUR, "we know", now=T0 + HOUR)
    _window(engine, settings, 1, 0.0, at_hours=2)  # resolves while silenced
    assert await _dispatch(engine, settings) == 1
    assert _told(httpserver) == [("firing", 1), ("resolved", 1)]
    _window(engine, settings, 2, 0.9, at_hours=3)  # episode 2, silenced
    assert await _dispatch(engine, settings) == 0
    with engine.begin() as conn:
        lift(conn, "oncall", INSTANCE, now=T0 + 4 * HOUR)
    _window(engine, settings, 3, 0.0, at_hours=4)  # its resolve: never told of it
    _window(engine, settings, 4, 0.9, at_hours=5)  # episode 3, no silence: told
    assert await _dispatch(engine, settings) == 1
    assert _told(httpserver) == [("firing", 1), ("resolved", 1), ("firing", 3)]
