"""Where the worker's time goes: its ingest pipeline run in this process, stage by stage.

The same calls as ``streams.app.worker.IngestService`` (``Ingest.decode`` of the
consumer's records as they are, ``Ingest.apply``, ``Ingest.tick``, ``Ingest.store`` of the
closed windows and due checkpoints, here awaited in turn so that each stage is
timed alone, where the service runs the store in the background), on
the records of the throughput topic, read by an aiokafka consumer with the
partitions assigned (no group), the worker's fetch settings and its light
records (``streams.transport.fetching``, as the worker's consumer); a fresh SQLite
database. Each stage is timed with ``time.perf_counter``. Inside ``apply`` and
``store`` three callees are timed by wrapping them in this process only (the
names called, restored afterwards): the per-event fallback's columns
(``to_model_batches`` in ``streams.decoding.fastdecode``), the checkpoint snapshots
(``PartitionState.snapshot_state``)
and the finalisation of each closed window (``finalise``, also under cProfile,
in the thread ``store`` runs in, to list the functions a close spends time in).
"""

from __future__ import annotations

import cProfile
import pstats
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from prometheus_client import CollectorRegistry
from stream_measure import MAX_BATCH, WORKER_FETCH, BenchError, WorkerConfig

import streams.decoding.fastdecode
import streams.ingest.service
from store import migrate
from store.engine import make_engine
from streams.config.settings import Settings, load_settings
from streams.ingest.service import Ingest, PartitionState
from streams.ingest.windows import ClosedWindow
from streams.runtime.blas import limit_blas_threads
from streams.runtime.collector import tune_collector
from streams.runtime.metrics import Metrics
from streams.transport.fetching import enable_light_fetch

FETCH = "fetch (aiokafka `getmany`, not part of processing)"
DECODE = "decode + validate + numpy columns (`Ingest.decode`: Arrow, else msgspec)"
COLUMNS = "of which per-event fallback (`decode_predictions` + `to_model_batches`)"
APPLY = "window updates (`Ingest.apply`: sketches, row samples)"
TICK = "idle check (`Ingest.tick`)"
CLOSE_STORE = "store with closed windows (finalise + SQL + checkpoint, one transaction)"
CHECKPOINT_STORE = "store of checkpoints only"
SNAPSHOT = "of the stores: checkpoint snapshots (`PartitionState.snapshot_state`)"
FIRST = "of the stores: finalise a window that becomes the reference"
AGAINST = "of the stores: finalise a window against its reference"
PROCESSING = (DECODE, APPLY, TICK, CLOSE_STORE, CHECKPOINT_STORE)


@dataclass
class Stages:
    events: int = 0
    seconds: dict[str, float] = field(default_factory=dict)
    windows_closed: int = 0
    close_stores: int = 0
    checkpoint_stores: int = 0
    finalised: dict[str, int] = field(default_factory=dict)
    close_profile: cProfile.Profile = field(default_factory=cProfile.Profile)

    def add(self, stage: str, seconds: float) -> None:
        self.seconds[stage] = self.seconds.get(stage, 0.0) + seconds

    @property
    def processing(self) -> float:
        return sum(self.seconds.get(stage, 0.0) for stage in PROCESSING)


def _timed(stages: Stages, stage: str, call: Callable[..., Any]) -> Callable[..., Any]:
    def timed(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return call(*args, **kwargs)
        finally:
            stages.add(stage, time.perf_counter() - started)
    return timed


def _profiled_finalise(stages: Stages, call: Callable[..., Any]) -> Callable[..., Any]:
    def finalise(closed: ClosedWindow, *args: Any, **kwargs: Any) -> Any:
        stage = FIRST if closed.window.reference is None else AGAINST
        stages.finalised[stage] = stages.finalised.get(stage, 0) + 1
        started = time.perf_counter()
        stages.close_profile.enable()  # profiles the calling thread (store's worker thread)
        try:
            return call(closed, *args, **kwargs)
        finally:
            stages.close_profile.disable()
            stages.add(stage, time.perf_counter() - started)
    return finalise


@contextmanager
def _instrumented(stages: Stages) -> Iterator[None]:
    """Time the columns, the finalisations and the snapshots as ``streams.ingest.service``
    calls them."""
    targets: list[tuple[object, str]] = [(streams.decoding.fastdecode, "to_model_batches"),
                                         (streams.ingest.service, "finalise"),
                                         (PartitionState, "snapshot_state")]
    originals: list[Callable[..., Any]] = [getattr(owner, name) for owner, name in targets]
    wrappers = [_timed(stages, COLUMNS, originals[0]), _profiled_finalise(stages, originals[1]),
                _timed(stages, SNAPSHOT, originals[2])]
    for (owner, name), wrapper in zip(targets, wrappers, strict=True):
        setattr(owner, name, wrapper)
    try:
        yield
    finally:
        for (owner, name), original in zip(targets, originals, strict=True):
            setattr(owner, name, original)


class _Pipeline:
    def __init__(self, ingest: Ingest) -> None:
        self.ingest = ingest
        self.stages = Stages()

    def handle(self, tp: TopicPartition, records: list[Any]
               ) -> list[tuple[PartitionState, ClosedWindow]]:
        stages, clock = self.stages, time.perf_counter
        t1 = clock()
        decoded = self.ingest.decode(records)
        self.ingest.admit(decoded, records)
        t2 = clock()
        closed = self.ingest.apply(tp.partition, decoded, records[-1].offset + 1)
        t3 = clock()
        stages.add(DECODE, t2 - t1)
        stages.add(APPLY, t3 - t2)
        stages.events += len(records)
        return closed

    async def process(self, batches: dict[TopicPartition, list[Any]]) -> None:
        """``IngestService._process`` with every stage timed."""
        closed: list[tuple[PartitionState, ClosedWindow]] = []
        for tp, records in batches.items():
            if records:
                closed += self.handle(tp, records)
        started = time.perf_counter()
        closed += [(s, c) for s, cs in self.ingest.tick() for c in cs]
        self.stages.add(TICK, time.perf_counter() - started)
        states = {s.partition: s for s, _ in closed}
        if self.ingest.checkpoint_due():
            states.update({s.partition: s for s in self.ingest.dirty()})
        if not (closed or states):
            return
        started = time.perf_counter()
        await self.ingest.store(closed, states.values())
        self.stages.add(CLOSE_STORE if closed else CHECKPOINT_STORE,
                        time.perf_counter() - started)
        self.stages.windows_closed += len(closed)
        if closed:
            self.stages.close_stores += 1
        else:
            self.stages.checkpoint_stores += 1


def _settings(workdir: Path, topic: str, window: str, broker_url: str) -> Settings:
    config = workdir / "profile.yaml"
    config.write_text(WorkerConfig(topic, "bench-profile", window).render(6066),
                      encoding="utf-8")
    return load_settings(config, {"DRIFTLINE_BROKER_URL": broker_url,
                                  "DRIFTLINE_DATABASE_URL": f"sqlite:///{workdir}/profile.db"})


async def profile_stages(bootstrap: str, broker_url: str, workdir: Path, topic: str,
                         window: str, expected: int, partitions: int,
                         timeout: float = 300.0) -> Stages:
    """Run the ingest pipeline over ``expected`` records of ``topic``; the time per stage."""
    settings = _settings(workdir, topic, window, broker_url)
    limit_blas_threads()  # as the worker's create_app does
    tune_collector()
    engine = make_engine(settings.database_url)
    migrate.upgrade(engine)
    pipeline = _Pipeline(Ingest(settings, engine, Metrics(CollectorRegistry())))
    pipeline.ingest.restore(range(partitions))
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                                **WORKER_FETCH)
    await consumer.start()
    try:
        enable_light_fetch(consumer, "profile consumer")
        assigned = [TopicPartition(topic, p) for p in range(partitions)]
        consumer.assign(assigned)
        await consumer.seek_to_beginning(*assigned)
        deadline = time.monotonic() + timeout
        with _instrumented(pipeline.stages):
            await _drain(consumer, pipeline, expected, deadline, timeout)
    finally:
        await consumer.stop()
        engine.dispose()
    return pipeline.stages


async def _drain(consumer: AIOKafkaConsumer, pipeline: _Pipeline, expected: int,
                 deadline: float, timeout: float) -> None:
    while pipeline.stages.events < expected:
        if time.monotonic() > deadline:
            raise BenchError(f"profile: {pipeline.stages.events:,} of {expected:,} "
                             f"records processed within {timeout:.0f} s")
        started = time.perf_counter()
        batches = await consumer.getmany(timeout_ms=500, max_records=MAX_BATCH)
        pipeline.stages.add(FETCH, time.perf_counter() - started)
        await pipeline.process(batches)


def stages_table(stages: Stages) -> str:
    """A markdown table: seconds, µs per event and share of the processing per stage."""
    total = stages.processing
    rows = ["| stage | seconds | µs per event | share of processing |", "|---|---|---|---|"]
    order = (FETCH, DECODE, COLUMNS, APPLY, TICK, CLOSE_STORE,
             CHECKPOINT_STORE, SNAPSHOT, FIRST, AGAINST)
    for stage in order:
        seconds = stages.seconds.get(stage, 0.0)
        share = "" if stage == FETCH else f"{seconds / total:.0%}"
        label = stage
        if stage not in PROCESSING and stage != FETCH:
            share = f"({share})"
        if stage in stages.finalised:
            n = stages.finalised[stage]
            label = f"{stage} ({n}, {seconds / n:.2f} s each)"
        rows.append(f"| {label} | {seconds:.2f} | {seconds / stages.events * 1e6:.1f} "
                    f"| {share} |")
    rows.append(f"| **processing, one core** | **{total:.2f}** | "
                f"**{total / stages.events * 1e6:.1f}** | 100% = "
                f"{stages.events / total:,.0f} events/s |")
    return "\n".join(rows)


def close_functions(stages: Stages, top: int = 10) -> str:
    """The functions window finalisation spends its own time in (cProfile), as a table."""
    if not stages.finalised:
        return "(no window closed)"
    stats = pstats.Stats(stages.close_profile)
    entries: dict[Any, Any] = getattr(stats, "stats", {})
    total = sum(own for _, _, own, _, _ in entries.values()) or 1.0
    ranked = sorted(entries.items(), key=lambda item: item[1][2], reverse=True)[:top]
    rows = ["| function | calls | own time | with callees |", "|---|---|---|---|"]
    for (path, line, name), (_, calls, own, cumulative, _) in ranked:
        where = path.split("site-packages/")[-1].split("/main/")[-1]
        rows.append(f"| `{where}:{line}({name})` | {calls:,} | {own / total:.0%} "
                    f"| {cumulative / total:.0%} |")
    return "\n".join(rows)
