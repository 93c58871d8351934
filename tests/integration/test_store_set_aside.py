"""A window PostgreSQL refuses for its data is set aside; the other windows and the
checkpoint commit (``streams.ingest.service``, ``store.errors``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy.exc import DataError, OperationalError

from store import make_engine, repository
from store.errors import is_permanent
from streams.config.settings import load_settings
from streams.decoding.columns import to_model_batches
from streams.decoding.events import PredictionEvent
from streams.decoding.fastdecode import DecodedColumns
from streams.ingest.service import Ingest
from streams.runtime.metrics import Metrics
from tests.conftest import schema_url

pytestmark = pytest.mark.integration
START = datetime(2026, 11, 22, 10, tzinfo=UTC)


def _events(model: str, feature: str, seconds: list[int]) -> list[PredictionEvent]:
    # Built directly, past the decoder (which refuses such names): what reaches the store
    # if a check at the edge ever misses something.
    return [PredictionEvent(event_id=f"{model}-{s}", model_id=model,
                            event_time=START + timedelta(seconds=s),
                            features={feature: float(s % 17)}) for s in seconds]


def test_a_refused_window_is_set_aside_and_the_rest_commits(postgres_url: str) -> None:
    with schema_url(postgres_url, "aside", migrated=True) as url:
        engine = make_engine(url)
        try:
            metrics = Metrics(CollectorRegistry())
            ingest = Ingest(load_settings(None, {}), engine, metrics)
            ingest.restore([0])
            seconds = [*range(0, 300, 2), 400]  # the last event closes the first 5-minute window
            events = _events("good", "amount", seconds) + _events("bad", "a\x00b", seconds)
            batches = to_model_batches(events, [(0, i) for i in range(len(events))])
            closed = ingest.apply(0, DecodedColumns(batches, [], len(events), False), len(events))
            assert sorted(c.model_id for _, c in closed) == ["bad", "good"]
            state = ingest.partitions[0]
            job = ingest.prepare(closed, [state])
            ingest.write(job)
            ingest.finish(job)
            with engine.connect() as conn:
                assert [w["n_events"] for w in repository.list_windows(conn, "good")] == [150]
                assert repository.list_windows(conn, "bad") == []
                stored = repository.load_checkpoints(conn, ingest.group_id, ingest.topic, [0])
            assert stored[0].next_offset == len(events)
            assert metrics.registry.get_sample_value(
                "driftline_windows_set_aside_total", {"model": "bad"}) == 1
            assert metrics.registry.get_sample_value(
                "driftline_windows_set_aside_total", {"model": "good"}) is None
        finally:
            engine.dispose()


def test_connection_errors_are_not_permanent() -> None:
    lost = OperationalError("SELECT 1", {}, ConnectionError("server closed the connection"))
    assert not is_permanent(lost)
    assert is_permanent(DataError("INSERT", {}, ValueError("bad")))
    assert is_permanent(ValueError("Out of range float values are not JSON compliant"))
