"""The budget verdict through the worker: a reference gathered across windows, a healthy
stream flagged within its budget, a shift that matters flagged.

A short seeded version of the measurement: windows of 1,000 events, a budget of 72
false windows a day at 60-second windows (alpha 0.05 a window) so that 60 windows
measure it, with normal, skewed (lognormal), heavy-tailed (Student-t), discrete
(Poisson) and categorical features. The long null streams at 100 to 100,000 events a
window are ``bench/null_worker.py``'s (docs/statistics.md).
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from streams.devtools.broker import EmbeddedBroker
from tests.integration.event_stream import first_event_time, produce
from tests.integration.stored import stored_windows
from tests.integration.worker_harness import WINDOW, Worker, wait_for

pytestmark = pytest.mark.integration
PER_WINDOW = 1_000
GATHERING, HEALTHY, SHIFTED = 10, 60, 4  # windows of each phase
ALPHA = 72 * WINDOW / 86400  # the budget below, per window
SHARES = [0.4, 0.2, 0.2, 0.1, 0.1]


def events(seed: int) -> list[dict[str, Any]]:
    """Windows of PER_WINDOW events; the last SHIFTED windows move ``normal`` by 0.5 sd."""
    rng = np.random.default_rng(seed)
    start = first_event_time() - timedelta(hours=1)
    out = []
    windows = GATHERING + HEALTHY + SHIFTED
    for k in range(windows * PER_WINDOW):
        window = k // PER_WINDOW
        shift = 0.5 if window >= GATHERING + HEALTHY else 0.0
        moment = start + timedelta(seconds=window * WINDOW + (k % PER_WINDOW) * WINDOW
                                   / PER_WINDOW)
        out.append({"event_id": f"e{k}", "model_id": "fraud", "model_version": "1",
                    "event_time": moment.isoformat(),
                    "features": {"normal": float(rng.normal(shift, 1.0)),
                                 "lognormal": float(rng.lognormal(0.0, 1.0)),
                                 "heavy": float(rng.standard_t(3)),
                                 "discrete": int(rng.poisson(3.0)),
                                 "category": str(rng.choice(list("abcde"), p=SHARES))}})
    # One event a window later closes the last window.
    moment = start + timedelta(seconds=(windows + 1) * WINDOW + 30)
    out.append({"event_id": "closer", "model_id": "fraud", "model_version": "1",
                "event_time": moment.isoformat(), "features": {"normal": 0.0}})
    return out


@pytest.fixture
def worker(tmp_path: Path, broker: EmbeddedBroker, database_url: str) -> Iterator[Worker]:
    running = Worker(tmp_path, broker, database_url, partitions=1, idle=3600,
                     thresholds="{false_alarms: 72, false_alarm_period: 1d}")
    try:
        yield running
    finally:
        running.stop(signal.SIGKILL)


def test_a_healthy_stream_stays_within_its_budget_and_a_shift_is_flagged(
        worker: Worker, broker: EmbeddedBroker, database_url: str) -> None:
    sent = events(seed=11)
    worker.start()
    produce(broker.bootstrap, worker.topics["predictions"], sent)
    total = GATHERING + HEALTHY + SHIFTED
    wait_for(lambda: len(stored_windows(database_url)) >= total, 240,
             f"{total} windows to be stored")
    windows = stored_windows(database_url)[:total]
    assert [w["n_events"] for w in windows] == [PER_WINDOW] * total
    gathering, judged = windows[:GATHERING - 1], windows[GATHERING - 1:]
    # The reference is gathered from the first 10,000 events; the windows before it
    # completes have no verdict.
    assert all(w["status"] == "insufficient_data" for w in gathering)
    assert all(w["reference_source"] == "gathering" for w in gathering)
    assert all(w["reference_id"] is None for w in gathering)
    assert all(w["reference_source"] == "first_window" for w in judged)
    assert len({w["reference_id"] for w in judged}) == 1
    assert all(f["n_reference"] == GATHERING * PER_WINDOW for w in judged for f in w["features"])
    assert all(w["features"][0]["alpha"] == pytest.approx(ALPHA) for w in judged)
    healthy, shifted = judged[1:HEALTHY + 1], judged[HEALTHY + 1:]
    flagged = [w["window_start"] for w in healthy
               if any(f["drifted"] for f in w["features"])]
    assert len(flagged) <= 2 * ALPHA * HEALTHY, flagged
    assert all({f["name"] for f in w["features"] if f["drifted"]} == {"normal"}
               for w in shifted)
