"""Fixtures of the API tests: a store with windows, performance, detections, alerts and a
reference (on SQLite, and on PostgreSQL when ``DRIFTLINE_TEST_DATABASE_URL`` is set), and
a TestClient over it with three tokens: read, write and both."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from detectors import DriftReport, ReferenceProfile
from store import save_reference, save_window
from store.alert_values import AlertEvent, AlertState
from store.alerts import record_transition, save_alert_states
from store.performance import (
    DetectionRecord,
    PerformanceRecord,
    save_detections,
    save_estimate,
    save_performance,
)
from streams.api.app import create_app
from streams.config.api import ApiSettings, ApiToken, token_digest
from tests.unit.store import conftest as store_fixtures
from tests.unit.store.conftest import START
from tests.unit.store.window_factory import MakeWindow

# The store tests' fixtures: SQLite and PostgreSQL engines at head, reports, a profile.
sqlite_engine = store_fixtures.sqlite_engine
empty_engine = store_fixtures.empty_engine
engine = store_fixtures.engine
reports = store_fixtures.reports
profile = store_fixtures.profile
make_window = store_fixtures.make_window

N_WINDOWS = 12
STEP = timedelta(minutes=5)
TOKENS = {"reader": ("read-token-1", {"read"}), "writer": ("write-token-2", {"write"}),
          "admin": ("admin-token-3", {"read", "write"})}


def api_settings(open_reads: bool = False, max_page: int = 50) -> ApiSettings:
    tokens = {name: ApiToken(name, frozenset(scopes), token_digest(value))
              for name, (value, scopes) in TOKENS.items()}
    return ApiSettings(open_reads=open_reads, max_page=max_page, tokens=tokens)


def bearer(name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKENS[name][0]}"}


def _event(index: int, status: str) -> AlertEvent:
    start = START + index * STEP
    return AlertEvent(rule="drift", status=status, severity="warning",  # type: ignore[arg-type]
                      model_id="fraud", model_version="7", feature="amount", episode=1,
                      metric="psi", value=0.4, threshold=0.2, window_start=start,
                      window_end=start + STEP, started_at=START, summary=f"amount {status}")


@pytest.fixture
def stored(engine: Engine, reports: dict[str, DriftReport], make_window: MakeWindow,
           profile: ReferenceProfile) -> Engine:
    """fraud/7: 12 windows 5 minutes apart (drift on even ones), performance on the first
    four, an estimate on the fifth, three detections, an alert that fired and resolved;
    fraud/8: one window; a model-wide reference and one for version 7."""
    with engine.begin() as conn:
        save_reference(conn, "fraud", None, profile, "file", now=START)
        save_reference(conn, "fraud", "7", profile, "file", now=START)
        for index in range(N_WINDOWS):
            report = reports["drift" if index % 2 == 0 else "calm"]
            save_window(conn, make_window(report, window_start=START + index * STEP))
        save_window(conn, make_window(reports["calm"], model_version="8"))
    with engine.begin() as conn:
        for index in range(4):
            start = START + index * STEP
            save_performance(conn, PerformanceRecord(
                "fraud", "7", start, start + STEP, "classification", 100 + index, 1.0, 2.0,
                {"accuracy": 0.9}), now=START)
        save_estimate(conn, "fraud", "7", START + 4 * STEP, START + 5 * STEP,
                      {"accuracy": 0.8})
        save_detections(conn, [DetectionRecord("fraud", "7", "adwin", 100 * i,
                                               START + i * STEP, "error", {"delta": 0.002})
                               for i in range(3)], now=START)
        save_alert_states(conn, [AlertState("drift", "fraud", "7", "amount", "firing", 1, 2, 0,
                                            START, START, None, 0.4)], now=START)
        record_transition(conn, _event(0, "firing"), now=START + STEP)
        record_transition(conn, _event(3, "resolved"), now=START + 4 * STEP)
    return engine


@pytest.fixture
def client(stored: Engine) -> Iterator[TestClient]:
    with TestClient(create_app(stored, api_settings())) as test_client:
        yield test_client
