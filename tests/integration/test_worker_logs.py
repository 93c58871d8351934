"""The worker's log and web server, end to end: embedded broker, SQLite, a worker process."""

from __future__ import annotations

import asyncio
import json
import re
import signal
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from streams.devtools.broker import EmbeddedBroker
from streams.devtools.simulator import Simulator
from streams.transport.producer import send_raw
from tests.integration.event_stream import first_event_time, produce
from tests.integration.stored import stored_windows
from tests.integration.worker_harness import RATE, WINDOW, Worker, wait_for

pytestmark = pytest.mark.integration
TEXT_LINE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (DEBUG|INFO|WARNING|ERROR) "
                       r"[\w.]+: \S")
# Every path Faust's web server serves by default or in debug mode (streams.app.web).
FAUST_PAGES = ("/", "/router/", "/router/topics", "/router/t/", "/router/t/k/", "/table/",
               "/table/t/", "/table/t/k/", "/assignment/", "/graph/", "/performance/",
               "/stats/")
JUNK = [b"{not json", b'{"model_id": "fraud"}', b"[]"]


@pytest.fixture
def sqlite_worker(tmp_path: Path, broker: EmbeddedBroker) -> Iterator[Worker]:
    running = Worker(tmp_path, broker, f"sqlite:///{tmp_path / 'driftline.db'}")
    try:
        yield running
    finally:
        running.stop(signal.SIGKILL)


def send_traffic(worker: Worker, broker: EmbeddedBroker, windows: int) -> int:
    """``windows`` windows of simulated events (drift from the third) and the junk."""
    simulator = Simulator(seed=11, start=first_event_time(), events_per_second=RATE,
                          shift_at=2 * WINDOW)
    events = list(simulator.events(windows * int(WINDOW * RATE)))
    produce(broker.bootstrap, worker.topics["predictions"], events)
    asyncio.run(send_raw(broker.bootstrap, worker.topics["predictions"], JUNK,
                         [b"fraud"] * len(JUNK)))
    return len(events)


def stop_and_read(worker: Worker, database: str, events: int) -> list[str]:
    wait_for(lambda: sum(w["n_events"] for w in stored_windows(database)) == events, 120,
             "every window to be stored")
    worker.stop(signal.SIGTERM)
    assert worker.process is not None
    assert worker.process.returncode == 0
    return worker.log.read_text(encoding="utf-8").splitlines()


def test_the_text_log_has_one_line_per_record_and_says_what_happened(
        sqlite_worker: Worker, broker: EmbeddedBroker, tmp_path: Path) -> None:
    worker = sqlite_worker
    worker.start()
    assert {path: worker.status(path) for path in FAUST_PAGES} == dict.fromkeys(FAUST_PAGES, 404)
    assert [worker.status(p) for p in ("/metrics", "/healthz", "/readyz")] == [200, 200, 200]
    database = f"sqlite:///{tmp_path / 'driftline.db'}"
    events = send_traffic(worker, broker, windows=4)
    lines = stop_and_read(worker, database, events)

    # One line per record: no framework tables, no mode start/stop lines, no continuation.
    assert [line for line in lines if not TEXT_LINE.match(line)] == []
    assert not any("[^" in line or "+---" in line for line in lines)
    topic = worker.topics["predictions"]
    assert sum(f"ready: partitions 0-1 of {topic} assigned" in line for line in lines) == 1
    closed = [line for line in lines if "window closed: model fraud v1, " in line]
    stored = stored_windows(database)
    assert len(closed) == len(stored) == 4
    counts = [int(m[1]) for line in closed if (m := re.search(r", (\d+) events, ", line))]
    assert Counter(counts) == Counter(w["n_events"] for w in stored)
    assert any("verdict feature drift" in line or "verdict dataset drift" in line
               for line in closed)
    letters = [re.search(r"dead letters: (\d+) in the last", line) for line in lines]
    assert sum(int(m[1]) for m in letters if m) == len(JUNK)


def test_json_lines_all_parse_and_carry_the_fields(sqlite_worker: Worker,
                                                   broker: EmbeddedBroker,
                                                   tmp_path: Path) -> None:
    worker = sqlite_worker
    worker.start("--log-format", "json")
    events = send_traffic(worker, broker, windows=2)
    lines = stop_and_read(worker, f"sqlite:///{tmp_path / 'driftline.db'}", events)
    records: list[dict[str, Any]] = [json.loads(line) for line in lines]
    assert records
    assert all(r.keys() >= {"time", "level", "logger", "message"} for r in records)
    by_event: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        by_event.setdefault(record.get("event", ""), []).append(record)
    (ready,) = by_event["ready"]
    assert ready["partitions"] == [0, 1]
    windows = by_event["window_closed"]
    assert len(windows) == 2
    for window in windows:
        assert (window["model"], window["version"]) == ("fraud", "1")
        assert window["window_start"] < window["window_end"]
        assert window["verdict"] in ("no_drift", "feature_drift", "dataset_drift",
                                     "insufficient_data")
        assert isinstance(window["drifted"], list)
    assert sum(w["events"] for w in windows) == events
    assert sum(r["total"] for r in by_event["dead_letters"]) == len(JUNK)


def test_readyz_follows_the_partition_between_two_workers(tmp_path: Path,
                                                           broker: EmbeddedBroker) -> None:
    """One partition, two workers of one group: exactly one is ready, and says so.

    When the second joins, the group revokes the first one's partition and gives it
    to one of them (the round-robin assignor orders members by their random ids).
    The other answers 503 and its log says why; once the holder is killed, the other
    takes the partition over and becomes ready.
    """
    database = f"sqlite:///{tmp_path / 'driftline.db'}"
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
    first = Worker(tmp_path / "a", broker, database, partitions=1)
    second = Worker(tmp_path / "b", broker, database, like=first, partitions=1)
    try:
        first.start()
        second.start(wait=False)
        topic = first.topics["predictions"]

        def settled() -> bool:
            joined = "of " + topic in second.log.read_text(encoding="utf-8")
            statuses = sorted(w.status("/readyz") for w in (first, second))
            return joined and statuses == [200, 503]

        wait_for(settled, 90, "the second worker to join and the partition to settle")
        holder, other = (first, second) if first.status("/readyz") == 200 else (second, first)
        assert "ready: partitions 0 of" in holder.log.read_text(encoding="utf-8")
        log = other.log.read_text(encoding="utf-8")
        assert "not ready until partitions are assigned" in log
        assert (f"partitions 0 of {topic} revoked; holding none" in log
                or f"no partitions of {topic} assigned" in log)
        # The first worker's partition was revoked when the second joined, in any case.
        assert f"partitions 0 of {topic} revoked" in first.log.read_text(encoding="utf-8")
        holder.stop(signal.SIGKILL)
        wait_for(lambda: other.status("/readyz") == 200, 60,
                 "the other worker to take the partition over")
    finally:
        first.stop(signal.SIGKILL)
        second.stop(signal.SIGKILL)
