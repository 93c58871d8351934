"""Fixtures of the store tests: each database backend, and real drift reports.

``engine`` runs a test on SQLite (a file in ``tmp_path``) and on PostgreSQL
(a fresh schema, marked ``integration``; see ``tests/conftest.py`` for when it
is skipped), migrated to head. ``empty_engine`` is the same without tables.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy.engine import Engine

from detectors import DriftPolicy, DriftReport, ReferenceProfile, build_profile, compare
from detectors.batch import Kind
from detectors.reference import Role
from store import WindowRecord, make_engine, upgrade

START = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
KINDS: dict[str, Kind] = {
    "amount": "numeric", "country": "categorical", "score": "numeric", "label": "categorical",
}
ROLES: dict[str, Role] = {"score": "prediction", "label": "target"}


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    yield engine
    engine.dispose()


@pytest.fixture(
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)]
)
def empty_engine(request: pytest.FixtureRequest) -> Engine:
    name = "sqlite_engine" if request.param == "sqlite" else "postgres_engine"
    engine: Engine = request.getfixturevalue(name)
    return engine


@pytest.fixture
def engine(empty_engine: Engine) -> Engine:
    upgrade(empty_engine)
    return empty_engine


def _data(seed: int, shift: float, n: int = 400) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    return {
        "amount": rng.normal(shift, 1.0, n),
        "country": rng.choice(["DE", "FR", "US"], n, p=[0.5, 0.3, 0.2]).astype(object),
        "score": np.clip(rng.normal(0.3 + shift / 4, 0.1, n), 0, 1),
        "label": rng.choice(["0", "1"], n).astype(object),
    }


def _report(shift: float, kinds: dict[str, Kind]) -> DriftReport:
    roles = {name: role for name, role in ROLES.items() if name in kinds}
    # The classic verdict: these tests are about storing reports, whatever the rule.
    return compare(_data(1, 0.0), _data(2, shift), kinds, roles=roles,
                   policy=DriftPolicy.of("classic"))


@pytest.fixture(scope="session")
def reports() -> dict[str, DriftReport]:
    """``drift`` (amount and score shifted), ``calm``, and ``narrow`` (no country column)."""
    narrow = {name: kind for name, kind in KINDS.items() if name != "country"}
    return {
        "drift": _report(1.0, KINDS),
        "calm": _report(0.0, KINDS),
        "narrow": _report(1.0, narrow),
    }


@pytest.fixture(scope="session")
def profile() -> ReferenceProfile:
    return build_profile(_data(1, 0.0), KINDS, roles=ROLES)


def _make_window(report: DriftReport, **changes: Any) -> WindowRecord:
    start = changes.pop("window_start", START)
    fields: dict[str, Any] = {
        "model_id": "fraud",
        "model_version": "7",
        "window_start": start,
        "window_end": start + timedelta(minutes=5),
        "n_events": report.n_current_rows,
        "n_late": 3,
        "reference_id": None,
        "reference_source": "file",
        "report": report,
        "closed_at": start + timedelta(minutes=6),
    }
    fields.update(changes)
    return WindowRecord(**fields)


@pytest.fixture(scope="session")
def make_window() -> Callable[..., WindowRecord]:
    """A ``WindowRecord`` of model fraud/7 for ``report``; keyword arguments override."""
    return _make_window

