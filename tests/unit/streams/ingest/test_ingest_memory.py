"""The ingest hands freed memory back once the worker has caught up, once per idle spell."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from store import make_engine, upgrade
from streams.config.settings import load_settings
from streams.decoding.events import RawMessage
from streams.ingest.service import Ingest
from streams.runtime import memory
from streams.runtime.metrics import Metrics


def _messages(first: int, n: int) -> list[RawMessage]:
    events = [{"event_id": f"e{i}", "model_id": "fraud", "event_time": "2026-11-22T10:00:00Z",
               "features": {"amount": float(i), "country": "DE"}} for i in range(first, first + n)]
    return [RawMessage("driftline.predictions", 0, i, b"fraud", json.dumps(e).encode(), 1)
            for i, e in zip(range(first, first + n), events, strict=True)]


def test_one_trim_per_idle_spell(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    trims: list[int] = []

    def counted_trim() -> bool:
        trims.append(1)
        return True

    monkeypatch.setattr(memory, "trim", counted_trim)
    settings = load_settings(environ={"DRIFTLINE_DATABASE_URL": f"sqlite:///{tmp_path}/i.db"})
    engine = make_engine(settings.database_url)
    upgrade(engine)
    ingest = Ingest(settings, engine, Metrics(CollectorRegistry()))
    try:
        ingest.tick()
        ingest.tick()
        assert trims == []  # nothing processed yet
        messages = _messages(0, 50)
        ingest.apply(0, ingest.decode(messages), 50)
        ingest.tick()  # the tick after a fetch with records
        assert trims == []
        ingest.tick()  # an empty fetch: caught up
        ingest.tick()
        assert trims == [1]
        ingest.apply(0, ingest.decode(_messages(50, 50)), 100)
        ingest.tick()
        ingest.tick()
        assert trims == [1, 1]
        ingest.finish(ingest.prepare([], ingest.partitions.values()))  # a store while idle
        ingest.tick()
        ingest.tick()
        assert trims == [1, 1, 1]
    finally:
        engine.dispose()
