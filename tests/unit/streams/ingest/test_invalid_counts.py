"""Invalid events per model key are checkpointed with the partition, used once, and bounded."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

from prometheus_client import CollectorRegistry

from store.engine import make_engine
from store.migrate import upgrade
from streams.config.settings import load_settings
from streams.ingest.service import MAX_INVALID_KEYS, Ingest, PartitionState
from streams.ingest.windows import ClosedWindow
from streams.runtime.metrics import Metrics


def ingest_on(url: str) -> Ingest:
    engine = make_engine(url)
    ingest = Ingest(load_settings(None, {}), engine, Metrics(CollectorRegistry()))
    ingest.restore([0, 1])
    return ingest


def checkpoint(ingest: Ingest, *states: PartitionState) -> None:
    job = ingest.prepare([], states)
    ingest.write(job)
    ingest.finish(job)


def closing(model_id: str) -> Any:
    """What ``Ingest.prepare`` reads of a closed window: its model id."""
    return cast(ClosedWindow, SimpleNamespace(model_id=model_id))


def test_invalid_counts_survive_a_restart_and_count_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'w.db'}"
    upgrade(url)
    first = ingest_on(url)
    state = first.partitions[0]
    for key in ["fraud", "fraud", "fraud", "churn"]:
        state.count_invalid(key)
    state.next_offset = 40
    checkpoint(first, state)
    first.engine.dispose()

    restarted = ingest_on(url)  # a new worker takes the partition over
    assert restarted.partitions[0].invalid == {"fraud": 3, "churn": 1}
    assert restarted.partitions[1].invalid == {}

    job = restarted.prepare([(restarted.partitions[0], closing("fraud"))], [])
    assert job.invalid == {"fraud": 3}
    (saved,) = job.checkpoints  # the partition is checkpointed without fraud's count
    assert saved[2]["invalid"] == {"churn": 1}
    assert restarted.prepare([(restarted.partitions[0], closing("fraud"))], []).invalid == {}
    restarted.engine.dispose()


def test_a_window_takes_the_invalid_counts_of_every_partition() -> None:
    ingest = Ingest(load_settings(None, {}), make_engine("sqlite://"),
                    Metrics(CollectorRegistry()))
    for partition, n in [(0, 2), (1, 5)]:
        state = ingest.partitions.setdefault(partition, PartitionState(partition))
        state.next_offset = 1
        for _ in range(n):
            state.count_invalid("fraud")
    job = ingest.prepare([(ingest.partitions[0], closing("fraud"))], [])
    assert job.invalid == {"fraud": 7}
    assert sorted(s.partition for s, _, _ in job.checkpoints) == [0, 1]


def test_a_flood_of_made_up_keys_is_bounded() -> None:
    state = PartitionState(0)
    for i in range(MAX_INVALID_KEYS + 500):
        state.count_invalid(f"key-{i}")
    state.count_invalid("key-0")
    assert len(state.invalid) == MAX_INVALID_KEYS
    assert state.invalid["key-0"] == 2
    assert "key-1000" not in state.invalid
