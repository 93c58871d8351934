"""Which reference a window is judged against, end to end.

Real embedded broker, real PostgreSQL, ``driftline worker`` in its own process
(the helpers of ``test_worker``). A reference stored with ``driftline reference
set`` before the worker starts serves every window; under the ``previous_window``
policy each window is judged against the one before it, so a single shift shows
in the first shifted window only.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from store import repository
from store.engine import make_engine
from streams.devtools.broker import EmbeddedBroker
from streams.devtools.simulator import Simulator
from tests.integration.event_stream import first_event_time, produce, window_of
from tests.integration.stored import stored_windows
from tests.integration.worker_harness import RATE, WINDOW, Worker, wait_for

pytestmark = pytest.mark.integration
PER_WINDOW = int(WINDOW * RATE)
SHIFTED = set(Simulator.shifted_features)
GRACE = 10  # seconds after a window's end before the watermark closes it
class PolicyWorker(Worker):
    """A ``Worker`` whose models use the reference ``policy``."""

    def __init__(self, tmp: Path, broker: EmbeddedBroker, database_url: str, policy: str,
                 idle_timeout: float = 3.0) -> None:
        super().__init__(tmp, broker, database_url, idle=idle_timeout, grace=GRACE,
                         model=f"    reference: {{policy: {policy}}}\n")
        model = self.settings.model("fraud")
        assert (model.reference.policy, model.window.idle_timeout) == (policy, idle_timeout)


def _running(worker: PolicyWorker) -> Iterator[PolicyWorker]:
    try:
        yield worker
    finally:
        worker.stop(signal.SIGKILL)


@pytest.fixture
def file_worker(tmp_path: Path, broker: EmbeddedBroker,
                database_url: str) -> Iterator[PolicyWorker]:
    """The default policy (``first_window``), which a stored reference overrides."""
    yield from _running(PolicyWorker(tmp_path, broker, database_url, "first_window"))


@pytest.fixture
def previous_worker(tmp_path: Path, broker: EmbeddedBroker,
                    database_url: str) -> Iterator[PolicyWorker]:
    # 6 s idle: a paced stream's pauses (a poll and a produce) never close a window.
    yield from _running(PolicyWorker(tmp_path, broker, database_url, "previous_window",
                                     idle_timeout=6.0))


def simulated(seed: int, n_windows: int, shift_windows: int
              ) -> tuple[Simulator, list[dict[str, Any]]]:
    """Events of ``n_windows`` whole windows, shifted from window ``shift_windows`` on.

    The simulator makes a few events late by up to 10 s; those among the very
    first events would fall before its start, in a window of their own: left out.
    """
    start = first_event_time()
    simulator = Simulator(seed=seed, start=start, events_per_second=RATE,
                          shift_at=shift_windows * WINDOW)
    events = [e for e in simulator.events(n_windows * PER_WINDOW)
              if window_of(e) >= start.timestamp()]
    return simulator, events


def seconds(event: dict[str, Any]) -> float:
    return datetime.fromisoformat(str(event["event_time"]).replace("Z", "+00:00")).timestamp()


def window_start(window: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(str(window["window_start"]).replace("Z", "+00:00"))


def drifted(window: dict[str, Any]) -> set[str]:
    return {f["name"] for f in window["features"] if f["drifted"]}


def n_stored(database_url: str) -> int:
    return sum(int(w["n_events"]) for w in stored_windows(database_url))


def n_windows_stored(database_url: str, n: int) -> bool:
    return len(stored_windows(database_url)) == n


def load_reference(database_url: str) -> repository.StoredReference | None:
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            return repository.load_reference(conn, "fraud", "1")
    finally:
        engine.dispose()


def reference_file(path: Path, seed: int, n: int) -> Path:
    """Unshifted simulated events flattened to columns: the features, prediction and score."""
    simulator = Simulator(seed=seed, start=first_event_time() - timedelta(days=1),
                          events_per_second=RATE, shift_at=None)
    rows = [{**e["features"], "prediction": e["prediction"], "score": e["score"]}
            for e in simulator.events(n)]
    pq.write_table(pa.Table.from_pylist(rows), path)
    return path


def test_a_reference_stored_before_start_judges_every_window(
    tmp_path: Path, file_worker: PolicyWorker, broker: EmbeddedBroker, database_url: str
) -> None:
    path = reference_file(tmp_path / "reference.parquet", seed=21, n=2 * PER_WINDOW)
    done = subprocess.run(
        [sys.executable, "-m", "streams.cli.main", "reference", "set", "fraud", str(path),
         "--database", database_url], capture_output=True, text=True, check=False, timeout=60)
    assert done.returncode == 0, done.stderr
    reference = load_reference(database_url)
    assert reference is not None
    assert (reference.source, reference.model_version) == ("file", "")
    assert reference.profile.n_rows == 2 * PER_WINDOW
    assert {c.name for c in reference.profile.columns if c.role == "prediction"} == {
        "prediction", "score"}
    simulator, events = simulated(seed=7, n_windows=4, shift_windows=2)
    file_worker.start()
    produce(broker.bootstrap, file_worker.topics["predictions"], events)
    wait_for(lambda: n_stored(database_url) == len(events), 60, "every window to be stored")
    windows = stored_windows(database_url)
    assert [window_start(w) for w in windows] == [
        simulator.start + timedelta(seconds=k * WINDOW) for k in range(4)]
    assert [w["reference_source"] for w in windows] == ["file"] * 4
    assert [w["reference_id"] for w in windows] == [reference.id] * 4
    assert [w["n_reference_rows"] for w in windows] == [2 * PER_WINDOW] * 4
    assert simulator.shift_time == simulator.start + timedelta(seconds=2 * WINDOW)
    assert [drifted(w) for w in windows] == [set(), set(), SHIFTED, SHIFTED]
    assert [w["prediction_drift"] for w in windows] == [False, False, True, True]
    after = load_reference(database_url)
    assert after is not None
    assert (after.id, after.source, after.profile.n_rows) == (reference.id, "file",
                                                              2 * PER_WINDOW)


def paced(events: list[dict[str, Any]], origin: float, n_windows: int
          ) -> list[list[dict[str, Any]]]:
    """``events`` cut 15 s after each window's end (windows from ``origin``, in seconds).

    Each piece closes exactly one window: a window closes when the watermark
    passes its end + 10 s (grace), and a piece ends 15 s into the next window, so
    it closes its own window and not the next; no later event falls into a closed
    window (events are at most 10 s late).
    """
    pieces, low = [], 0
    for k in range(1, n_windows):
        cut = origin + k * WINDOW + GRACE + 5
        high = next(i for i in range(low, len(events)) if seconds(events[i]) >= cut)
        pieces.append(events[low:high])
        low = high
    return [*pieces, events[low:]]


def test_previous_window_judges_each_window_against_the_one_before(
    previous_worker: PolicyWorker, broker: EmbeddedBroker, database_url: str
) -> None:
    simulator, events = simulated(seed=8, n_windows=6, shift_windows=3)
    previous_worker.start()
    topic = previous_worker.topics["predictions"]
    for k, piece in enumerate(paced(events, simulator.start.timestamp(), 6)):
        produce(broker.bootstrap, topic, piece)
        if k < 5:
            wait_for(partial(n_windows_stored, database_url, k + 1), 30,
                     f"window {k} to be stored")
    wait_for(lambda: n_stored(database_url) == len(events), 60, "every window to be stored")
    windows = stored_windows(database_url)
    assert len(windows) == 6
    # Window 0 is the first reference; window 1 is judged against it, so its source is
    # first_window too; every later window against a reference built from its predecessor.
    assert [w["reference_source"] for w in windows] == [
        "first_window", "first_window", *["previous_window"] * 4]
    assert [w["n_reference_rows"] for w in windows[1:]] == [w["n_events"] for w in windows[:-1]]
    assert simulator.shift_time == window_start(windows[3])
    assert [drifted(w) for w in windows] == [set(), set(), set(), SHIFTED, set(), set()]
    assert [w["prediction_drift"] for w in windows[1:]] == [False, False, True, False, False]
    reference = load_reference(database_url)
    assert reference is not None
    assert (reference.source, reference.profile.n_rows) == ("previous_window",
                                                            windows[-1]["n_events"])


def test_previous_window_holds_when_two_windows_close_together(
    previous_worker: PolicyWorker, broker: EmbeddedBroker, database_url: str
) -> None:
    simulator, events = simulated(seed=9, n_windows=4, shift_windows=2)
    # Stop 8 s into window 3: window 2 (the first shifted one) needs the watermark at
    # its end + 10 s, so windows 2 and 3 stay open until the idle timeout closes both.
    stop = simulator.start.timestamp() + 3 * WINDOW + 8
    events = [e for e in events if seconds(e) < stop]
    previous_worker.start()
    produce(broker.bootstrap, previous_worker.topics["predictions"], events)
    wait_for(lambda: n_stored(database_url) == len(events), 60, "every window to be stored")
    windows = stored_windows(database_url)
    assert [window_start(w) for w in windows] == [
        simulator.start + timedelta(seconds=k * WINDOW) for k in range(4)]
    assert simulator.shift_time == window_start(windows[2])
    assert windows[3]["n_events"] >= 300
    # Window 3 is shifted like window 2, its predecessor: no drift.
    assert [drifted(w) for w in windows] == [set(), set(), SHIFTED, set()]
