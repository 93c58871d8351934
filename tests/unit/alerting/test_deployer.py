"""The example deployer's core, checked against a signer written here from the Standard
Webhooks spec (not ``alerting.signing``), and its HTTP endpoint on a real server."""

from __future__ import annotations

import base64
import hashlib
import hmac
import importlib.util
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from alerting.payloads import json_body, retrain_key, retrain_request
from tests.unit.alerting.payload_events import model_event

ROOT = Path(__file__).resolve().parents[3]
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
OTHER_SECRET = "whsec_" + base64.b64encode(b"another key of 24 bytes!").decode()


def load_deployer() -> ModuleType:
    spec = importlib.util.spec_from_file_location("example_deployer",
                                                  ROOT / "examples" / "deployer.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


deployer_module = load_deployer()


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """Standard Webhooks: HMAC-SHA256 over ``id.timestamp.body`` with the base64-decoded
    part of the secret after ``whsec_``; header ``v1,<base64 digest>``."""
    key = base64.b64decode(secret.split("_", 1)[1])
    content = msg_id.encode() + b"." + str(timestamp).encode() + b"." + body
    digest = hmac.new(key, content, hashlib.sha256).digest()
    return {"Webhook-Id": msg_id, "Webhook-Timestamp": str(timestamp),
            "Webhook-Signature": "v1," + base64.b64encode(digest).decode()}


def test_independent_signer_matches_the_spec_example() -> None:
    headers = sign(SECRET, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, b'{"test": 2432232314}')
    assert headers["Webhook-Signature"] == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


class Lines:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def __call__(self, line: str) -> None:
        self.lines.append(line)


def delivery(episode: int = 1) -> tuple[str, bytes]:
    event = model_event(episode=episode)
    key = retrain_key(event)
    return key, json_body(retrain_request(event, key))


def make(secret: str = SECRET) -> tuple[Any, Lines]:
    lines = Lines()
    return deployer_module.Deployer(secret, emit=lines), lines


def test_signed_delivery_is_accepted_and_acted_on_once() -> None:
    deployer, lines = make()
    key, body = delivery()
    now = int(time.time())
    assert deployer.handle(sign(SECRET, key, now, body), body) == (202, "accepted")
    assert lines.lines == [f"retrain requested: model=fraud version=7 key={key} "
                           "reason=fraud v7: drift share 0.6 > 0.5"]
    # a redelivery: a new attempt signs afresh with the same id, and is not acted on again
    assert deployer.handle(sign(SECRET, key, now + 30, body), body, now=now + 30)[0] == 200
    assert len([line for line in lines.lines if line.startswith("retrain requested")]) == 1
    assert lines.lines[-1] == f"duplicate retrain request ignored: key={key}"
    other_key, other_body = delivery(episode=2)
    assert deployer.handle(sign(SECRET, other_key, now, other_body), other_body)[0] == 202
    assert deployer.seen == {key, other_key}


@pytest.mark.parametrize("fault", ["tampered body", "wrong secret", "stale timestamp",
                                   "future timestamp", "missing signature", "other id"])
def test_bad_deliveries_are_refused(fault: str) -> None:
    deployer, lines = make()
    key, body = delivery()
    now = int(time.time())
    secret, stamp, sent, msg_id = SECRET, now, body, key
    if fault == "tampered body":
        sent = body.replace(b'"fraud"', b'"fraue"')
        assert sent != body
    elif fault == "wrong secret":
        secret = OTHER_SECRET
    elif fault == "stale timestamp":
        stamp = now - 301
    elif fault == "future timestamp":
        stamp = now + 301
    elif fault == "other id":
        msg_id = key + "x"
    headers = sign(secret, msg_id, stamp, body)
    if fault == "other id":
        headers["Webhook-Id"] = key
    if fault == "missing signature":
        del headers["Webhook-Signature"]
    assert deployer.handle(headers, sent, now=now)[0] == 401
    assert lines.lines == []
    assert deployer.seen == set()
    # the same delivery, correctly signed and fresh, is accepted (the check can pass)
    assert deployer.handle(sign(SECRET, key, now, body), body, now=now)[0] == 202


def test_topic_records_use_the_wider_tolerance() -> None:
    deployer, _ = make()
    key, body = delivery()
    old = int(time.time()) - 3600
    headers = deployer_module.record_headers(
        [(name, value.encode()) for name, value in sign(SECRET, key, old, body).items()])
    assert deployer.handle(headers, body)[0] == 401
    assert deployer.handle(headers, body, tolerance=deployer_module.TOPIC_TOLERANCE)[0] == 202


def test_signed_garbage_is_a_bad_request() -> None:
    deployer, lines = make()
    now = int(time.time())
    for body in (b"not json", b'{"type": "io.driftline.retrain.requested"}', b"[1]",
                 json_body({"type": "io.other", "data": {"idempotency_key": "k",
                                                         "model_id": "m", "model_version": "1"}})):
        assert deployer.handle(sign(SECRET, "id", now, body), body)[0] == 400
    assert lines.lines == []


def test_a_malformed_secret_fails_at_start() -> None:
    for secret in ("", "whsec_", "whsec_not base64!"):
        with pytest.raises(ValueError, match="secret"):
            deployer_module.Deployer(secret)


@pytest.mark.asyncio
async def test_http_endpoint_answers_with_the_core_status() -> None:
    deployer, lines = make()
    runner = web.AppRunner(deployer_module.make_app(deployer))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    port = runner.addresses[0][1]
    url = f"http://127.0.0.1:{port}/retrain"
    key, body = delivery()
    try:
        async with aiohttp.ClientSession() as session:
            statuses = []
            for secret in (SECRET, SECRET, OTHER_SECRET):
                headers = sign(secret, key, int(time.time()), body)
                async with session.post(url, data=body, headers=headers) as response:
                    statuses.append(response.status)
    finally:
        await runner.cleanup()
    assert statuses == [202, 200, 401]
    assert len(lines.lines) == 2


@pytest.mark.parametrize("stamp", ["1" * 400, "-" + "9" * 40, "1e999", "\u0661" * 10])
def test_a_hostile_timestamp_is_refused_not_raised(stamp: str) -> None:
    deployer, lines = make()
    key, body = delivery()
    headers = sign(SECRET, key, int(time.time()), body)
    headers["Webhook-Timestamp"] = stamp
    assert deployer.handle(headers, body)[0] == 401
    assert lines.lines == []


def test_a_signed_body_nested_too_deeply_is_a_bad_request() -> None:
    deployer, _ = make()
    now = int(time.time())
    body = b"[" * 100_000 + b"]" * 100_000
    assert deployer.handle(sign(SECRET, "k", now, body), body, now=now)[0] == 400


def test_the_deployer_listens_on_loopback_by_default() -> None:
    parser_defaults = deployer_module.parse_args([])
    assert parser_defaults.host == "127.0.0.1"
