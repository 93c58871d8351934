"""The worker: a Faust app that owns the process, and the batched ingest inside it.

Faust runs the worker's life — start and stop, signals, the web server
(``/metrics``, ``/healthz``, ``/readyz``), timers — while the high-rate path is a
batched aiokafka consumer run as a Faust service (``IngestService``), because a
Faust agent pays its per-message machinery on every event.

Start-up: topics are created if missing, the database is migrated when it is
the embedded SQLite default, then the consumer joins its group with the short
session timeout of the settings, restores each assigned partition from its
checkpoint and seeks to the offset stored with it. ``/readyz`` answers 200 only
after that, only while the worker holds partitions, and not while its database
or its broker cannot be reached (a broker probe, ``_probe_broker``, asks for the
predictions topic's metadata every 2 s); ``/healthz`` fails when
the consume loop stops making progress while there is work, or stores keep
failing (``streams.runtime.health``; the pages are in ``streams.app.web``, and Faust's own
are not served). The alerting service (outbox dispatcher) starts before the
ingest, so the first window stored already wakes it.

Log lines (``streams.runtime.loglines``): ``ready`` after each assignment is restored,
``partitions_revoked`` when partitions go, one ``dead_letters`` summary a minute
at most; closed windows are logged by ``Ingest`` once stored.

The consume loop: the consumer hands out light records (``streams.transport.fetching``:
``RawMessage``, built a record batch at a time, not aiokafka's ``ConsumerRecord``
per record); a fetch's partitions are decoded side by side in threads
(``streams.decoding.fastdecode``; Arrow parses without the GIL), then applied to the
windows in turn. Windows closed by a batch wait for the next store, which runs
its transaction in a thread while later batches are fetched and applied (one
store in flight at most): it snapshots the checkpoints it writes when it starts
and holds every window those partitions closed before, so state is durable with
the offsets it covers; offsets go to Kafka after it commits; a rebalance or stop
first drains it. A batch's dead letters and prediction stubs (for the label join)
are sent as it is applied; the next checkpoint waits until they are delivered,
the next batches do not.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
from functools import partial
from typing import Any

import faust
import mode
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from prometheus_client import CollectorRegistry

from store import migrate
from store.engine import make_engine
from streams.alerts.hub import AlertHub
from streams.alerts.service import AlertService
from streams.app.web import add_pages
from streams.app.worker_app import WorkerApp
from streams.config.settings import Settings
from streams.decoding.fastdecode import DecodedColumns
from streams.ingest.service import Ingest, PartitionState, StoreJob
from streams.ingest.windows import ClosedWindow
from streams.labels.batched import BatchedConsumer
from streams.labels.join_service import JoinService
from streams.labels.label_service import LabelService
from streams.labels.outcome_service import OutcomeService
from streams.runtime import loglines
from streams.runtime.blas import limit_blas_threads
from streams.runtime.collector import tune_collector
from streams.runtime.health import Health
from streams.runtime.logfloods import FLOODS
from streams.runtime.loglines import DeadLetterSummary
from streams.runtime.metrics import Metrics
from streams.transport.consuming import (
    Listener,
    broker_problem,
    commit,
    in_sequence,
    make_consumer,
    make_producer,
    owned_in_order,
    restarted_from,
    retrying,
    start_retrying,
)
from streams.transport.fetching import enable_light_fetch
from streams.transport.topics import ensure_topics_async

log = logging.getLogger(__name__)
MAX_PENDING_CLOSES = 64  # closed windows held while a store runs, before ingest waits for it
BROKER_PROBE_INTERVAL = 2.0  # seconds between two metadata requests asking if the broker is up
BROKER_PROBE_TIMEOUT = 3.0  # seconds a probe waits for an answer (streams.runtime.health)


class IngestService(mode.Service):
    """The batched consumer loop, its dead-letter producer and its timers."""

    mundane_level = "debug"  # mode's "Starting..." / "Stopping..." lines

    def __init__(self, ingest: Ingest, **kwargs: Any) -> None:
        self.ingest = ingest
        self.settings = ingest.settings
        # The ingest's topic, metrics and health, shared with the service that reads
        # its partitions.
        self._topic, self._metrics, self._health = ingest.topic, ingest.metrics, ingest.health
        self.dead_letters = DeadLetterSummary(ingest.settings.topics.deadletter)
        self.consumer: AIOKafkaConsumer | None = None
        self.producer: AIOKafkaProducer | None = None
        # One batch or one rebalance step at a time touches the window state.
        self._lock = asyncio.Lock()
        # Windows closed since the last store began, and the store in flight (at most one).
        self._pending: list[tuple[PartitionState, ClosedWindow]] = []
        self._inflight: tuple[StoreJob, asyncio.Task[None]] | None = None
        # Dead letters and prediction stubs sent, not yet known to be delivered: the next
        # checkpoint waits for them, the batches after them do not.
        self._sending: list[asyncio.Future[Any]] = []
        # The gauge is read from the readiness at each scrape, outages included.
        health = self._health
        self._metrics.ready.set_function(lambda: 1.0 if health.is_ready else 0.0)
        super().__init__(**kwargs)

    async def on_start(self) -> None:
        topics = self.settings.topics
        await ensure_topics_async(
            self.settings.bootstrap_servers,
            dict.fromkeys([topics.predictions, topics.labels, topics.deadletter,
                           topics.retrain, topics.join, topics.outcomes], topics.partitions),
            replication_factor=topics.replication_factor)
        self.producer = make_producer(self.settings)
        await start_retrying(self.producer, "ingest producer")
        self.consumer = make_consumer(self.settings, self.settings.worker.group_id,
                                      self.settings.ingest.max_batch)
        self.consumer.subscribe([topics.predictions], listener=Listener(self))
        await start_retrying(self.consumer, "ingest consumer")
        enable_light_fetch(self.consumer, "prediction ingest")

    async def on_stop(self) -> None:
        self.dead_letters.flush()
        if self.consumer is not None:
            await self.release(list(self.ingest.partitions))
            await self.consumer.stop()
        if self.producer is not None:
            await self.producer.stop()

    async def assign(self, partitions: list[int]) -> None:
        async with self._lock:
            seeks = await retrying(partial(self.ingest.restore, partitions),
                                   self._metrics, "windows", self._health,
                                   doing="restoring")
            assert self.consumer is not None
            for partition, offset in seeks.items():
                self.consumer.seek(TopicPartition(self._topic, partition), offset)
        health = self._health
        health.assigned(partitions)
        if health.partitions:
            restored = self.ingest.open_windows(partitions)
            loglines.ready(self._topic, health.partitions, restored, len(seeks))
        else:
            loglines.not_ready(self._topic, [], [])

    async def release(self, partitions: list[int]) -> None:
        health = self._health
        health.revoked(partitions)  # not ready from the moment the partitions go
        if partitions:
            loglines.not_ready(self._topic, partitions, health.partitions)
        async with self._lock:
            await self._drain()
            await asyncio.to_thread(self.ingest.release, partitions)

    @mode.Service.task
    async def _consume(self) -> None:
        while not self.should_stop:
            if self.consumer is None:
                await self.sleep(0.1)
                continue
            batches = await self.consumer.getmany(
                timeout_ms=500, max_records=self.settings.ingest.max_batch)
            async with self._lock:
                applied = await self._process(batches)
                await self._flush()
            lag = await self._report_lag()
            self.dead_letters.maybe_log()
            waiting = lag > 0 or bool(self._pending) or self._inflight is not None
            self._health.iteration(applied=applied, waiting=waiting)

    @mode.Service.task
    async def _probe_broker(self) -> None:
        """Ask the broker for the predictions topic's metadata every few seconds: the
        worker is not ready while it does not answer (``streams.runtime.health``)."""
        health = self._health
        while not self.should_stop:
            await self.sleep(BROKER_PROBE_INTERVAL)
            if self.consumer is None:
                continue
            problem = await broker_problem(self.consumer, self._topic,
                                           BROKER_PROBE_TIMEOUT)
            if problem is not None:
                if health.broker_failed(problem):
                    FLOODS.take_suppressed()  # the outage's count starts now
                    loglines.broker_unreachable(problem)
            elif (seconds := health.broker_ok()) is not None:
                loglines.broker_reachable(seconds, FLOODS.take_suppressed())

    async def _process(self, batches: dict[TopicPartition, list[Any]]) -> bool:
        """Apply one fetch (whether it had records to apply); the windows it closes (and
        idle ones) wait for the next store."""
        work: list[tuple[TopicPartition, list[Any]]] = []
        assert self.consumer is not None
        for tp in owned_in_order(self.consumer, batches):
            state = self.ingest.partitions.get(tp.partition)
            if state is None:
                continue
            records = batches.get(tp, [])
            restart = await restarted_from(self.consumer, tp, records, state.next_offset,
                                           self._metrics)
            if restart is not None:
                state.next_offset, state.rewound_to = restart, None
                if not records:
                    self.consumer.seek(tp, restart)
            records, rewind = in_sequence(records, state.next_offset, state.rewound_to)
            if rewind:
                assert self.consumer is not None
                assert state.next_offset is not None
                self.consumer.seek(tp, state.next_offset)
                state.rewound_to = state.next_offset
            if records:
                work.append((tp, records))
        # Partitions decode side by side in threads (Arrow parses without the GIL),
        # then are applied in turn.
        decoded = await asyncio.gather(*(asyncio.to_thread(self.ingest.decode, records)
                                         for tp, records in work))
        for (tp, records), batch in zip(work, decoded, strict=True):
            self._pending += await self._handle(tp, records, batch)
        self._pending += [(s, c) for s, cs in self.ingest.tick() for c in cs]
        return bool(work)

    async def _flush(self, wait: bool = False) -> None:
        """Finish the store in flight once it is done, then start the next one if due.

        Stores are pipelined one deep: a store's transaction runs in a thread while
        later batches are applied. Each store snapshots the checkpoints it writes when
        it starts and holds every window its partitions closed before that, so a
        checkpoint never passes a closed window that is not in the same transaction;
        offsets go to Kafka only after the transaction committed.
        """
        if self._inflight is not None:
            job, task = self._inflight
            if not (wait or task.done() or len(self._pending) >= MAX_PENDING_CLOSES):
                return
            await task
            self._inflight = None
            self.ingest.finish(job)
            await self._commit_offsets(job)
        states = {s.partition: s for s, _ in self._pending}
        if self.ingest.checkpoint_due():
            states.update({s.partition: s for s in self.ingest.dirty()})
        if self._pending or states:
            await self._delivered()  # before a checkpoint covers the events they came from
            job = self.ingest.prepare(self._pending, states.values())
            self._pending = []
            self._inflight = (job, asyncio.create_task(self.ingest.write_retrying(job)))

    async def _drain(self) -> None:
        """Store every closed window and finish every store (a rebalance step or stop)."""
        await self._delivered()
        while self._pending or self._inflight is not None:
            await self._flush(wait=True)

    async def _delivered(self) -> None:
        """Wait until every dead letter and prediction stub sent so far is delivered."""
        sending, self._sending = self._sending, []
        await asyncio.gather(*sending)

    async def _handle(self, tp: TopicPartition, records: list[Any], decoded: DecodedColumns
                      ) -> list[tuple[PartitionState, ClosedWindow]]:
        """One partition's decoded batch: its dead letters sent, its events applied, the
        prediction stubs it made sent to the join; the windows it closed."""
        dead_letters = self.ingest.refuse(tp.partition, decoded, records)
        if dead_letters:
            assert self.producer is not None
            self._sending += [await self.producer.send(self.settings.topics.deadletter,
                                                       value=dl.to_json(), key=dl.key)
                              for dl in dead_letters]
            self.dead_letters.add(dl.reason for dl in dead_letters)
        await self.ingest.load_models(tp.partition, decoded)  # a database outage waits here
        closed = self.ingest.apply(tp.partition, decoded, records[-1].offset + 1)
        stubs = self.ingest.take_outgoing()
        if stubs:
            assert self.producer is not None
            self._sending += [await self.producer.send(self.settings.topics.join, value=value,
                                                       partition=part)
                              for part, value in stubs]
        return closed

    async def _commit_offsets(self, job: StoreJob) -> None:
        assert self.consumer is not None
        await commit(self.consumer, {TopicPartition(self._topic, state.partition): offset
                                     for state, offset, _ in job.checkpoints},
                     self.settings.worker.group_id)

    async def _report_lag(self) -> int:
        """Messages behind on the assigned partitions (also the lag gauge)."""
        assert self.consumer is not None
        lag = 0
        for tp in self.consumer.assignment():
            high = self.consumer.highwater(tp)
            if high is not None:
                lag += max(high - await self.consumer.position(tp), 0)
        self._metrics.lag.labels(topic=self._topic).set(lag)
        return lag


def _bound(service: type[BatchedConsumer], settings: Settings, engine: Any, metrics: Metrics,
           topic: str, hub: AlertHub, health: Health) -> type[BatchedConsumer]:
    """``service`` with its arguments bound, as ``app.service`` wants a class."""

    class Bound(service):  # type: ignore[valid-type,misc]
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(settings, engine, metrics, topic, hub, health=health, **kwargs)

    Bound.__name__ = service.__name__
    return Bound


def create_app(settings: Settings, registry: CollectorRegistry | None = None,
               datadir: str | None = None) -> tuple[faust.App, Ingest]:
    """The Faust app with the ingest service and the web endpoints, ready to run."""
    limit_blas_threads()
    tune_collector()
    registry = registry or CollectorRegistry()
    # Label-path series: twice the model versions a worker holds (ingest.max_models).
    metrics = Metrics(registry, max_label_models=2 * settings.ingest.max_models)
    engine = make_engine(settings.database_url)
    if settings.database_url.startswith("sqlite"):
        migrate.upgrade(engine)
    ingest = Ingest(settings, engine, metrics)
    ingest.hub = hub = AlertHub()
    worker = settings.worker
    app = WorkerApp(
        f"{worker.group_id}-worker", broker=settings.broker_url, autodiscover=False,
        # web_bind is the address listened on (Faust: all interfaces unless told), web_host
        # only the name used in links: both are worker.web_host, loopback by default.
        web_host=worker.web_host, web_bind=worker.web_host, web_port=worker.web_port,
        store="memory://",
        # Faust wants a data folder even with in-memory tables; keep it out of the cwd.
        datadir=datadir or tempfile.mkdtemp(prefix="driftline-worker-"),
        broker_session_timeout=worker.session_timeout,
        broker_heartbeat_interval=worker.heartbeat_interval,
        producer_enable_idempotence=False, topic_partitions=settings.topics.partitions)

    class BoundAlertService(AlertService):
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(settings, engine, metrics, hub, **kwargs)

    class BoundIngestService(IngestService):
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(ingest, **kwargs)

    # Faust starts these one after another, in this order, and each consumer's start waits
    # for its group coordinator (seconds). The dispatcher goes first, so it is listening
    # before the ingest stores its first window rather than after the other three consumers.
    app.service(BoundAlertService)
    app.service(BoundIngestService)
    topics = settings.topics
    for service, topic in ((LabelService, topics.labels), (JoinService, topics.join),
                           (OutcomeService, topics.outcomes)):
        app.service(_bound(service, settings, engine, metrics, topic, hub, ingest.health))
    add_pages(app, registry, ingest.health)
    return app, ingest

