"""``driftline demo``: broker, database, worker and simulator on one machine, live.

It starts the embedded broker (Tansu) on a free port, an SQLite file under the
work folder, a worker process and the simulator. The simulator's event time runs
faster than the clock (``--speed`` seconds of event time per second), so a short
run spans many 5-minute windows; at a known event time it shifts some features.
While it runs, every closed window is printed with its drifted features; at the
end a summary names the drifted features and the window where drift began, and
checks them against what the simulator shifted (exit status 1 if they differ).
Ctrl-C stops everything and leaves no process behind.
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

from store import repository
from store.engine import make_engine
from streams.broker import EmbeddedBroker, free_port
from streams.producer import send_events
from streams.settings import child_environment
from streams.simulator import Simulator
from streams.topics import ensure_topics

MODEL = "fraud"
CONFIG = """\
# Written by `driftline demo`: 5-minute windows of event time, reference = first window.
models:
  default:
    window: {size: 5m, grace: 30s, idle_timeout: 8s}
    reference: {policy: first_window}
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
    seen: set[str] = field(default_factory=set)
    drift_began: str | None = None
    drifted: dict[str, str] = field(default_factory=dict)


@contextmanager
def _worker(workdir: Path, broker: str, database: str, port: int
            ) -> Iterator[subprocess.Popen[bytes]]:
    env = child_environment({"DRIFTLINE_BROKER_URL": broker, "DRIFTLINE_DATABASE_URL": database,
                             "DRIFTLINE_WORKER__WEB_PORT": str(port)})
    log = (workdir / "worker.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "streams.cli", "worker", "--config", str(workdir / "demo.yaml")],
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


def _print_new_windows(run: DemoRun, engine: Engine) -> None:
    with engine.connect() as conn:
        rows = repository.list_windows(conn, MODEL)
    for row in rows:
        key = f"{row['model_version']}@{row['window_start']}"
        if key in run.seen:
            continue
        run.seen.add(key)
        drifted = {f["name"]: f["severity"] for f in row["features"] + row["predictions"]
                   if f["drifted"]}
        if drifted and run.drift_began is None:
            run.drift_began = row["window_start"]
        for name, severity in drifted.items():
            run.drifted.setdefault(name, severity)
        share = "-" if row["drift_share"] is None else f"{row['drift_share']:.0%}"
        names = ", ".join(f"{n} ({s})" for n, s in drifted.items()) or "-"
        if len(run.seen) == 1:
            names = "(the reference window)"
        status = {"drift": "DATASET DRIFT", "insufficient_data": "insufficient data"}.get(
            row["status"], "feature drift" if drifted else "ok")
        click.echo(f"{row['window_start'][11:16]}-{row['window_end'][11:16]}  "
                   f"{row['n_events']:>6}  {share:>5}  {status:<14} {names}")


async def _produce(run: DemoRun, bootstrap: str, simulator: Simulator) -> int:
    count = None if run.duration is None else int(run.duration * run.rate)
    return await send_events(bootstrap, "driftline.predictions", simulator.events(count),
                             key=lambda e: str(e["model_id"]).encode(), rate=run.rate)


def _summary(run: DemoRun, simulator: Simulator) -> bool:
    shifted = set(simulator.shifted_features)
    found = {n for n in run.drifted if n not in ("prediction", "score")}
    click.echo("")
    click.echo(f"shift injected at event time {simulator.shift_time:%Y-%m-%d %H:%M} on: "
               f"{', '.join(sorted(shifted))}")
    click.echo(f"drift began in the window starting {run.drift_began or '-'}")
    click.echo(f"drifted features: {', '.join(sorted(found)) or '-'}")
    missed, false_alarms = shifted - found, found - shifted
    if missed:
        click.echo(f"MISSED: {', '.join(sorted(missed))}")
    if false_alarms:
        click.echo(f"FALSE ALARMS: {', '.join(sorted(false_alarms))}")
    ok = not missed and not false_alarms
    click.echo("result: every shifted feature found, no stable feature flagged" if ok
               else "result: the verdicts differ from the injected shift")
    return ok


def run_demo(run: DemoRun) -> bool:
    """Run the whole demo; True when drift was found exactly on the shifted features."""
    shutil.rmtree(run.workdir, ignore_errors=True)
    run.workdir.mkdir(parents=True)
    (run.workdir / "demo.yaml").write_text(CONFIG, encoding="utf-8")
    database = f"sqlite:///{(run.workdir / 'driftline.db').resolve()}"
    shift_at = 0.4 * run.duration * run.speed if run.duration else 1800.0
    span = timedelta(seconds=(run.duration or 0.0) * run.speed)
    origin = (datetime.now(UTC) - span).replace(second=0, microsecond=0)
    origin -= timedelta(minutes=origin.minute % 5)
    simulator = Simulator(seed=run.seed, model_id=MODEL, events_per_second=run.rate / run.speed,
                          shift_at=shift_at, start=origin)
    with EmbeddedBroker(port=free_port()) as broker:
        click.echo(f"broker   {broker.bootstrap} (embedded Tansu)")
        ensure_topics(broker.bootstrap, dict.fromkeys(
            ["driftline.predictions", "driftline.labels", "driftline.deadletter",
             "driftline.retrain"], 4))
        port = free_port()
        with _worker(run.workdir, broker.url, database, port) as worker:
            _wait_ready(port, worker, run.workdir / "worker.log", timeout=90)
            click.echo(f"worker   ready, metrics at http://127.0.0.1:{port}/metrics")
            click.echo(f"database {database}")
            click.echo("\nwindow       events  share  verdict        drifted features")
            engine = make_engine(database)
            try:
                _stream(run, broker.bootstrap, simulator, engine, port)
            finally:
                engine.dispose()
    return _summary(run, simulator)


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
            _print_new_windows(run, engine)
        if stop.is_set():
            producer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await producer
            return False
        await producer
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not stop.is_set():
            # the last windows close on the idle timeout
            await asyncio.wait([stopping], timeout=1.0)
            _print_new_windows(run, engine)
            if _open_windows(port) == 0:
                _print_new_windows(run, engine)
                break
        stopping.cancel()
        return not stop.is_set()

    if not asyncio.run(main()):
        raise KeyboardInterrupt


def _open_windows(port: int) -> int | None:
    """The worker's ``driftline_open_windows`` gauge, None if it cannot be read."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as answer:
            text = answer.read().decode()
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return None
    for line in text.splitlines():
        if line.startswith("driftline_open_windows "):
            return int(float(line.split()[1]))
    return None
