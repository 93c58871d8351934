"""Migrations: head equals ``store.tables.metadata``, upgrades are repeatable (both backends)."""

from __future__ import annotations

import io
import multiprocessing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Column, Integer, MetaData, inspect, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

import store
from store import current_revision, head_revision, make_engine, tables, upgrade
from store.migrate import MIGRATIONS, alembic_config
from store.tables import metadata, reference_profiles
from tests.conftest import statements

TABLES = {"models", "reference_profiles", "windows", "feature_stats", "ingest_checkpoints",
          "performance", "concept_drift_events", "score_calibrations", "alerts",
          "alert_transitions", "outbox", "retrain_requests", "audit", "silences"}


def schema_diff(engine: Engine, target: MetaData = metadata) -> list[Any]:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(context, target))



def test_upgrade_builds_exactly_the_tables_of_the_metadata(empty_engine: Engine) -> None:
    upgrade(empty_engine)
    assert schema_diff(empty_engine) == []
    assert set(inspect(empty_engine).get_table_names()) >= TABLES
    with empty_engine.connect() as conn:
        assert current_revision(conn) == head_revision() == "0006"


def test_the_schema_check_sees_a_difference(empty_engine: Engine) -> None:
    upgrade(empty_engine)
    changed = MetaData(naming_convention=metadata.naming_convention)
    for table in metadata.sorted_tables:
        table.to_metadata(changed)
    changed.tables["windows"].append_column(Column("extra", Integer))
    diffs = schema_diff(empty_engine, changed)
    assert [(d[0], d[3].name) for d in diffs] == [("add_column", "extra")]


def test_upgrading_twice_changes_nothing(empty_engine: Engine) -> None:
    upgrade(empty_engine)
    with statements(empty_engine) as seen:
        upgrade(empty_engine)
    ddl = [s for s in seen if s.lstrip().upper().startswith(("CREATE", "ALTER", "DROP"))]
    assert ddl == []
    assert schema_diff(empty_engine) == []
    with empty_engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM alembic_version").scalar() == 1


def test_downgrade_to_base_and_back(empty_engine: Engine) -> None:
    upgrade(empty_engine)
    with empty_engine.begin() as conn:
        command.downgrade(alembic_config(conn), "base")
    assert set(inspect(empty_engine).get_table_names()) & TABLES == set()
    upgrade(empty_engine)
    assert schema_diff(empty_engine) == []


def test_upgrade_by_url_from_any_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    url = f"sqlite:///{tmp_path / 'by-url.db'}"
    upgrade(url)
    engine = make_engine(url)
    try:
        assert schema_diff(engine) == []
    finally:
        engine.dispose()
    assert list(elsewhere.iterdir()) == []


def test_env_builds_its_own_engine_from_the_url_option(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    config = alembic_config()
    config.set_main_option("sqlalchemy.url", url)
    command.upgrade(config, "head")
    engine = make_engine(url)
    try:
        assert schema_diff(engine) == []
    finally:
        engine.dispose()


@pytest.mark.parametrize("url", ["sqlite:///x.db", "postgresql+psycopg://u@h/db"])
def test_offline_mode_renders_the_sql(url: str) -> None:
    config = alembic_config()
    config.set_main_option("sqlalchemy.url", url)
    config.output_buffer = io.StringIO()
    command.upgrade(config, "head", sql=True)
    sql = config.output_buffer.getvalue()
    for table in sorted(TABLES):
        assert f"CREATE TABLE {table}" in sql
    assert "INSERT INTO alembic_version (version_num) VALUES ('0001')" in sql
    assert "UPDATE alembic_version SET version_num='0002'" in sql
    assert "UPDATE alembic_version SET version_num='0003'" in sql
    assert "UPDATE alembic_version SET version_num='0004'" in sql
    assert "UPDATE alembic_version SET version_num='0005'" in sql
    assert "UPDATE alembic_version SET version_num='0006'" in sql


def test_the_revisions_form_one_line_inside_the_package() -> None:
    scripts = ScriptDirectory.from_config(alembic_config())
    assert Path(scripts.dir) == MIGRATIONS == Path(store.__file__).resolve().parent / "migrations"
    assert [r.revision for r in scripts.walk_revisions()] == ["0006", "0005", "0004", "0003",
                                                                "0002", "0001"]
    assert scripts.get_heads() == ["0006"]


def _outbox_checks(engine: Engine) -> set[str]:
    return {str(check["name"]) for check in inspect(engine).get_check_constraints("outbox")}


def test_0004_drops_the_outbox_kind_check_and_downgrade_restores_it(
        empty_engine: Engine) -> None:
    """The receiver types are listed in code only (``alerting.kinds.REGISTRY``), so the
    outbox's ``kind`` has no CHECK of its values after 0004; 0003 had one."""
    with empty_engine.begin() as conn:
        command.upgrade(alembic_config(conn), "0003")
    assert {"ck_outbox_kind", "ck_outbox_status"} <= _outbox_checks(empty_engine)
    upgrade(empty_engine)
    checks = _outbox_checks(empty_engine)
    assert "ck_outbox_kind" not in checks
    assert {"ck_outbox_status", "ck_outbox_attempts"} <= checks
    assert schema_diff(empty_engine) == []
    with empty_engine.begin() as conn:
        command.downgrade(alembic_config(conn), "0003")
    assert "ck_outbox_kind" in _outbox_checks(empty_engine)


def test_0005_adds_audit_and_silences_and_downgrade_removes_them(
        empty_engine: Engine) -> None:
    """0005 only creates ``audit`` and ``silences``; its downgrade drops just those two."""
    with empty_engine.begin() as conn:
        command.upgrade(alembic_config(conn), "0004")
    before = set(inspect(empty_engine).get_table_names())
    assert not {"audit", "silences"} & before
    upgrade(empty_engine)
    assert set(inspect(empty_engine).get_table_names()) == before | {"audit", "silences"}
    assert schema_diff(empty_engine) == []
    with empty_engine.begin() as conn:
        command.downgrade(alembic_config(conn), "0004")
        assert current_revision(conn) == "0004"
    assert set(inspect(empty_engine).get_table_names()) == before


def _store_reference(conn: Any, ref_id: int, source: str) -> None:
    conn.execute(reference_profiles.insert().values(
        id=ref_id, model_id="fraud", model_version=str(ref_id), source=source,
        profile={"columns": [], "n_rows": 0}, created_at=datetime(2026, 12, 1, tzinfo=UTC)))


def test_0006_allows_the_range_source_and_keeps_the_windows_references(
        empty_engine: Engine) -> None:
    """0006 adds ``range`` to the sources a reference may have. On SQLite the table is
    rebuilt: the windows must still point at their references afterwards (the drop of
    the old table would set them to NULL), both ways."""
    moment = datetime(2026, 12, 1, tzinfo=UTC)
    with empty_engine.begin() as conn:
        command.upgrade(alembic_config(conn), "0005")
        conn.execute(tables.models.insert().values(model_id="fraud", first_seen_at=moment))
        _store_reference(conn, 1, "file")
        conn.execute(tables.windows.insert().values(
            id=7, model_id="fraud", model_version="1", window_start=moment,
            window_end=moment + timedelta(minutes=5), n_events=1, n_late=0, status="no_drift",
            drift_share=0.0, dataset_drift=False, reference_id=1, reference_source="file",
            report={}, closed_at=moment))
    with pytest.raises(IntegrityError), empty_engine.begin() as conn:
        _store_reference(conn, 2, "range")
    upgrade(empty_engine)
    assert schema_diff(empty_engine) == []
    with empty_engine.begin() as conn:
        _store_reference(conn, 2, "range")
        assert conn.execute(select(tables.windows.c.reference_id)).scalar_one() == 1
    with pytest.raises(IntegrityError), empty_engine.begin() as conn:
        _store_reference(conn, 3, "gathering")
    with empty_engine.begin() as conn:
        conn.execute(reference_profiles.delete().where(reference_profiles.c.id == 2))
        command.downgrade(alembic_config(conn), "0005")
        assert conn.execute(select(tables.windows.c.reference_id)).scalar_one() == 1
    with pytest.raises(IntegrityError), empty_engine.begin() as conn:
        _store_reference(conn, 2, "range")


def _race_upgrade(url: str, barrier: Any, results: Any) -> None:
    barrier.wait()
    try:
        upgrade(url)
    except Exception as exc:  # reported to the test, which names it
        results.put(f"{type(exc).__name__}: {exc}".splitlines()[0])
    else:
        results.put("ok")


def test_workers_starting_at_once_upgrade_one_sqlite_file_without_failing(
        tmp_path: Path) -> None:
    """Several processes upgrade the same new SQLite file at the same moment: one builds
    the schema, the others wait for its write lock and then find nothing to do."""
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    context = multiprocessing.get_context("fork")
    barrier, results = context.Barrier(4), context.Queue()
    processes = [context.Process(target=_race_upgrade, args=(url, barrier, results))
                 for _ in range(4)]
    for process in processes:
        process.start()
    outcomes = [results.get(timeout=120) for _ in processes]
    for process in processes:
        process.join(timeout=60)
    assert outcomes == ["ok"] * 4
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            assert current_revision(conn) == head_revision()
    finally:
        engine.dispose()
