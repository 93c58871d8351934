"""The receiver registry: a type registered in ``alerting.kinds.REGISTRY`` (here the
test-only ``echo`` of ``echo_kind.py``, added with ``monkeypatch`` and no other change)
is parsed, validated, described in the JSON Schema, enqueued and delivered through
the dispatcher to a real HTTP server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import jsonschema
import pytest
from pytest_httpserver import HTTPServer
from sqlalchemy.engine import Engine

from alerting import kinds
from alerting.apply import apply_silence
from alerting.config import parse_receivers
from alerting.dispatcher import Dispatcher, Transport
from alerting.http import HttpTransport
from alerting.model import AlertingConfigError
from alerting.receivers import URL, DispatchSettings, ReceiverKind, ReceiverSettings, Secret
from alerting.settings import parse_alerting
from store import make_engine, upgrade
from store.alerts import list_outbox
from streams.config.schema_alerting import alerting_schema
from tests.unit.alerting import echo_kind

T0 = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
TOKEN = "tok_s3cr3t"


@pytest.fixture
def echo(monkeypatch: pytest.MonkeyPatch) -> ReceiverKind:
    monkeypatch.setitem(kinds.REGISTRY, "echo", echo_kind.KIND)
    return echo_kind.KIND


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'k.db'}")
    upgrade(engine)
    yield engine
    engine.dispose()


def test_the_registry_lists_the_built_in_types() -> None:
    assert kinds.receiver_types() == ("slack", "pagerduty", "webhook", "deployer")
    assert kinds.outbox_kinds() == ("slack", "pagerduty", "webhook", "deployer", "topic")
    assert all(name == kind.name for name, kind in kinds.REGISTRY.items())


def test_enqueue_refuses_a_kind_not_registered(engine: Engine) -> None:
    with pytest.raises(ValueError, match=r"kind must be one of slack, pagerduty, webhook, "
                                         r"deployer, topic, got 'sms'"), engine.begin() as conn:
        kinds.enqueue(conn, "ops", "sms", "k", {}, T0)


def test_a_receiver_of_a_type_not_registered_is_named() -> None:
    receiver = ReceiverSettings("x", "sms", Secret("https://sms.example/in"))
    with pytest.raises(ValueError, match="receiver 'x' has type 'sms', which is not one of "
                                         "slack, pagerduty, webhook, deployer"):
        kinds.kind_of(receiver)


def test_a_type_must_have_a_url() -> None:
    with pytest.raises(ValueError, match="needs a url key"):
        ReceiverKind("bad", (echo_kind.TOKEN,), echo_kind.render, echo_kind.request)
    ReceiverKind("good", (URL,), echo_kind.render, echo_kind.request)


def test_a_registered_type_is_parsed_with_its_own_secret_key(echo: ReceiverKind) -> None:
    receivers = parse_receivers({"e": {"type": "echo", "url": "https://echo.example/in",
                                       "token_env": "ECHO_TOKEN", "timeout": "2s"}},
                                {"ECHO_TOKEN": TOKEN})
    receiver = receivers["e"]
    assert (receiver.type, receiver.url.reveal(), receiver.timeout) == (
        "echo", "https://echo.example/in", 2.0)
    assert receiver.secrets["token"].reveal() == TOKEN
    assert TOKEN not in repr(receiver)


@pytest.mark.parametrize(("body", "message"), [
    ({"type": "echo", "url": "https://e.example"},
     "x: missing token (give token, token_env or token_file)"),
    ({"type": "echo", "url": "https://e.example", "token": "nope"},
     "x.token: must start with 'tok_' (value not shown)"),
    ({"type": "echo", "url": "ftp://e.example", "token": TOKEN},
     "x.url: must be an http(s) URL with a host, got ftp://e.example"),
    ({"type": "echo", "url": "https://e.example", "token": TOKEN, "routing_key": "r"},
     "x: unknown key 'routing_key' for a echo receiver (allowed: type, timeout, url, url_env, "
     "url_file, token, token_env, token_file)"),
    ({"type": "teams"},
     "x.type: must be one of slack, pagerduty, webhook, deployer, echo, got 'teams'"),
])
def test_a_registered_type_is_validated(echo: ReceiverKind, body: dict[str, Any],
                                        message: str) -> None:
    with pytest.raises(AlertingConfigError) as error:
        parse_receivers({"x": body}, {}, path="a")
    assert str(error.value) == "a." + message


def test_a_registered_type_is_in_the_json_schema(echo: ReceiverKind) -> None:
    schema = alerting_schema()
    validator = jsonschema.Draft202012Validator(schema)
    receivers = schema["properties"]["receivers"]["additionalProperties"]
    assert "echo" in receivers["properties"]["type"]["enum"]
    good = {"receivers": {"e": {"type": "echo", "url": "https://e.example", "token_env": "T"}}}
    assert list(validator.iter_errors(good)) == []
    for bad in ({"type": "echo", "url": "https://e.example"},
                {"type": "echo", "url": "https://e.example", "token": "nope"},
                {"type": "echo", "url": "https://e.example", "token": TOKEN, "token_env": "T"}):
        assert list(validator.iter_errors({"receivers": {"e": bad}})) != []


def test_without_registering_it_the_type_is_unknown() -> None:
    with pytest.raises(AlertingConfigError, match="must be one of slack, pagerduty, webhook, "
                                                  "deployer, got 'echo'"):
        parse_receivers({"e": {"type": "echo"}}, {})
    assert "echo" not in json.dumps(alerting_schema())


@pytest.mark.asyncio
async def test_a_registered_type_is_delivered_through_the_dispatcher(
        echo: ReceiverKind, engine: Engine, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/echo", method="POST",
                              headers={"authorization": f"Bearer {TOKEN}"}).respond_with_data("ok")
    settings = parse_alerting({
        "receivers": {"e": {"type": "echo", "url": httpserver.url_for("/echo"),
                            "token_env": "ECHO_TOKEN"}},
        "rules": [{"name": "quiet", "metric": "no_data", "after": "1h", "receivers": ["e"]}],
    }, {"ECHO_TOKEN": TOKEN})
    with engine.begin() as conn:
        events = apply_silence(conn, settings, [("fraud", "7", T0)], T0 + timedelta(hours=2),
                               "driftline.retrain")
    assert [(e.rule, e.status) for e in events] == [("quiet", "firing")]
    with engine.connect() as conn:
        (row,) = list_outbox(conn)
    assert (row["receiver"], row["kind"]) == ("e", "echo")
    assert TOKEN not in json.dumps(row["payload"])

    async with aiohttp.ClientSession() as session:
        transport = HttpTransport(settings.receivers, session)

        def transport_for(name: str) -> Transport | None:
            return transport if transport.serves(name) else None

        outcomes: list[tuple[str, str]] = []
        dispatcher = Dispatcher(engine, transport_for, DispatchSettings(),
                                on_result=lambda r, o: outcomes.append((r, o)))
        assert await dispatcher.run_once() == 1
    assert outcomes == [("e", "delivered")]
    (request, _), = httpserver.log
    assert request.get_json() == {"line": f"firing: {events[0].summary}",
                                  "key": events[0].idempotency_key}
    with engine.connect() as conn:
        assert list_outbox(conn)[0]["status"] == "delivered"
