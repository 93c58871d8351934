"""``make_engine``: SQLite settings, URL checks that never show a password."""

from __future__ import annotations

import ctypes
import ctypes.util
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import IntegrityError, StatementError

from store import make_engine, mask_url
from store.tables import models, windows


def test_sqlite_gets_wal_foreign_keys_and_a_busy_timeout(sqlite_engine: Engine) -> None:
    with sqlite_engine.connect() as conn:
        pragmas = {
            name: conn.exec_driver_sql(f"PRAGMA {name}").scalar()
            for name in ("journal_mode", "foreign_keys", "busy_timeout")
        }
    assert pragmas == {"journal_mode": "wal", "foreign_keys": 1, "busy_timeout": 30_000}
    assert sqlite_engine.pool._pre_ping


def _sqlite_memory_used() -> int:
    """Bytes SQLite's allocator holds in this process (``sqlite3_memory_used``)."""
    name = ctypes.util.find_library("sqlite3")
    if name is None:
        pytest.skip("no shared libsqlite3 to ask")
    library = ctypes.CDLL(name)
    library.sqlite3_memory_used.restype = ctypes.c_int64
    if library.sqlite3_libversion_number() != sqlite3.sqlite_version_info[0] * 1_000_000 + \
            sqlite3.sqlite_version_info[1] * 1_000 + sqlite3.sqlite_version_info[2]:
        pytest.skip("Python's sqlite3 is not this libsqlite3")
    return int(library.sqlite3_memory_used())


def test_sqlite_connections_do_not_keep_the_last_blob_written(tmp_path: Path) -> None:
    # A prepared statement kept in sqlite3's cache holds a copy of its last bound values.
    engine = make_engine(f"sqlite:///{tmp_path / 'blob.db'}")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE blobs (data BLOB)")
    before = _sqlite_memory_used()
    with engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO blobs VALUES (?)", (bytes(32 * 2**20),))
    held = _sqlite_memory_used() - before
    engine.dispose()
    assert held < 8 * 2**20


def test_sqlite_ddl_and_dml_are_transactional(sqlite_engine: Engine) -> None:
    def create_then_fail() -> None:
        with sqlite_engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE scratch (x INTEGER)")
            conn.exec_driver_sql("INSERT INTO scratch VALUES (1)")
            raise RuntimeError

    with pytest.raises(RuntimeError):
        create_then_fail()
    with sqlite_engine.connect() as conn:
        tables = conn.exec_driver_sql("SELECT name FROM sqlite_master").scalars().all()
    assert "scratch" not in tables


def test_foreign_keys_are_enforced(engine: Engine) -> None:
    when = datetime(2026, 1, 1, tzinfo=UTC)
    row = {
        "model_id": "ghost", "model_version": "", "window_start": when,
        "window_end": when.replace(hour=1), "n_events": 0, "n_late": 0, "status": "no_drift",
        "dataset_drift": False, "reference_source": "file", "report": {}, "closed_at": when,
    }
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(windows.insert(), row)


def test_json_columns_refuse_nan(engine: Engine) -> None:
    row = {"model_id": "m", "first_seen_at": datetime(2026, 1, 1, tzinfo=UTC)}
    with engine.begin() as conn:
        conn.execute(models.insert(), row)
    # SQLite wraps the serializer's error in a StatementError; psycopg raises it as is.
    refused = pytest.raises((ValueError, StatementError), match="Out of range float values")
    with refused, engine.begin() as conn:
        conn.execute(
            windows.insert(),
            {"model_id": "m", "model_version": "", "window_start": row["first_seen_at"],
             "window_end": datetime(2026, 1, 2, tzinfo=UTC), "n_events": 0, "n_late": 0,
             "status": "no_drift", "dataset_drift": False, "reference_source": "file",
             "report": {"x": float("nan")}, "closed_at": row["first_seen_at"]},
        )


def test_naive_datetimes_are_refused(engine: Engine) -> None:
    with pytest.raises(StatementError, match="must be timezone-aware"), engine.begin() as conn:
        conn.execute(models.insert(), {"model_id": "m", "first_seen_at": datetime(2026, 1, 1)})


@pytest.mark.parametrize(
    ("url", "scheme"),
    [
        ("mysql+pymysql://app:hunter2@db:3306/drift", "'mysql+pymysql'"),
        ("postgresql+nosuchdriver://app:hunter2@db/drift", "'postgresql+nosuchdriver'"),
        ("oracle://app:hunter2@db/drift", "'oracle'"),
        ("not a url at all", "'(none)'"),
        ("::://app:hunter2@db", "'::'"),
        ("weird://app:hunter2@x@db/drift", "'weird'"),
    ],
)
def test_bad_urls_name_the_scheme_and_hide_the_password(url: str, scheme: str) -> None:
    with pytest.raises(ValueError, match="scheme") as info:
        make_engine(url)
    message = str(info.value)
    assert scheme in message
    assert "hunter2" not in message


@pytest.mark.parametrize("url", ["postgresql://app:pw@db/drift", "postgres://app:pw@db/drift"])
def test_postgresql_without_a_driver_means_psycopg(url: str) -> None:
    engine = make_engine(url)  # no connection is made
    try:
        assert (engine.dialect.name, engine.dialect.driver) == ("postgresql", "psycopg")
        assert engine.pool._pre_ping
    finally:
        engine.dispose()


def test_mask_url_hides_passwords_of_parsed_and_raw_urls() -> None:
    parsed = make_url("postgresql+psycopg://app:hunter2@db/drift")
    assert mask_url(parsed) == "postgresql+psycopg://app:***@db/drift"
    assert mask_url("x://app:hunter2@db") == "x://app:***@db"
    assert mask_url("sqlite:///data/store.db") == "sqlite:///data/store.db"
