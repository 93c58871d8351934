"""Floods of names through a real worker: memory, /metrics and /healthz stay bounded.

A producer may send a new feature name or a new model id with every event. The
caps (``ingest.max_features_per_model``, ``ingest.max_models``,
``ingest.max_metric_features``) keep the worker's memory and series bounded, the
refused model versions go to the dead-letter topic, and the worker answers its
health checks meanwhile. The figures measured are printed (``pytest -s``).
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from store.engine import make_engine
from streams.devtools.broker import EmbeddedBroker
from tests.integration.event_stream import first_event_time, produce
from tests.integration.kafka_read import read_topic
from tests.integration.worker_harness import Worker, wait_for

pytestmark = pytest.mark.integration
SERIES_PER_COLUMN = 10  # docs/operations.md, "Metric series"
SERIES_PER_VERSION = 18
SERIES_PER_MODEL = 10
FIXED_SERIES = 150  # series that do not depend on models (process, memory, histogram...)


def series_bound(versions: int, features: int) -> int:
    """The documented bound on /metrics lines for ``versions`` versions with series."""
    return (versions * ((features + 2) * SERIES_PER_COLUMN + SERIES_PER_VERSION)
            + 2 * versions * SERIES_PER_MODEL + FIXED_SERIES)


def rss_bytes(pid: int) -> int:
    """The resident set size of process ``pid`` (``VmRSS`` of /proc/<pid>/status)."""
    status = Path(f"/proc/{pid}/status").read_text(encoding="ascii")
    (kib,) = re.findall(r"^VmRSS:\s+(\d+) kB$", status, re.MULTILINE)
    return int(kib) * 1024


def series(page: str) -> list[str]:
    return [line for line in page.splitlines() if line and not line.startswith("#")]


def stored(database_url: str, model_like: str = "%") -> tuple[int, int]:
    """(windows, events in them) stored for the models whose id is LIKE ``model_like``."""
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            row = conn.execute(text("SELECT count(*), coalesce(sum(n_events), 0) FROM windows "
                                    "WHERE model_id LIKE :m"), {"m": model_like}).one()
            return int(row[0]), int(row[1])
    finally:
        engine.dispose()


@contextmanager
def health_polled(worker: Worker) -> Iterator[list[float]]:
    """Poll /healthz all along; yields the answer times (a failed answer fails the test)."""
    times: list[float] = []
    failures: list[str] = []
    done = threading.Event()

    def poll() -> None:
        while not done.is_set():
            started = time.monotonic()
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{worker.port}/healthz",
                                            timeout=10) as answer:
                    if answer.status != 200:
                        failures.append(f"status {answer.status}")
            except OSError as error:
                failures.append(repr(error))
            times.append(time.monotonic() - started)
            done.wait(0.1)

    thread = threading.Thread(target=poll, daemon=True)
    thread.start()
    try:
        yield times
    finally:
        done.set()
        thread.join(15)
    assert failures == [], failures


def _event(i: int, model: str, seconds: float, features: dict[str, Any]) -> dict[str, Any]:
    at = first_event_time() + timedelta(seconds=seconds)
    return {"event_id": f"{model}-{i}", "model_id": model,
            "event_time": at.isoformat().replace("+00:00", "Z"),
            "features": features, "prediction": i % 2, "score": (i % 10) / 10}


def test_a_feature_name_flood_keeps_memory_metrics_and_health_bounded(
        tmp_path: Path, broker: EmbeddedBroker, database_url: str) -> None:
    worker = Worker(tmp_path, broker, database_url)
    try:
        worker.start()
        assert worker.process is not None
        # Warm up every code path on another model: decode, windows, store, /metrics.
        warm = [_event(i, "warm", i * 0.1, {"amount": float(i), "country": "DE"})
                for i in range(2_000)]
        produce(broker.bootstrap, worker.topics["predictions"], warm)
        wait_for(lambda: stored(database_url, "warm")[1] == len(warm), 120,
                 "the warm-up events to be stored")
        before = rss_bytes(worker.process.pid)
        # 1,000 events of a new model, 100 new names each: 100,000 distinct names.
        flood = [_event(i, "fraud", i * 0.1, {"amount": float(i), **{
            f"flood_feature_{i:04d}_{j:02d}": float(j) for j in range(100)}})
                 for i in range(1_000)]
        size = sum(len(json.dumps(e)) for e in flood)
        with health_polled(worker) as answers:
            produce(broker.bootstrap, worker.topics["predictions"], flood)
            wait_for(lambda: stored(database_url, "fraud")[1] == len(flood), 180,
                     "the flood's events to be stored")
        after = rss_bytes(worker.process.pid)
        assert worker.process.poll() is None
        page = worker.metrics()
        lines = series(page)
        features = {m for line in lines for m in re.findall(r'feature="([^"]*)"', line)}
        print(f"\nfeature flood: {size / 1e6:.1f} MB sent; RSS {before / 2**20:.0f} MiB -> "
              f"{after / 2**20:.0f} MiB; /metrics {len(page.encode())} bytes, {len(lines)} "
              f"series; /healthz {len(answers)} answers, worst {max(answers):.3f} s")
        assert size > 2_500_000
        assert after - before < 150 * 2**20
        assert max(answers) < 2.0
        assert len(answers) >= 5
        assert features <= {"amount", "country", "prediction", "score"} | {
            f"flood_feature_{i:04d}_{j:02d}" for i in range(1_000) for j in range(100)}
        assert len(features) <= 2 * (50 + 2)  # two versions of max_metric_features each
        assert len(lines) <= series_bound(2, 50)
        assert len(page.encode()) < 300_000
        dropped = worker.metric("driftline_features_dropped_total", model="fraud")
        assert dropped == 100_000 - 999  # every value of every name past the first 1,000
    finally:
        worker.stop()


def test_a_model_id_flood_is_dead_lettered_beyond_max_models(
        tmp_path: Path, broker: EmbeddedBroker, database_url: str) -> None:
    cap, models = 20, 5_000
    # idle_timeout long: no admitted version goes silent long enough to be let go of
    # during the test, so exactly ``cap`` versions are admitted.
    worker = Worker(tmp_path, broker, database_url, idle=600,
                    extra=f"ingest: {{max_models: {cap}}}\n")
    try:
        worker.start()
        assert worker.process is not None
        before = rss_bytes(worker.process.pid)
        # Two events per model: the second, two windows later, closes the first's window.
        events = [_event(n, f"flood-{n:05d}", 0, {"amount": float(n)}) for n in range(models)]
        events += [_event(n + models, f"flood-{n:05d}", 130, {"amount": float(n)})
                   for n in range(models)]
        refused = 2 * (models - cap)
        with health_polled(worker) as answers:
            produce(broker.bootstrap, worker.topics["predictions"], events)
            wait_for(lambda: worker.metric("driftline_events_invalid_total",
                                           reason="too_many_models") >= refused, 180,
                     "the refused events to be dead-lettered")
            wait_for(lambda: stored(database_url)[0] >= cap, 120,
                     "the admitted models' first windows to be stored")
        after = rss_bytes(worker.process.pid)
        assert worker.metric("driftline_events_invalid_total",
                             reason="too_many_models") == refused
        assert worker.metric("driftline_events_total", outcome="accepted") == 2 * cap
        assert stored(database_url) == (cap, cap)  # one event in each first window
        letters = [json.loads(r.value) for r in asyncio.run(
            read_topic(broker.bootstrap, worker.topics["deadletter"]))]
        assert len(letters) == refused
        assert {letter["reason"] for letter in letters} == {"too_many_models"}
        refused_models = {letter["key"]["data"] for letter in letters}
        assert len(refused_models) == models - cap
        for letter in letters[:50]:
            event = json.loads(letter["value"]["data"])
            assert event["model_id"] == letter["key"]["data"]
            assert f"model {event['model_id']!r} version '1' is not admitted" in letter["error"]
        page = worker.metrics()
        lines = series(page)
        with_series = {m for line in lines for m in re.findall(r'model="([^"]*)"', line)}
        print(f"\nmodel flood: RSS {before / 2**20:.0f} MiB -> {after / 2**20:.0f} MiB; "
              f"/metrics {len(page.encode())} bytes, {len(lines)} series, "
              f"{len(with_series)} models; /healthz {len(answers)} answers, "
              f"worst {max(answers):.3f} s")
        assert len(with_series) == cap
        assert not with_series & refused_models
        assert len(lines) <= series_bound(cap, 1)
        assert max(answers) < 2.0
        logged = worker.log.read_text().count("ingest.max_models allows")
        assert 1 <= logged <= 3  # at most once a minute
    finally:
        worker.stop()
