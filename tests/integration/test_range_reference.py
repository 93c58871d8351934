"""``PUT .../reference/range`` on a real broker: the stored reference is the worker's
profile of exactly the events of the range.

Events of two hours are produced to a predictions topic of three partitions, each
written a second after its event time (the record's own timestamp, as a producer
that was live then would have written it): the model's two versions, another
model, and invalid records. The API (over SQLite, and PostgreSQL when it is
configured) reads the middle hour; the reference it stores must equal the profile
built directly from the columns of exactly the version's events in that hour,
sampled as the worker samples (the model's ``sample_cap`` is below the events).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from detectors import ProfileOptions, ReferenceProfile
from detectors._sampling import row_priorities
from detectors.rowsample import RowSample
from store import migrate
from store.engine import make_engine
from store.repository import load_reference
from streams.api.app import create_app
from streams.config.settings import ModelSettings, Settings, TopicSettings
from streams.decoding.columns import to_model_batches
from streams.decoding.events import PredictionEvent, limits_for, validate_prediction
from streams.devtools.broker import EmbeddedBroker
from streams.ingest.closing import profile_from_rows
from streams.transport.topics import ensure_topics
from tests.unit.streams.api.conftest import api_settings, bearer

pytestmark = pytest.mark.integration

SAMPLE_CAP = 40
FRAUD = ModelSettings(profile=ProfileOptions(sample_cap=SAMPLE_CAP))
Sent = tuple[bytes, int, int, datetime]  # value, partition, offset, event time


def payload(model_id: str, version: str, at: datetime, n: int) -> bytes:
    return json.dumps({
        "event_id": f"{model_id}-{n}", "model_id": model_id, "model_version": version,
        "event_time": at.isoformat(), "prediction": n % 2, "score": (n % 7) / 7,
        "features": {"amount": n * 1.25, "country": ["DE", "FR", "US", None][n % 4]}}).encode()


async def produce(bootstrap: str, topic: str, records: list[tuple[bytes, datetime]]
                  ) -> list[tuple[int, int]]:
    """Each value written at its moment plus one second; their (partition, offset)."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=False)
    await producer.start()
    try:
        futures = [await producer.send(topic, value=value, key=b"k%d" % (i % 5),
                                       timestamp_ms=int(at.timestamp() * 1000) + 1000)
                   for i, (value, at) in enumerate(records)]
        sent = await asyncio.gather(*futures)
    finally:
        await producer.stop()
    return [(meta.partition, meta.offset) for meta in sent]


@pytest.fixture(scope="module")
def history(broker: EmbeddedBroker) -> tuple[str, datetime, list[Sent]]:
    """The topic, the start of its two hours, and every valid record sent (in order)."""
    topic = f"test.range-reference.{uuid.uuid4().hex[:8]}"
    ensure_topics(broker.bootstrap, {topic: 3})
    first = (datetime.now(UTC) - timedelta(hours=3)).replace(microsecond=0)
    records: list[tuple[bytes, datetime]] = []
    for n in range(240):  # one every 30 s: 2 hours
        at = first + timedelta(seconds=30 * n)
        records.append((payload("fraud", "1" if n % 3 else "2", at, n), at))
        if n % 10 == 0:
            records.append((payload("churn", "1", at, n), at))
        if n % 25 == 0:
            records.append((b'{"event_id": "broken", ', at))
    positions = asyncio.run(produce(broker.bootstrap, topic, records))
    sent = [(value, partition, offset, at)
            for (value, at), (partition, offset) in zip(records, positions, strict=True)
            if not value.startswith(b'{"event_id": "broken"')]
    return topic, first, sent


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    url = (f"sqlite:///{tmp_path / 'd.db'}" if request.param == "sqlite"
           else request.getfixturevalue("database_url"))
    made = make_engine(url)
    migrate.upgrade(made)
    yield made
    made.dispose()


def expected_profile(sent: list[Sent], version: str | None, start: datetime,
                     end: datetime) -> ReferenceProfile:
    """The worker's profile of the model's events in [start, end), built from their columns."""
    limits = limits_for(datetime.now(UTC), Settings().ingest, None)
    events, positions = [], []
    for value, partition, offset, at in sent:
        decoded = validate_prediction(value, limits)
        assert isinstance(decoded, PredictionEvent)
        if decoded.model_id == "fraud" and version in (None, decoded.model_version) \
                and start <= at < end:
            events.append(decoded)
            positions.append((partition, offset))
    rows = RowSample(SAMPLE_CAP)
    for batch in to_model_batches(events, positions).values():
        rows.add(batch.columns, row_priorities(batch.row_keys, 0), batch.missing)
    assert rows.n_seen > SAMPLE_CAP  # the sample is exercised
    return profile_from_rows(rows, FRAUD.profile, FRAUD.features)


def test_the_stored_reference_is_the_profile_of_exactly_the_events_in_range(
        broker: EmbeddedBroker, history: tuple[str, datetime, list[Sent]],
        engine: Engine) -> None:
    topic, first, sent = history
    settings = Settings(broker_url=broker.url, topics=TopicSettings(predictions=topic),
                        models=MappingProxyType({"default": ModelSettings(), "fraud": FRAUD}))
    start, end = first + timedelta(minutes=30), first + timedelta(minutes=90)
    body: dict[str, Any] = {"start": start.isoformat(), "end": end.isoformat()}
    with TestClient(create_app(engine, api_settings(), settings)) as client:
        version = client.put("/v1/models/fraud/versions/1/reference/range", json=body,
                             headers=bearer("writer"))
        model_wide = client.put("/v1/models/fraud/reference/range", json=body,
                                headers=bearer("writer"))
        audit = client.get("/v1/audit", headers=bearer("reader")).json()["items"]
    assert version.status_code == 200, version.json()
    assert model_wide.status_code == 200, model_wide.json()
    expected = {v: expected_profile(sent, v, start, end) for v in ("1", None)}
    with engine.connect() as conn:
        stored = {v: load_reference(conn, "fraud", v) for v in ("1", "")}
    for version_key, stored_key in (("1", "1"), (None, "")):
        found = stored[stored_key]
        assert found is not None
        assert found.source == "range"
        assert found.model_version == stored_key
        assert found.profile.to_dict() == expected[version_key].to_dict()
    counts = version.json()["counts"]
    assert counts["events_in_range"] == expected["1"].n_rows == 80
    assert counts["rows_kept"] == SAMPLE_CAP
    assert counts["sampled"] is True
    assert counts["skipped_invalid"] >= 2  # broken records written in the hour read
    assert model_wide.json()["n_rows"] == 120
    assert [row["action"] for row in audit] == ["reference.set", "reference.set"]
    assert audit[1]["after"]["counts"] == counts
    assert audit[1]["after"]["range"] == {"start": start.isoformat(), "end": end.isoformat()}


def test_an_empty_topic_is_a_422_and_a_missing_one_a_503(broker: EmbeddedBroker,
                                                          fresh_topic: str) -> None:
    """Partitions without a record end the read (no wait for the timeout); a topic the
    broker does not know is named."""
    ensure_topics(broker.bootstrap, {fresh_topic: 2})
    engine = make_engine("sqlite://")
    migrate.upgrade(engine)
    body = {"start": "2026-12-01T00:00:00Z", "end": "2026-12-02T00:00:00Z", "timeout": 30}
    try:
        for topic, status, detail in (
                (fresh_topic, 422, "no valid event of model 'fraud' version '1'"),
                (f"{fresh_topic}.absent", 503,
                 f"{broker.bootstrap}: topic {fresh_topic}.absent does not exist")):
            settings = Settings(broker_url=broker.url, topics=TopicSettings(predictions=topic))
            with TestClient(create_app(engine, api_settings(), settings)) as client:
                answer = client.put("/v1/models/fraud/versions/1/reference/range", json=body,
                                    headers=bearer("writer"))
            assert answer.status_code == status, answer.json()
            assert answer.json()["detail"].startswith(detail)
    finally:
        engine.dispose()
