"""The four measurements of ``bench/stream.py``, each against the one embedded broker.

1. ``throughput``: pre-produce events of 4 models (one per partition), then,
   alternately, a raw aiokafka consumer group and a fresh ``driftline worker``
   read them all; rates from the first event to the last.
2. ``live_latency``: a worker on an empty topic; per window, the events up to
   (not including) the one that makes the window due are produced and awaited,
   then that one event is produced and the ``windows`` table of the SQLite
   database is polled until the window's row is there.
3. ``memory``: one model, count windows of 10k, 100k and 1M events; per size,
   two fresh workers side by side read ``size - 1`` events (the window is full
   and still open), wait for a checkpoint after that, and ``VmRSS`` is read:
   one with no reference (the first window keeps a row sample to build one),
   one with a reference stored beforehand by ``driftline reference set``. The
   arrays of the window state are sized from that checkpoint. The events carry
   no prediction id, so nothing waits in the label join (its memory per pending
   prediction is ``bench/join.py``'s). With ``breakdown`` the workers load the
   memory probe of ``bench/memprobe`` and a reading of it is taken after RSS.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer
from stream_events import Layout, model_ids, records, write_reference_csv
from stream_measure import (
    MAIN,
    BenchError,
    Rate,
    WorkerConfig,
    WorkerProcess,
    add_histograms,
    counter,
    follow_rate,
    histogram,
    raw_consume,
    wait_until,
)
from stream_store import checkpoint_arrays, checkpointed, windows_stored

from streams.devtools.broker import EmbeddedBroker
from streams.transport.producer import send_records
from streams.transport.topics import ensure_topics

CLOSE_HISTOGRAM = "driftline_window_close_duration_seconds"
PARTITIONS = 4
E2E_WINDOW_S = 60
GRACE_S = 5
LIVE_EVENTS_PER_S = 1000  # event time advances 1 ms an event: trigger times are exact
LIVE_GRACE_S = 2
REFERENCE_ROWS = 100_000
Say = Callable[[str], None]


def _aligned_start(window_s: float, hours_ago: float = 2.0) -> float:
    """A window boundary (whole seconds) ``hours_ago`` before now."""
    return math.floor((time.time() - hours_ago * 3600) / window_s) * window_s


def produce(bootstrap: str, topic: str, layout: Layout, first: int, count: int) -> int:
    """Send each model's events ``first .. first + count`` with ``send_records``."""
    return asyncio.run(send_records(bootstrap, topic, records(layout, first, count)))


# ----- 1. raw consumer and end-to-end worker --------------------------------------------------
@dataclass
class Throughput:
    events: int
    event_bytes: float
    events_per_window: int
    raw: list[Rate] = field(default_factory=list)
    e2e: list[Rate] = field(default_factory=list)
    closes: list[dict[float, float]] = field(default_factory=list)
    windows_closed: list[float] = field(default_factory=list)
    checkpoints: list[float] = field(default_factory=list)
    peak_rss_kib: list[int] = field(default_factory=list)
    topic: str = ""
    layout: Layout | None = None
    workers: int = 1


def throughput(broker: EmbeddedBroker, workdir: Path, events: int, events_per_window: int,
               runs: int, say: Say, workers: int = 1) -> Throughput:
    """Alternate raw and worker runs; with ``workers`` > 1, that many ``driftline worker``
    processes share the group and the database (started together; the rate counts
    the events all of them accepted)."""
    models = tuple(model_ids(PARTITIONS))
    layout = Layout(models, _aligned_start(E2E_WINDOW_S), events_per_window / E2E_WINDOW_S)
    topic = "bench.e2e.predictions"
    ensure_topics(broker.bootstrap, {topic: PARTITIONS})
    per_model = events // len(models)
    sample = [len(v) for _, v in records(layout, 0, 100)]
    started = time.monotonic()
    sent = produce(broker.bootstrap, topic, layout, 0, per_model)
    say(f"produced {sent:,} events ({len(models)} models, {per_model:,} each, about "
        f"{sum(sample) / len(sample):.0f} bytes) in {time.monotonic() - started:.1f} s")
    result = Throughput(sent, sum(sample) / len(sample), events_per_window, topic=topic,
                        layout=layout, workers=workers)
    window = f"{{size: {E2E_WINDOW_S}s, grace: {GRACE_S}s, idle_timeout: 10m}}"
    for run in range(runs):
        broker_pids = [broker.pid] if broker.pid else []
        raw = asyncio.run(raw_consume(broker.bootstrap, topic, f"bench-raw-{run}", sent,
                                      watch={"broker": broker_pids, "consumer": [os.getpid()]}))
        result.raw.append(raw)
        say(f"run {run + 1}/{runs}: raw consumer {raw.per_second:,.0f} events/s")
        config = WorkerConfig(topic, f"bench-e2e-{run}", window)
        with contextlib.ExitStack() as stack:
            group = [stack.enter_context(WorkerProcess(
                workdir, f"e2e-{run}" + (f"-{i}" if workers > 1 else ""), broker.url,
                workdir / f"e2e-{run}.db", config)) for i in range(workers)]
            for worker in group:
                worker.launch()
            for worker in group:
                worker.wait_ready()
            rate = follow_rate(functools.partial(_accepted, group), sent,
                               timeout=max(120.0, sent / 2_000),
                               watch={"broker": broker_pids,
                                      "consumer": [w.pid for w in group]})
            texts = [w.metrics() for w in group]
            result.e2e.append(rate)
            result.closes.append(add_histograms(histogram(t, CLOSE_HISTOGRAM) for t in texts))
            result.windows_closed.append(sum(counter(t, "driftline_windows_closed_total")
                                             for t in texts))
            result.checkpoints.append(sum(counter(t, "driftline_checkpoints_total")
                                          for t in texts))
            result.peak_rss_kib.append(max(w.memory_kib()[1] for w in group))
        say(f"run {run + 1}/{runs}: worker {rate.per_second:,.0f} events/s, "
            f"{result.windows_closed[-1]:.0f} windows closed, "
            f"{result.checkpoints[-1]:.0f} partition checkpoints")
    return result


def _accepted(group: list[WorkerProcess]) -> float:
    return sum(w.accepted() for w in group)


# ----- 2. live window-close latency ---------------------------------------------------------
@dataclass
class Latency:
    windows: int
    events_per_window: int
    seconds: list[float]  # trigger produced -> row visible in SQL, per window
    acks: list[float]  # trigger produced -> acknowledged by the broker
    closes: dict[float, float]  # the worker's close-duration histogram
    idle_rss_kib: int


async def _send_all(producer: AIOKafkaProducer, topic: str,
                    batch: list[tuple[bytes, bytes]]) -> None:
    futures = [await producer.send(topic, value, key=key) for key, value in batch]
    await asyncio.gather(*futures)


async def _live(broker: EmbeddedBroker, worker: WorkerProcess, topic: str, layout: Layout,
                n_windows: int, per_window: int, say: Say) -> tuple[list[float], list[float]]:
    model = layout.models[0]
    producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, acks="all",
                                enable_idempotence=False, linger_ms=0,
                                max_batch_size=256 * 1024)
    await producer.start()
    latencies: list[float] = []
    acks: list[float] = []
    try:
        position = 0
        for k in range(n_windows):
            trigger = (k + 1) * per_window + LIVE_GRACE_S * LIVE_EVENTS_PER_S
            await _send_all(producer, topic, list(records(layout, position, trigger - position)))
            deadline = time.monotonic() + 60
            while await asyncio.to_thread(worker.accepted) < trigger:
                if time.monotonic() > deadline:
                    raise BenchError(f"window {k}: the worker did not accept {trigger:,} "
                                     "events within 60 s")
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.3)  # let the worker go idle in its fetch
            (key, value), = records(layout, trigger, 1)
            started = time.perf_counter()
            await (await producer.send(topic, value, key=key))
            acks.append(time.perf_counter() - started)
            deadline = time.monotonic() + 30
            while windows_stored(worker.database, model) < k + 1:
                if time.monotonic() > deadline:
                    raise BenchError(f"window {k} was not stored within 30 s of its trigger")
                await asyncio.sleep(0.002)
            latencies.append(time.perf_counter() - started)
            position = trigger + 1
            if (k + 1) % 5 == 0:
                say(f"live: {k + 1}/{n_windows} windows, last {latencies[-1] * 1000:.0f} ms")
    finally:
        await producer.stop()
    return latencies, acks


def live_latency(broker: EmbeddedBroker, workdir: Path, n_windows: int, per_window: int,
                 say: Say) -> Latency:
    if per_window % LIVE_EVENTS_PER_S:
        raise BenchError(f"--live-window-events must be a multiple of {LIVE_EVENTS_PER_S}, "
                         f"got {per_window}")
    size_s = per_window // LIVE_EVENTS_PER_S
    models = tuple(model_ids(PARTITIONS, prefix="live"))[:1]
    layout = Layout(models, _aligned_start(size_s), float(LIVE_EVENTS_PER_S))
    topic = "bench.live.predictions"
    ensure_topics(broker.bootstrap, {topic: PARTITIONS})
    config = WorkerConfig(topic, "bench-live",
                          f"{{size: {size_s}s, grace: {LIVE_GRACE_S}s, idle_timeout: 10m}}")
    with WorkerProcess(workdir, "live", broker.url, workdir / "live.db", config) as worker:
        worker.start()
        idle_rss = worker.memory_kib()[0]
        seconds, acks = asyncio.run(_live(broker, worker, topic, layout, n_windows, per_window,
                                          say))
        closes = histogram(worker.metrics(), CLOSE_HISTOGRAM)
    return Latency(n_windows, per_window, seconds, acks, closes, idle_rss)


# ----- 3. memory per window size ----------------------------------------------------------------
PROBE_CODE = Path(__file__).resolve().parent / "memprobe"
PROBE_SIGNAL = signal.SIGRTMIN + 5  # bench/memprobe/sitecustomize.py writes its file on it


@dataclass(frozen=True)
class Footprint:
    window: int
    reference: bool
    rss_kib: int
    hwm_kib: int
    open_windows: float
    closed: float
    state_bytes: dict[str, int]
    breakdown: dict[str, Any] | None = None  # the memory probe's reading (--memory-breakdown)


def _reference_database(workdir: Path, model: str, say: Say) -> Path:
    """An SQLite database holding ``model``'s reference, stored by ``driftline reference set``."""
    csv_path, database = workdir / "reference.csv", workdir / "reference-template.db"
    write_reference_csv(csv_path, REFERENCE_ROWS)
    command = [sys.executable, "-m", "streams.cli.main", "reference", "set", model, str(csv_path),
               "--database", f"sqlite:///{database}"]
    done = subprocess.run(command, cwd=MAIN, capture_output=True, text=True, timeout=300,
                          check=False)
    if done.returncode != 0:
        raise BenchError(f"driftline reference set failed: {done.stderr.strip()[-500:]}")
    say(done.stdout.strip())
    return database


def _probe(worker: WorkerProcess, directory: Path) -> dict[str, Any]:
    """Ask the worker's memory probe for a reading (it runs ``malloc_trim`` last)."""
    path = directory / f"{worker.pid}.json"
    path.unlink(missing_ok=True)
    os.kill(worker.pid, PROBE_SIGNAL)
    wait_until(path.exists, 30, f"worker {worker.name}: the memory probe's reading", 0.05)
    return dict(json.loads(path.read_text()))


def _footprint(worker: WorkerProcess, topic: str, size: int, with_reference: bool,
               probe: Path | None) -> Footprint:
    """Wait for ``size - 1`` events and a checkpoint covering them; then read RSS."""
    target = size - 1
    follow_rate(worker.accepted, target, timeout=max(120.0, target / 2_000))
    wait_until(lambda: checkpointed(worker.database, topic) >= target, 30,
               f"worker {worker.name}: a checkpoint covering the {target:,} events", 0.2)
    time.sleep(0.5)
    readings = []
    for _ in range(5):
        readings.append(worker.memory_kib()[0])
        time.sleep(0.2)
    text = worker.metrics()
    return Footprint(size, with_reference, sorted(readings)[2], worker.memory_kib()[1],
                     counter(text, "driftline_open_windows"),
                     counter(text, "driftline_windows_closed_total"),
                     checkpoint_arrays(worker.database, topic),
                     _probe(worker, probe) if probe is not None else None)


def memory(broker: EmbeddedBroker, workdir: Path, sizes: tuple[int, ...], say: Say,
           breakdown: bool = False) -> list[Footprint]:
    """Per size, two workers side by side (no reference / reference set) on one topic.

    With ``breakdown`` the workers load ``bench/memprobe`` and each footprint
    carries the probe's reading, taken after RSS.
    """
    models = tuple(model_ids(PARTITIONS, prefix="mem"))[:1]
    # No prediction ids: predictions waiting for labels are the join's memory (bench/join.py).
    layout = Layout(models, _aligned_start(60), 1000.0, prediction_ids=False)
    topic = "bench.memory.predictions"
    ensure_topics(broker.bootstrap, {topic: PARTITIONS})
    template = _reference_database(workdir, models[0], say)
    probe: Path | None = None
    environment: dict[str, str] = {}
    if breakdown:
        probe = workdir / "probe"
        probe.mkdir(exist_ok=True)
        path = os.pathsep.join(p for p in (str(PROBE_CODE), os.environ.get("PYTHONPATH")) if p)
        environment = {"PYTHONPATH": path, "BENCH_MEMPROBE_DIR": str(probe)}
    footprints: list[Footprint] = []
    produced = 0
    for size in sorted(sizes):
        produced += produce(broker.bootstrap, topic, layout, produced, size - 1 - produced)
        with contextlib.ExitStack() as stack:
            workers: list[tuple[WorkerProcess, bool]] = []
            for with_reference in (False, True):
                name = f"mem-{size}-{'ref' if with_reference else 'noref'}"
                database = workdir / f"{name}.db"
                if with_reference:
                    for suffix in ("", "-wal"):
                        if Path(f"{template}{suffix}").exists():
                            shutil.copyfile(f"{template}{suffix}", f"{database}{suffix}")
                config = WorkerConfig(topic, f"bench-{name}",
                                      f"{{count: {size}, grace: 0s, idle_timeout: 1h}}")
                worker = stack.enter_context(
                    WorkerProcess(workdir, name, broker.url, database, config,
                                  environment=environment))
                workers.append((worker.launch(), with_reference))
            for worker, _ in workers:
                worker.wait_ready()
            for worker, with_reference in workers:
                footprints.append(_footprint(worker, topic, size, with_reference, probe))
                say(f"memory: {size:,}-event window, "
                    f"{'reference set' if with_reference else 'no reference'}: RSS "
                    f"{footprints[-1].rss_kib / 1024:.0f} MiB (peak "
                    f"{footprints[-1].hwm_kib / 1024:.0f} MiB)")
    return footprints
