"""An example model deployer: it receives driftline's retrain requests and acts once on each.

Requests arrive two ways, as the same ``io.driftline.retrain.requested``
CloudEvent JSON signed with Standard Webhooks headers:

- ``POST /retrain`` (driftline's ``deployer`` receiver), headers ``webhook-id``,
  ``webhook-timestamp`` and ``webhook-signature``;
- the Kafka topic ``driftline.retrain`` (key = model_id), the same three names
  as record headers. Consumer group ``example-deployer``.

A request with a bad signature is refused (HTTP 401; logged and skipped on the
topic). A request whose idempotency key was seen before is acknowledged (200)
but not acted on again: driftline delivers at least once, so redeliveries are
normal. The keys are kept in memory; a real deployer keeps them in its database.
"Acting" here is printing one line; replace ``Deployer.act`` with a retrain job.

Timestamps: an HTTP delivery older than 5 minutes is refused (the Standard
Webhooks tolerance; driftline signs each attempt afresh). A topic record keeps
the timestamp it was produced with, so a deployer catching up after downtime
would refuse everything: records are checked with ``--topic-tolerance``
(default 7 days, the topic's retention) and replays are caught by the key.

Run (from the repository root, with driftline's environment)::

    export DEPLOYER_SIGNING_SECRET=whsec_...   # the receiver's signing_secret
    PYTHONPATH=. python examples/deployer.py --bootstrap 127.0.0.1:9092 --port 8080
    PYTHONPATH=. python examples/deployer.py --no-kafka   # HTTP only
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from aiohttp import web
from aiokafka import AIOKafkaConsumer

from alerting.signing import TOLERANCE, secret_key, verify

TOPIC = "driftline.retrain"
GROUP = "example-deployer"
RETRAIN_TYPE = "io.driftline.retrain.requested"
TOPIC_TOLERANCE = 7 * 86400


class Deployer:
    """The request-handling core: verify, deduplicate, act. No network here."""

    def __init__(self, secret: str, emit: Callable[[str], None] = print) -> None:
        if not secret_key(secret):  # a bad secret fails at start, not on the first request
            raise ValueError("a signing secret must not be empty")
        self._secret = secret
        self.emit = emit
        self.seen: set[str] = set()

    def handle(self, headers: Mapping[str, str], body: bytes, now: float | None = None,
               tolerance: int = TOLERANCE) -> tuple[int, str]:
        """(HTTP status, message) for one delivery; header names in any case."""
        lowered = {name.lower(): value for name, value in headers.items()}
        if not verify(self._secret, lowered, body, now=now, tolerance=tolerance):
            return 401, "invalid or stale signature"
        try:
            event = json.loads(body)
            data = event["data"]
            key, model, version = data["idempotency_key"], data["model_id"], data["model_version"]
        except (ValueError, TypeError, KeyError, RecursionError) as error:
            return 400, f"not a retrain request: {type(error).__name__}"
        if not isinstance(key, str) or not key:
            return 400, "not a retrain request: idempotency_key must be a non-empty string"
        if event.get("type") != RETRAIN_TYPE:
            return 400, f"unexpected event type {event.get('type')!r}"
        if key in self.seen:
            self.emit(f"duplicate retrain request ignored: key={key}")
            return 200, "duplicate, already accepted"
        self.seen.add(key)
        self.act(model, version, key, str(data.get("reason", "")), data)
        return 202, "accepted"

    def act(self, model: str, version: str, key: str, reason: str, data: Any) -> None:
        self.emit(f"retrain requested: model={model} version={version} key={key} "
                  f"reason={reason}")


def record_headers(headers: Iterable[tuple[str, bytes]]) -> dict[str, str]:
    """Kafka record headers as a dict of text (a header that is not UTF-8 is dropped)."""
    decoded = {}
    for name, value in headers:
        try:
            decoded[name.lower()] = value.decode("utf-8")
        except UnicodeDecodeError:
            continue
    return decoded


def make_app(deployer: Deployer) -> web.Application:
    async def retrain(request: web.Request) -> web.Response:
        status, message = deployer.handle(dict(request.headers), await request.read())
        return web.Response(status=status, text=message)

    app = web.Application()
    app.router.add_post("/retrain", retrain)
    return app


async def consume(deployer: Deployer, bootstrap: str, tolerance: int) -> None:
    consumer = AIOKafkaConsumer(TOPIC, bootstrap_servers=bootstrap, group_id=GROUP,
                                enable_auto_commit=False, auto_offset_reset="earliest")
    await consumer.start()
    try:
        async for record in consumer:
            status, message = deployer.handle(record_headers(record.headers),
                                              record.value or b"", tolerance=tolerance)
            if status >= 400:
                deployer.emit(f"refused record {record.topic}[{record.partition}]@"
                              f"{record.offset}: {message}")
            await consumer.commit()  # after handling: at least once, deduplicated by key
    finally:
        await consumer.stop()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line: where to read and listen (loopback unless told otherwise)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--bootstrap", default="127.0.0.1:9092")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (loopback by default; 0.0.0.0 for all)")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--topic-tolerance", type=int, default=TOPIC_TOLERANCE,
                        help="seconds a topic record's signature timestamp stays acceptable")
    parser.add_argument("--no-kafka", action="store_true", help="serve HTTP only")
    return parser.parse_args(argv)


async def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    secret = os.environ.get("DEPLOYER_SIGNING_SECRET", "")
    try:
        deployer = Deployer(secret)
    except ValueError:
        sys.exit("DEPLOYER_SIGNING_SECRET: must be 'whsec_' followed by base64 (value not shown)")
    runner = web.AppRunner(make_app(deployer))
    await runner.setup()
    await web.TCPSite(runner, args.host, args.port).start()
    print(f"listening on http://{args.host}:{args.port}/retrain", flush=True)
    try:
        if args.no_kafka:
            await asyncio.Event().wait()
        else:
            await consume(deployer, args.bootstrap, args.topic_tolerance)
    finally:
        await runner.cleanup()


if __name__ == "__main__":
    asyncio.run(main())
