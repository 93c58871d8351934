"""The worker's alerting service: the outbox dispatcher, the no-data timer and the gauges.

Alert rules are applied where the results are stored (``alerting.apply``, in the
ingest's and the outcome consumer's transactions); this service delivers what
they enqueued. Every worker runs one dispatcher: rows are claimed with leases
(``FOR UPDATE SKIP LOCKED`` on PostgreSQL), so workers share the outbox without
sending a row twice at once. A commit that enqueued rows wakes the dispatcher
of its process at once (``AlertHub``); others find them at their next poll.

HTTP receivers go through ``alerting.http.HttpTransport``; the retrain topic
(receiver ``topic:<name>``) through ``TopicTransport``, whose records carry the
CloudEvent as value, the model id as key and the Standard Webhooks headers as
record headers (signed with ``alerting.retrain`` 's secret, when there is one).

Every ``SILENCE_INTERVAL`` seconds the ``no_data`` rules are evaluated against
the newest window close of each model (wall clock: a model whose windows stop
closing has stopped sending), and the outbox and firing gauges are refreshed
from the database, so they count every worker's rows.

``driftline_webhook_deliveries_total`` is exported at 0 for every configured
receiver (and the retrain topic, when a rule asks for retraining) and every
outcome from the start, so the first dead letter is an increase Prometheus can
see: ``DriftlineWebhookDeadLetters`` fires on it (a series that appears at 1
shows no ``increase``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime
from typing import Any, get_args

import aiohttp
import mode
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from sqlalchemy import Engine

from alerting import signing
from alerting.apply import TOPIC_PREFIX, apply_silence, topic_receiver
from alerting.dispatcher import Delivery, Dispatcher, Outcome, Transport
from alerting.http import HttpTransport, compact_json
from alerting.model import AlertEvent
from alerting.settings import AlertingSettings
from store.alerts import firing_counts
from store.outbox import OutboxRow, pending_count
from store.queries import last_closed
from streams.alerts.hub import AlertHub
from streams.config.settings import Settings
from streams.runtime.metrics import Metrics
from streams.transport.consuming import make_producer, start_retrying

log = logging.getLogger(__name__)
SILENCE_INTERVAL = 10.0


class TopicTransport:
    """Publishes outbox rows of receiver ``topic:<name>`` to that Kafka topic."""

    def __init__(self, producer: AIOKafkaProducer, secret: str | None) -> None:
        self._producer = producer
        self._secret = secret

    async def send(self, row: OutboxRow) -> Delivery:
        topic = row.receiver.removeprefix(TOPIC_PREFIX)
        body = compact_json(row.payload)
        data = row.payload.get("data")
        model = data.get("model_id") if isinstance(data, dict) else None
        headers = [] if self._secret is None else [
            (name, value.encode()) for name, value in
            signing.headers(self._secret, row.idempotency_key, body).items()]
        try:
            await self._producer.send_and_wait(
                topic, value=body, key=str(model).encode() if model else None, headers=headers)
        except KafkaError as exc:
            return Delivery(ok=False, retryable=True, error=f"topic {topic}: {type(exc).__name__}")
        return Delivery(ok=True)


class AlertService(mode.Service):
    """Dispatcher, no-data rules and alerting gauges of one worker."""

    mundane_level = "debug"  # mode's "Starting..." / "Stopping..." lines

    def __init__(self, settings: Settings, engine: Engine, metrics: Metrics, hub: AlertHub,
                 **kwargs: Any) -> None:
        self.settings = settings
        self.alerting: AlertingSettings = settings.alerting
        self.engine = engine
        self.metrics = metrics
        self.hub = hub
        self.session: aiohttp.ClientSession | None = None
        self.producer: AIOKafkaProducer | None = None
        self.dispatcher: Dispatcher | None = None
        self._stop = asyncio.Event()
        self._firing: set[tuple[str, str]] = set()
        super().__init__(**kwargs)

    async def on_start(self) -> None:
        if not self.alerting.enabled:
            return
        self.session = aiohttp.ClientSession()
        self.producer = make_producer(self.settings)
        await start_retrying(self.producer, "alert producer")
        http = HttpTransport(self.alerting.receivers, self.session)
        secret = self.alerting.retrain.signing_secret
        topic = TopicTransport(self.producer, secret.reveal() if secret else None)

        def transport_for(receiver: str) -> Transport | None:
            if receiver.startswith(TOPIC_PREFIX):
                return topic
            return http if http.serves(receiver) else None

        def on_result(receiver: str, outcome: str) -> None:
            self.metrics.deliveries.labels(receiver=receiver, outcome=outcome).inc()

        for receiver in self._receivers():
            for outcome in get_args(Outcome):
                self.metrics.deliveries.labels(receiver=receiver, outcome=outcome)

        self.dispatcher = Dispatcher(self.engine, transport_for, self.alerting.dispatch,
                                     on_result=on_result)
        self.hub.attach(asyncio.get_running_loop(), self.dispatcher.wake)
        self.add_future(self.dispatcher.run(self._stop))
        self.add_future(self._timer())

    def _receivers(self) -> list[str]:
        """Every receiver the outbox may hold rows for."""
        names = list(self.alerting.receivers)
        if self.alerting.retrain.topic and any(rule.retrain for rule in self.alerting.rules):
            names.append(topic_receiver(self.settings.topics.retrain))
        return names

    async def on_stop(self) -> None:
        self._stop.set()
        if self.session is not None:
            await self.session.close()
        if self.producer is not None:
            await self.producer.stop()

    async def _timer(self) -> None:
        while not self._stop.is_set():
            try:
                await asyncio.to_thread(self._tick)
            except Exception as exc:  # the database may be away; try again next tick
                log.warning("alerting timer failed (%s); next in %.0f s",
                            type(exc).__name__, SILENCE_INTERVAL)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), SILENCE_INTERVAL)

    def _tick(self) -> None:
        now = datetime.now(UTC)
        events: list[AlertEvent] = []
        with self.engine.begin() as conn:
            closed = last_closed(conn) if self.alerting.rules else {}
            if any(r.source == "silence" for r in self.alerting.rules):
                seen = [(model, "", at) for model, at in closed.items()]
                events = apply_silence(conn, self.alerting, seen, now,
                                       self.settings.topics.retrain)
            pending = pending_count(conn)
            firing = firing_counts(conn)
        self.hub.committed(events)
        self.metrics.outbox_pending.set(pending)
        severities = {r.name: r.severity for r in self.alerting.rules}
        # Every (model, severity) a rule could fire is exported, at 0 while quiet.
        counts: dict[tuple[str, str], int] = {
            (model, severity): 0 for model in closed for severity in set(severities.values())}
        for (rule, model), count in firing.items():
            key = (model, severities.get(rule, "warning"))
            counts[key] = counts.get(key, 0) + count
        for model, severity in self._firing - set(counts):
            self.metrics.alerts_firing.labels(model=model, severity=severity).set(0)
        for (model, severity), count in counts.items():
            self.metrics.alerts_firing.labels(model=model, severity=severity).set(count)
        self._firing |= set(counts)
