"""``driftline demo``: broker, database, worker and simulator on one machine, live.

It starts the embedded broker (Tansu) on a free port, an SQLite file under the
work folder, a worker process and the simulator. The simulator's event time runs
faster than the clock (``--speed`` seconds of event time per second), so a short
run spans many 5-minute windows. It sends predictions and, in event-time order,
their labels: each comes about two minutes (of event time) after its prediction
and 15 % never come. A fifth of the way in, the label function changes while
the inputs do not (a concept change: only the labels can show it); at two
fifths some features shift (data drift).

The live table (``streams.devtools.table``) prints each window with its drift
verdict, realised accuracy, the estimate made before its labels, label coverage
and any concept-drift detection. The detector sees the error stream in order of
prediction event time (then prediction id) once a span is final, an hour of
event time behind the newest labelled prediction (``detector_delay: 1h``, the
prediction TTL: no label can join later), so the same seed gives the same
detections whatever the machine's timing; rows wait for that too. At the end a
summary names the drifted features and where drift began, the concept-drift
detections and the accuracy before and after the change, and checks them
against what the simulator injected (exit status 1 if they differ). Ctrl-C
stops everything and leaves no process behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click
from sqlalchemy import Engine

from store.engine import make_engine
from store.outbox import pending_count
from store.performance import list_performance
from streams.config.settings import TopicSettings, child_environment
from streams.devtools.broker import EmbeddedBroker, free_port
from streams.devtools.receiver import DemoReceiver
from streams.devtools.simulator import Simulator
from streams.devtools.table import HEADER, Table, concept_summary, print_rows
from streams.report.page import render
from streams.report.stored import NoWindowsError, from_store
from streams.transport.producer import encode_event, send_routed
from streams.transport.topics import driftline_topics, ensure_topics

MODEL = "fraud"
LABEL_DELAY = 120.0  # mean seconds of event time between a prediction and its label
LABEL_SHARE = 0.85  # the share of labels that ever arrive
# Event time the concept-drift detector trails the newest labelled prediction: the
# prediction TTL below, so every label that can join is in before its span is fed
# (see streams.labels.error_feed); at --speed 120 that is 30 s of clock time.
DETECTOR_DELAY = 3600.0
CONCEPT_AT, SHIFT_AT = 0.2, 0.4  # when the concept changes and the inputs shift (run share)
TOPICS = TopicSettings()
CONFIG = """\
# Written by `driftline demo`: 5-minute windows of event time; the reference is gathered
# from the first windows until it holds 10,000 events (thresholds.min_reference_rows).
models:
  default:
    window: {size: 5m, grace: 30s, idle_timeout: 8s}
    reference: {policy: first_window}
    # The score calibration of the performance estimate: the first 1,000 labelled rows;
    # the detector is fed in event-time order once every label of a span can be in.
"""
CONFIG += f"""\
    performance: {{calibration_rows: 1000, detector_delay: {DETECTOR_DELAY:.0f}s}}
labels:
  # Labels come within minutes here: forget a prediction an hour (of event time) after it.
  prediction_ttl: 1h
worker:
  checkpoint_interval: 2s
ingest:
  # Simulated event time runs ahead of the clock (--speed), so allow it.
  max_future: 30d
  max_past: 30d
"""


@dataclass
class DemoRun:
    workdir: Path
    duration: float | None
    rate: float
    speed: float
    seed: int
    sent_until: datetime | None = None  # the event time of the newest prediction sent
    predictions: int = 0
    labels: int = 0
    table: Table = field(default_factory=lambda: Table(MODEL, timedelta(0)))
    alerts: int = 0  # alert notifications received (firing and resolved)
    retrains: int = 0  # retrain requests received by the deployer
    retrain_records: int = 0  # records on the retrain topic


@contextmanager
def _worker(workdir: Path, broker: str, database: str, port: int
            ) -> Iterator[subprocess.Popen[bytes]]:
    env = child_environment({"DRIFTLINE_BROKER_URL": broker, "DRIFTLINE_DATABASE_URL": database,
                             "DRIFTLINE_WORKER__WEB_PORT": str(port)})
    log = (workdir / "worker.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "streams.cli.main", "worker",
         "--config", str(workdir / "demo.yaml")],
        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        yield process
    finally:
        _stop(process)
        log.close()


def _stop(process: subprocess.Popen[bytes], timeout: float = 15.0) -> None:
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def _wait_ready(port: int, process: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log.read_text(errors="replace").splitlines()[-15:]
            raise click.ClickException("the worker stopped during start-up:\n" + "\n".join(tail))
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as answer:
                if answer.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.2)  # polling an HTTP endpoint; the deadline bounds it
    raise click.ClickException(f"the worker was not ready after {timeout:.0f} s (see {log})")


def _records(run: DemoRun, simulator: Simulator, n: int | None
             ) -> Iterator[tuple[str, bytes | None, bytes]]:
    """Predictions keyed by model, labels keyed by prediction id, in event-time order."""
    for kind, event in simulator.timeline(n):
        if kind == "prediction":
            run.predictions += 1
            run.sent_until = datetime.fromisoformat(event["event_time"].replace("Z", "+00:00"))
            yield TOPICS.predictions, str(event["model_id"]).encode(), encode_event(event)
        else:
            run.labels += 1
            yield TOPICS.labels, str(event["prediction_id"]).encode(), encode_event(event)


async def _produce(run: DemoRun, bootstrap: str, simulator: Simulator) -> int:
    count = None if run.duration is None else int(run.duration * run.rate)
    # --rate counts predictions; the labels ride along.
    return await send_routed(bootstrap, _records(run, simulator, count),
                             rate=run.rate * (1 + LABEL_SHARE))


def _summary(run: DemoRun, simulator: Simulator) -> bool:
    table = run.table
    shifted = set(simulator.shifted_features)
    found = {n for n in table.drifted if n not in ("prediction", "score")}
    click.echo("")
    click.echo(f"sent {run.predictions:,} predictions and {run.labels:,} labels")
    click.echo(f"shift injected at event time {simulator.shift_time:%Y-%m-%d %H:%M} on: "
               f"{', '.join(sorted(shifted))}")
    click.echo(f"drift began in the window starting {table.drift_began or '-'}")
    click.echo(f"drifted features: {', '.join(sorted(found)) or '-'}")
    missed, false_alarms = shifted - found, found - shifted
    if missed:
        click.echo(f"MISSED: {', '.join(sorted(missed))}")
    if false_alarms:
        click.echo(f"FALSE ALARMS: {', '.join(sorted(false_alarms))}")
    concept_ok = concept_summary(table, simulator.concept_time)
    click.echo(f"alerts received: {run.alerts}; retrain requests: {run.retrains} at the "
               f"deployer, {run.retrain_records} on {TOPICS.retrain}")
    alerted = run.alerts > 0 and run.retrains == 1 and run.retrain_records == 1
    if not alerted:
        click.echo("ALERTING: expected alerts and exactly one retrain request")
    ok = not missed and not false_alarms and concept_ok and alerted
    click.echo("result: every shifted feature found, no stable feature flagged, the concept "
               "change detected after it happened, accuracy dropped, alerts and one retrain "
               "request delivered" if ok
               else "result: the verdicts differ from what was injected")
    return ok


def run_demo(run: DemoRun) -> bool:
    """Run the whole demo; True when drift was found exactly on the shifted features."""
    shutil.rmtree(run.workdir, ignore_errors=True)
    run.workdir.mkdir(parents=True)
    database = f"sqlite:///{(run.workdir / 'driftline.db').resolve()}"
    length = run.duration * run.speed if run.duration else 4500.0
    span = timedelta(seconds=(run.duration or 0.0) * run.speed)
    origin = (datetime.now(UTC) - span).replace(second=0, microsecond=0)
    origin -= timedelta(minutes=origin.minute % 5)
    simulator = Simulator(seed=run.seed, model_id=MODEL, events_per_second=run.rate / run.speed,
                          shift_at=SHIFT_AT * length, concept_at=CONCEPT_AT * length,
                          start=origin, label_delay=LABEL_DELAY, label_share=LABEL_SHARE)
    # A row waits until its errors were fed to the concept-drift detector (which waits
    # longer than the labels: 5 mean delays hold 99.3 % of them) and the worker stored
    # the result (four checkpoint intervals of 2 s of clock time, for slack).
    settle = max(DETECTOR_DELAY, 5 * LABEL_DELAY) + 8.0 * run.speed
    run.table = Table(MODEL, timedelta(seconds=settle), LABEL_SHARE)
    with EmbeddedBroker(port=free_port()) as broker, DemoReceiver() as receiver:
        (run.workdir / "demo.yaml").write_text(CONFIG + receiver.config(), encoding="utf-8")
        click.echo(f"broker   {broker.bootstrap} (embedded Tansu)")
        click.echo(f"alerts   {receiver.url} (a local webhook receiver and model deployer)")
        ensure_topics(broker.bootstrap, driftline_topics())
        port = free_port()
        with _worker(run.workdir, broker.url, database, port) as worker:
            _wait_ready(port, worker, run.workdir / "worker.log", timeout=90)
            click.echo(f"worker   ready, metrics at http://127.0.0.1:{port}/metrics")
            click.echo(f"database {database}")
            click.echo("\n" + HEADER)
            engine = make_engine(database)
            try:
                _stream(run, broker.bootstrap, simulator, engine, port)
                _wait_deliveries(engine)
            finally:
                engine.dispose()
        run.retrain_records = asyncio.run(_retrain_records(broker.bootstrap))
        run.alerts, run.retrains = len(receiver.alerts), len(receiver.retrains)
    ok = _summary(run, simulator)
    _write_report(database, simulator.model_version, run.workdir / "report.html")
    return ok


def _write_report(database: str, model_version: str, out: Path) -> None:
    """The HTML report of the demo model's stored windows (``driftline report --model``)."""
    engine = make_engine(database)
    try:
        with engine.connect() as conn:
            data = from_store(conn, MODEL, model_version)
    except NoWindowsError as exc:
        click.echo(f"report   not written: {exc}")
        return
    finally:
        engine.dispose()
    out.write_text(render(data), encoding="utf-8")
    click.echo(f"report   {out} (open it in a browser; `driftline report --model {MODEL} "
               f"--model-version {model_version} --database {database}` writes it again)")


def _stream(run: DemoRun, bootstrap: str, simulator: Simulator, engine: Engine, port: int
            ) -> None:
    """Produce and print; Ctrl-C (or SIGTERM) stops the producer cleanly, then interrupts."""

    async def main() -> bool:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        producer = asyncio.create_task(_produce(run, bootstrap, simulator))
        stopping = asyncio.create_task(stop.wait())
        while not producer.done() and not stop.is_set():
            await asyncio.wait([producer, stopping], timeout=1.0)  # refresh every second
            print_rows(run.table, engine, run.sent_until)
        if stop.is_set():
            producer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await producer
            return False
        await producer
        deadline = time.monotonic() + 45
        while time.monotonic() < deadline and not stop.is_set():
            # the last windows close on the idle timeout; the last labels follow
            await asyncio.wait([stopping], timeout=1.0)
            print_rows(run.table, engine, run.sent_until)
            if _settled(run, port, engine):
                break
        print_rows(run.table, engine, run.sent_until, final=True)
        stopping.cancel()
        return not stop.is_set()

    if not asyncio.run(main()):
        raise KeyboardInterrupt


def _wait_deliveries(engine: Engine, timeout: float = 20.0) -> None:
    """Until the outbox is empty (every notification delivered or dead), or ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            if pending_count(conn) == 0:
                return
        time.sleep(0.5)  # polling the database; the deadline bounds it


async def _retrain_records(bootstrap: str, timeout: float = 5.0) -> int:
    """How many records the retrain topic holds (read from the start)."""
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(TOPICS.retrain, bootstrap_servers=bootstrap, group_id=None,
                                auto_offset_reset="earliest")
    await consumer.start()
    try:
        count, deadline = 0, time.monotonic() + timeout
        while time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=500)
            if not batches and count:
                break
            count += sum(len(records) for records in batches.values())
        return count
    finally:
        await consumer.stop()


def _metrics(port: int) -> dict[str, float]:
    """The worker's samples by name and label set, empty if they cannot be read."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as answer:
            text = answer.read().decode()
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return {}
    samples = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            samples[name] = float(value)
    return samples


def _settled(run: DemoRun, port: int, engine: Engine) -> bool:
    """Every window closed, every label sent accounted for and its performance stored."""
    samples = _metrics(port)
    if samples.get("driftline_open_windows") != 0:
        return False
    labels = {name: value for name, value in samples.items()
              if name.startswith("driftline_labels_total{")}
    handled = sum(v for n, v in labels.items() if 'outcome="expired"' not in n)
    joined = sum(v for n, v in labels.items() if 'outcome="joined"' in n)
    if handled < run.labels:
        return False
    with engine.connect() as conn:
        stored = sum(int(p["n_labels"]) for p in list_performance(conn, MODEL))
    return stored >= joined
