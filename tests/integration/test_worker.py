"""The worker end to end: real embedded broker, real PostgreSQL, a worker in its own process."""

from __future__ import annotations

import asyncio
import json
import signal
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

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
from streams.devtools.broker import EmbeddedBroker
from streams.devtools.simulator import Simulator
from streams.transport.producer import encode_event, send_raw
from tests.integration.event_stream import first_event_time, produce, window_of
from tests.integration.stored import stored_counts, stored_total, stored_windows
from tests.integration.worker_harness import RATE, WINDOW, Worker, wait_for

pytestmark = pytest.mark.integration


@pytest.fixture
def worker(tmp_path: Path, broker: EmbeddedBroker, database_url: str) -> Iterator[Worker]:
    running = Worker(tmp_path, broker, database_url)
    try:
        yield running
    finally:
        running.stop(signal.SIGKILL)


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
