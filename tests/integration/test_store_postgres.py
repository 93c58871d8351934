"""PostgreSQL-only behaviour of the store: concurrent writers, concurrent upgrades, time zones.

The repository tests of ``tests/unit/store`` also run here on PostgreSQL (their
``engine`` fixture is parametrised over both backends). This file holds what
only a server database can show. Every test gets a fresh schema
(``postgres_engine`` in ``tests/conftest.py``).
"""

from __future__ import annotations

import queue
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from sqlalchemy import Table, func, select, text
from sqlalchemy.engine import Connection, Engine

from detectors import DriftReport, compare
from store import WindowRecord, head_revision, list_windows, make_engine, save_window, upgrade
from store.migrate import ADVISORY_LOCK_KEY
from store.tables import feature_stats, models, windows

pytestmark = pytest.mark.integration

START = datetime(2026, 11, 22, 10, tzinfo=UTC)
WAIT_SECONDS = 30


def report(shift: float, columns: tuple[str, ...] = ("a", "b", "c")) -> DriftReport:
    rng = np.random.default_rng(3)
    reference = {name: rng.normal(size=300) for name in columns}
    current = {name: rng.normal(shift, size=300) for name in columns}
    return compare(reference, current, dict.fromkeys(columns, "numeric"))


def record(rep: DriftReport, n_events: int) -> WindowRecord:
    return WindowRecord(
        model_id="fraud", model_version="7", window_start=START,
        window_end=START + timedelta(minutes=5), n_events=n_events, n_late=0,
        reference_id=None, reference_source="file", report=rep,
        closed_at=START + timedelta(minutes=6),
    )


def count(conn: Connection, table: Table) -> int:
    return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def wait_until_blocked(monitor: Connection, pid: int) -> None:
    """Return once backend ``pid`` waits on a lock held by another backend."""
    deadline = time.monotonic() + WAIT_SECONDS
    query = text("SELECT cardinality(pg_blocking_pids(:pid)) > 0")
    while not monitor.execute(query, {"pid": pid}).scalar_one():
        assert time.monotonic() < deadline, f"backend {pid} never blocked"


def in_thread(target: Callable[[], None], errors: list[BaseException]) -> threading.Thread:
    def run() -> None:
        try:
            target()
        except BaseException as exc:  # reported by the test, not lost in the thread
            errors.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_a_second_writer_waits_for_the_first_then_updates_the_same_row(
    postgres_engine: Engine,
) -> None:
    upgrade(postgres_engine)
    pids: queue.Queue[int] = queue.Queue()
    errors: list[BaseException] = []

    def second_writer() -> None:
        with postgres_engine.begin() as conn:
            pids.put(int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one()))
            save_window(conn, record(report(1.0, ("a", "b")), n_events=200))

    with postgres_engine.connect() as first, postgres_engine.connect() as monitor:
        transaction = first.begin()
        first_id = save_window(first, record(report(0.0), n_events=100))
        thread = in_thread(second_writer, errors)
        wait_until_blocked(monitor, pids.get(timeout=WAIT_SECONDS))
        transaction.commit()
        thread.join(WAIT_SECONDS)
    assert not thread.is_alive()
    assert errors == []
    with postgres_engine.connect() as conn:
        rows = conn.execute(select(windows.c.id, windows.c.n_events)).all()
        features = sorted(conn.execute(select(feature_stats.c.feature)).scalars())
    assert [tuple(r) for r in rows] == [(first_id, 200)]
    assert features == ["a", "b"]


def test_racing_writers_leave_one_consistent_window(postgres_engine: Engine) -> None:
    upgrade(postgres_engine)
    writers = [record(report(0.0), 10), record(report(1.0, ("a", "b")), 20),
               record(report(0.5, ("c",)), 30), record(report(2.0), 40)]
    barrier = threading.Barrier(len(writers))
    errors: list[BaseException] = []

    def write(rec: WindowRecord) -> Callable[[], None]:
        def run() -> None:
            with postgres_engine.begin() as conn:
                barrier.wait(WAIT_SECONDS)
                save_window(conn, rec)
        return run

    threads = [in_thread(write(rec), errors) for rec in writers]
    for thread in threads:
        thread.join(WAIT_SECONDS)
    assert errors == []
    with postgres_engine.connect() as conn:
        (window,) = list_windows(conn, "fraud")
        features = sorted(conn.execute(select(feature_stats.c.feature)).scalars())
        assert count(conn, windows) == 1
        assert count(conn, models) == 1
    winner = next(r for r in writers if r.n_events == window["n_events"])
    assert features == sorted(c.name for c in winner.report.features)
    assert [f["name"] for f in window["features"]] == [c.name for c in winner.report.features]


UPGRADE = "import sys; from store import upgrade; upgrade(sys.argv[1])"
WAITING_FOR_UPGRADE_LOCK = text(
    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
    " AND classid = :high AND objid = :low"
)


def test_concurrent_upgrades_from_two_processes_wait_for_each_other(
    postgres_engine: Engine,
) -> None:
    url = postgres_engine.url.render_as_string(hide_password=False)
    key = {"high": ADVISORY_LOCK_KEY >> 32, "low": ADVISORY_LOCK_KEY & 0xFFFFFFFF}
    with postgres_engine.connect() as holder, postgres_engine.connect() as monitor:
        holder.execute(text("SELECT pg_advisory_lock(:k)"), {"k": ADVISORY_LOCK_KEY})
        workers = [
            subprocess.Popen([sys.executable, "-c", UPGRADE, url], stderr=subprocess.PIPE)
            for _ in range(2)
        ]
        try:
            deadline = time.monotonic() + 4 * WAIT_SECONDS
            while monitor.execute(WAITING_FOR_UPGRADE_LOCK, key).scalar_one() < 2:
                monitor.rollback()
                assert time.monotonic() < deadline, "the upgrades never waited for the lock"
                assert all(w.poll() is None for w in workers), "an upgrade ran without the lock"
        finally:
            holder.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": ADVISORY_LOCK_KEY})
            errors = [w.communicate(timeout=4 * WAIT_SECONDS)[1] for w in workers]
    assert [w.returncode for w in workers] == [0, 0], errors
    assert errors == [b"", b""]
    with postgres_engine.connect() as conn:
        versions = conn.execute(text("SELECT version_num FROM alembic_version")).scalars()
        assert versions.all() == [head_revision()]


def test_times_are_utc_whatever_the_session_time_zone(postgres_engine: Engine) -> None:
    upgrade(postgres_engine)
    url = postgres_engine.url
    options = f"{url.query.get('options', '')} -cTimeZone=Asia/Kolkata"
    kolkata = make_engine(url.update_query_dict({"options": options}))
    try:
        with kolkata.begin() as conn:
            assert conn.execute(text("SHOW TimeZone")).scalar_one() == "Asia/Kolkata"
            save_window(conn, record(report(0.0), 5))
            stored = conn.execute(select(windows.c.window_start)).scalar_one()
            (listed,) = list_windows(conn, "fraud")
    finally:
        kolkata.dispose()
    assert stored == START
    assert stored.tzinfo is UTC
    assert listed["window_start"] == "2026-11-22T10:00:00Z"


def test_each_test_gets_its_own_empty_schema(postgres_engine: Engine) -> None:
    with postgres_engine.connect() as conn:
        schema = conn.execute(text("SELECT current_schema()")).scalar_one()
        tables = conn.execute(
            text("SELECT count(*) FROM information_schema.tables WHERE table_schema = :s"),
            {"s": schema},
        ).scalar_one()
    assert schema.startswith("test_")
    assert tables == 0
