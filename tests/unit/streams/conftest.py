"""Fixtures shared by the streams unit tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from store import make_engine, upgrade
from streams.config.settings import load_settings
from streams.ingest.service import Ingest
from streams.runtime.metrics import Metrics


@pytest.fixture
def ingest(tmp_path: Path) -> Iterator[Ingest]:
    """An ``Ingest`` with default settings on a fresh, migrated SQLite file."""
    settings = load_settings(environ={"DRIFTLINE_DATABASE_URL": f"sqlite:///{tmp_path}/i.db"})
    engine = make_engine(settings.database_url)
    upgrade(engine)
    try:
        yield Ingest(settings, engine, Metrics(CollectorRegistry()))
    finally:
        engine.dispose()
