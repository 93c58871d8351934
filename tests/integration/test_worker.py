"""The worker end to end: real embedded broker, real PostgreSQL, a worker in its own process."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from click.testing import CliRunner
from sqlalchemy import text

from detectors import compare
from store.engine import make_engine
from streams.cli.main import main as cli_main
from streams.config.settings import load_settings
from streams.decoding.columns import to_model_batches
from streams.decoding.events import RawMessage, decode_predictions
from streams.devtools.broker import EmbeddedBroker, free_port
from streams.devtools.simulator import Simulator
from streams.transport.producer import encode_event, send_events, send_raw
from streams.transport.topics import ensure_topics

pytestmark = pytest.mark.integration
WINDOW = 60  # seconds of event time
RATE = 50.0  # events per second of event time: 3,000 events per window
CONFIG = """\
topics: {{predictions: {prefix}.predictions, labels: {prefix}.labels,
         deadletter: {prefix}.deadletter, retrain: {prefix}.retrain, join: {prefix}.join,
         outcomes: {prefix}.outcomes, partitions: {partitions}}}
worker: {{group_id: {prefix}, web_port: {port}, checkpoint_interval: 1s}}
{extra}models:
  default:
    window: {{size: {window}s, grace: {grace}s, idle_timeout: {idle}s}}
    thresholds: {thresholds}
{model}"""
# The first window is the reference: the tests' windows hold a few thousand events.
FIRST_WINDOW = "{min_reference_rows: 0}"


class Worker:
    """``driftline worker`` in its own process group, with its settings file."""

    def __init__(self, tmp: Path, broker: EmbeddedBroker, database_url: str,
                 like: Worker | None = None, idle: float = 3.0, *, grace: float = 10,
                 partitions: int = 2, extra: str = "", model: str = "",
                 thresholds: str = FIRST_WINDOW) -> None:
        """A worker of its own topics and group, or of ``like``'s (a second member).

        ``extra`` adds top-level sections to its configuration file, ``model`` keys
        of ``models.default`` (indented by four spaces), ``thresholds`` is that
        model's ``thresholds`` (YAML flow mapping).
        """
        self.prefix: str = like.prefix if like else f"t{uuid.uuid4().hex[:10]}"
        self.port = free_port()
        self.tmp = tmp
        self.config = tmp / "driftline.yaml"
        self.config.write_text(CONFIG.format(prefix=self.prefix, port=self.port, window=WINDOW,
                                             idle=idle, grace=grace, partitions=partitions,
                                             extra=extra, model=model,
                                             thresholds=thresholds), encoding="utf-8")
        self.env = {**os.environ, "DRIFTLINE_BROKER_URL": broker.url,
                    "DRIFTLINE_DATABASE_URL": database_url}
        self.settings = load_settings(self.config, self.env)
        self.log = tmp / "worker.log"
        self.process: subprocess.Popen[bytes] | None = None
        ensure_topics(broker.bootstrap, dict.fromkeys(self.topics.values(), partitions))

    @property
    def topics(self) -> dict[str, str]:
        t = self.settings.topics
        return {"predictions": t.predictions, "labels": t.labels, "deadletter": t.deadletter,
                "retrain": t.retrain, "join": t.join, "outcomes": t.outcomes}

    def start(self, *args: str, wait: bool = True) -> None:
        """Start it with ``args`` added to its command line; wait until it is ready."""
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "streams.cli.main", "worker", "--config", str(self.config),
                 *args],
                env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                cwd=self.tmp)
        if wait:
            wait_for(self._ready, 90, "the worker to be ready")

    def status(self, path: str) -> int:
        """The HTTP status ``path`` answers with (0 when the server does not answer)."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}",
                                        timeout=2) as answer:
                return int(answer.status)
        except urllib.error.HTTPError as error:
            return int(error.code)
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return 0

    def _ready(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError("worker exited:\n" + self.log.read_text()[-3000:])
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/readyz",
                                        timeout=1) as answer:
                return bool(answer.status == 200)
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return False

    def metrics(self, query: str = "") -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics{query}",
                                    timeout=2) as r:
            return str(r.read().decode())

    def metric(self, name: str, **labels: str) -> float:
        """The sum of the samples of ``name`` whose labels include ``labels``."""
        total = 0.0
        for line in self.metrics().splitlines():
            if line.startswith(name + "{") and all(f'{k}="{v}"' in line
                                                   for k, v in labels.items()):
                total += float(line.rsplit(" ", 1)[1])
        return total

    def stop(self, sig: signal.Signals = signal.SIGTERM) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, sig)
            self.process.wait(30)


@pytest.fixture
def worker(tmp_path: Path, broker: EmbeddedBroker, database_url: str) -> Iterator[Worker]:
    running = Worker(tmp_path, broker, database_url)
    try:
        yield running
    finally:
        running.stop(signal.SIGKILL)


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll ``condition`` until it holds; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.2)


def stored_windows(database_url: str) -> list[dict[str, Any]]:
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            from store import repository

            return repository.list_windows(conn, "fraud")
    finally:
        engine.dispose()


def first_event_time() -> datetime:
    """Event time of the first simulated event: two hours ago, on a whole hour."""
    return (datetime.now(UTC) - timedelta(hours=2)).replace(minute=0, second=0, microsecond=0)


def window_of(event: dict[str, Any]) -> float:
    moment = datetime.fromisoformat(str(event["event_time"]).replace("Z", "+00:00"))
    return float(np.floor(moment.timestamp() / WINDOW) * WINDOW)


def produce(bootstrap: str, topic: str, events: list[dict[str, Any]]) -> None:
    sent = asyncio.run(send_events(bootstrap, topic, events,
                                   key=lambda e: str(e["model_id"]).encode()))
    assert sent == len(events)


def _columns(events: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
    raws = [RawMessage("t", 0, i, None, encode_event(e), None) for i, e in enumerate(events)]
    settings = load_settings(None, {})
    decoded = decode_predictions(raws, now=datetime.now(UTC), ingest=settings.ingest,
                                 known_models=None)
    assert not decoded.dead_letters
    (batch,) = to_model_batches(decoded.events, decoded.positions).values()
    return batch.columns, batch.missing


def test_stored_statistics_equal_compare_on_the_same_slices(worker: Worker,
                                                            broker: EmbeddedBroker,
                                                            database_url: str) -> None:
    simulator = Simulator(seed=3, start=first_event_time(), events_per_second=RATE,
                          shift_at=3 * WINDOW)
    events = list(simulator.events(6 * int(WINDOW * RATE)))
    worker.start()
    produce(broker.bootstrap, worker.topics["predictions"], events)
    per_window = Counter(window_of(e) for e in events)
    wait_for(lambda: sum(w["n_events"] for w in stored_windows(database_url)) == len(events),
             120, "every window to be stored")
    windows = stored_windows(database_url)
    assert [w["n_events"] for w in windows] == [per_window[k] for k in sorted(per_window)]
    by_window: dict[float, list[dict[str, Any]]] = {}
    for event in events:
        by_window.setdefault(window_of(event), []).append(event)
    starts = sorted(by_window)
    ref_cols, ref_missing = _columns(by_window[starts[0]])
    for start, stored in zip(starts[1:], windows[1:], strict=True):
        cur_cols, cur_missing = _columns(by_window[start])
        kinds: dict[str, Any] = {n: "categorical" if v.dtype == object else "numeric"
                                 for n, v in ref_cols.items()}
        expected = compare(ref_cols, cur_cols, kinds, reference_missing=ref_missing,
                           current_missing=cur_missing,
                           roles={"prediction": "prediction", "score": "prediction"},
                           policy=worker.settings.model("fraud").policy)
        got = {f["name"]: f for f in stored["features"] + stored["predictions"]}
        for want in (*expected.features, *expected.predictions):
            for key in ("psi", "ks_statistic", "ks_pvalue", "chi2_statistic", "js_distance"):
                value = getattr(want, key)
                if value is None:
                    assert got[want.name].get(key) is None, (want.name, key)
                else:
                    assert got[want.name][key] == pytest.approx(value, rel=1e-9, abs=1e-12), (
                        want.name, key)
            assert got[want.name]["severity"] == want.severity
        drifted = {f["name"] for f in stored["features"] if f["drifted"]}
        shifted = start >= window_of(events[0]) + 3 * WINDOW
        assert drifted == (set(simulator.shifted_features) if shifted else set()), start


def test_malformed_events_go_to_the_dead_letter_topic(worker: Worker, broker: EmbeddedBroker,
                                                      database_url: str) -> None:
    simulator = Simulator(seed=4, start=first_event_time(), events_per_second=RATE,
                          shift_at=None)
    n = 2 * int(WINDOW * RATE)
    payloads = list(simulator.payloads(n, invalid_rate=0.05))
    invalid = set(simulator.invalid_indices(n, 0.05))
    worker.start()
    asyncio.run(send_raw(broker.bootstrap, worker.topics["predictions"],
                         [v for _, v in payloads], [k for k, _ in payloads]))
    wait_for(lambda: invalid_total(worker) == len(invalid), 60, "every invalid event counted")
    letters = asyncio.run(_consume(broker.bootstrap, worker.topics["deadletter"], len(invalid)))
    assert len(letters) == len(invalid)
    assert {letter["reason"] for letter in letters} <= {"bad_json", "wrong_type",
                                                        "missing_field", "bad_value"}
    assert all(letter.keys() >= {"topic", "partition", "offset", "error"} for letter in letters)
    shown = CliRunner().invoke(cli_main, ["deadletter", "--config", str(worker.config),
                                          "--limit", str(len(invalid)), "--format", "json"],
                               env=worker.env)
    assert shown.exit_code == 0, shown.output
    def source(letter: dict[str, Any]) -> tuple[int, int]:
        return letter["partition"], letter["offset"]

    assert sorted(map(json.loads, shown.stdout.splitlines()), key=source) == sorted(
        letters, key=source)
    wait_for(lambda: sum(w["n_events"] for w in stored_windows(database_url)) == n - len(invalid),
             90, "the valid events to be stored")
    # ?name[]= restricts /metrics to the series named, as prometheus_client's server does.
    lines = [line for line in worker.metrics("?name[]=driftline_events_invalid_total"
                                             "&name[]=driftline_windows_closed_total")
             .splitlines() if line and not line.startswith("#")]
    assert {line.split("{")[0] for line in lines} == {"driftline_events_invalid_total",
                                                      "driftline_windows_closed_total"}
    assert sum(float(line.split()[-1]) for line in lines
               if line.startswith("driftline_events_invalid_total{")) == len(invalid)


async def _consume(bootstrap: str, topic: str, expected: int) -> list[dict[str, Any]]:
    """Every message of ``topic`` (all partitions, from the start), waiting for ``expected``."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    letters: list[dict[str, Any]] = []
    deadline = time.monotonic() + 60
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or []]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        while len(letters) < expected and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=500)
            letters += [json.loads(r.value) for rs in batches.values() for r in rs]
    finally:
        await consumer.stop()
    return letters


def invalid_total(worker: Worker) -> float:
    return sum(float(line.split()[-1]) for line in worker.metrics().splitlines()
               if line.startswith("driftline_events_invalid_total{"))


def test_kill_minus_9_mid_window_loses_and_doubles_nothing(worker: Worker,
                                                          broker: EmbeddedBroker,
                                                          database_url: str) -> None:
    simulator = Simulator(seed=5, start=first_event_time(), events_per_second=RATE,
                          shift_at=None)
    events = list(simulator.events(5 * int(WINDOW * RATE) + 1234))
    first, rest = events[:9_000], events[9_000:]
    worker.start()
    produce(broker.bootstrap, worker.topics["predictions"], first)
    engine = make_engine(database_url)

    def checkpointed() -> int:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT coalesce(sum(next_offset), 0) FROM "
                                         "ingest_checkpoints")).scalar_one())

    wait_for(lambda: checkpointed() >= 4_000, 60, "a checkpoint in the middle of the stream")
    worker.stop(signal.SIGKILL)
    produce(broker.bootstrap, worker.topics["predictions"], rest)
    worker.start()
    wait_for(lambda: sum(w["n_events"] for w in stored_windows(database_url)) >= len(events),
             120, "every window to be stored")
    engine.dispose()
    expected = Counter(window_of(e) for e in events)
    windows = stored_windows(database_url)
    assert [w["n_events"] for w in windows] == [expected[k] for k in sorted(expected)]
    assert sum(w["n_events"] for w in windows) == len(events)


def test_a_worker_taking_over_partitions_continues_their_windows(
        tmp_path: Path, broker: EmbeddedBroker, database_url: str) -> None:
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
    # A long idle timeout: the pauses of the test must not close windows early.
    first = Worker(tmp_path / "a", broker, database_url, idle=300)
    second = Worker(tmp_path / "b", broker, database_url, like=first, idle=300)
    models = [f"model-{i}" for i in range(6)]  # keys spread over both partitions
    simulators = [Simulator(seed=10 + i, model_id=m, start=first_event_time(),
                            events_per_second=RATE, shift_at=None) for i, m in enumerate(models)]
    per_model = 3 * int(WINDOW * RATE) + 777
    events = [list(s.events(per_model)) for s in simulators]
    # One event per model far ahead in event time closes every window before it.
    flush = [next(Simulator(seed=99, model_id=m, start=first_event_time()
                            + timedelta(seconds=20 * WINDOW)).events(1)) for m in models]
    try:
        first.start()
        produce_many(broker.bootstrap, first.topics["predictions"], [e[:4_000] for e in events])
        wait_for(lambda: accepted(first) >= 6 * 4_000, 120, "the first worker to read")
        second.start()  # a rebalance splits the partitions between the two workers
        produce_many(broker.bootstrap, first.topics["predictions"],
                     [e[4_000:7_000] for e in events])
        first.stop()  # a clean stop: its partitions go to the second worker
        produce_many(broker.bootstrap, first.topics["predictions"],
                     [e[7_000:] for e in events] + [flush])
        wait_for(lambda: sum(stored_total(database_url, m) for m in models) == 6 * per_model,
                 180, "every window of every model to be stored")
        for model, model_events in zip(models, events, strict=True):
            expected = Counter(window_of(e) for e in model_events)
            assert stored_counts(database_url, model) == [expected[k] for k in sorted(expected)]
    finally:
        first.stop(signal.SIGKILL)
        second.stop(signal.SIGKILL)


def produce_many(bootstrap: str, topic: str, parts: list[list[dict[str, Any]]]) -> None:
    produce(bootstrap, topic, [event for part in parts for event in part])


def accepted(worker: Worker) -> float:
    if worker.process is None or worker.process.poll() is not None:
        return 0.0
    return sum(float(line.split()[-1]) for line in worker.metrics().splitlines()
               if line.startswith('driftline_events_total{') and 'outcome="accepted"' in line)


def stored_counts(database_url: str, model: str) -> list[int]:
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            from store import repository

            return [w["n_events"] for w in repository.list_windows(conn, model)]
    finally:
        engine.dispose()


def stored_total(database_url: str, model: str) -> int:
    return sum(stored_counts(database_url, model))
