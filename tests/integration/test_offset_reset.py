"""A broker that comes back empty (offsets start again below the worker's checkpoint) loses
no event: the worker reads the restarted log from its beginning, logs it and counts it."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from streams.devtools.broker import EmbeddedBroker, free_port
from streams.devtools.simulator import Simulator
from streams.transport.topics import ensure_topics
from tests.integration.event_stream import first_event_time, produce
from tests.integration.stored import stored_windows
from tests.integration.worker_harness import RATE, WINDOW, Worker, wait_for

pytestmark = pytest.mark.integration


def _tail(worker: Worker) -> str:
    lines = worker.log.read_text(encoding="utf-8", errors="replace").splitlines()
    return "\n".join(line[:300] for line in lines[-60:])


@pytest.fixture
def own_broker() -> Iterator[EmbeddedBroker]:
    """A broker of this test alone, on a port it can be started on again."""
    with EmbeddedBroker(port=free_port()) as running:
        yield running


def test_an_emptied_broker_is_read_again_from_its_beginning(
        tmp_path: Path, own_broker: EmbeddedBroker, database_url: str) -> None:
    worker = Worker(tmp_path, own_broker, database_url, partitions=1)
    events = list(Simulator(seed=5, start=first_event_time(), events_per_second=RATE)
                  .events(6 * int(WINDOW * RATE)))
    before, after = events[:4 * int(WINDOW * RATE)], events[4 * int(WINDOW * RATE):]
    try:
        worker.start()
        produce(own_broker.bootstrap, worker.topics["predictions"], before)
        wait_for(lambda: sum(w["n_events"] for w in stored_windows(database_url)) == len(before),
                 120, "the events before the reset to be stored")
        own_broker.stop()  # in memory: it comes back with no topics and no records
        own_broker.start()
        ensure_topics(own_broker.bootstrap, dict.fromkeys(worker.topics.values(), 1))
        produce(own_broker.bootstrap, worker.topics["predictions"], after)
        assert len(after) < len(before)  # the new log ends below the worker's checkpoint
        wait_for(lambda: sum(w["n_events"] for w in stored_windows(database_url))
                 == len(events), 180, "the events after the reset to be stored")
        wait_for(lambda: worker.metric("driftline_offset_resets_total",
                                       topic=worker.topics["predictions"]) >= 1,
                 30, "the reset to be counted")
    except AssertionError as failure:
        raise AssertionError(f"{failure}\nworker log:\n{_tail(worker)}") from None
    finally:
        worker.stop(signal.SIGKILL)
    log = worker.log.read_text(encoding="utf-8", errors="replace")
    assert f"of {worker.topics['predictions']} restarted" in log
