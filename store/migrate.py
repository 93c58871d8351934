"""Schema migrations, run from code: ``upgrade(url_or_engine)`` is ``alembic upgrade head``.

Decisions:

- The Alembic configuration is built in code; ``script_location`` is the
  ``migrations`` folder next to this file, so it works from an installed
  package and from any working directory, with no ``alembic.ini``.
- The whole upgrade runs in one transaction (both databases have
  transactional DDL): it applies completely or not at all.
- Concurrent upgrades (several workers starting at once) are serialised: the
  second waits, then finds the schema at head and does nothing. On PostgreSQL a
  transaction-scoped advisory lock does it; on SQLite the upgrade's transaction
  begins with ``BEGIN IMMEDIATE``, taking the database's write lock before it
  reads the current revision (a deferred transaction would read "no schema" in
  both processes and fail in one of them at its first ``CREATE TABLE``). Within
  one process a lock does the same, because Alembic's ``context`` and ``op``
  are process-wide globals.
- Upgrading a database already at head changes nothing.
"""

from __future__ import annotations

import threading
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import URL, Connection, Engine

from store.engine import SQLITE_IMMEDIATE, make_engine

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# Any fixed 64-bit number shared by every driftline process ("dlmigrat").
ADVISORY_LOCK_KEY = 0x646C6D6967726174
_PROCESS_LOCK = threading.Lock()


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic ``Config`` for the store's migrations, optionally bound to a connection."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS).replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The newest revision of the migration scripts."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise RuntimeError(f"no migration scripts in {MIGRATIONS}")
    return head


def current_revision(conn: Connection) -> str | None:
    """The revision the database is at; None before the first upgrade."""
    return MigrationContext.configure(conn).get_current_revision()


def _upgrade(engine: Engine) -> None:
    with _PROCESS_LOCK, engine.connect() as conn:
        conn = conn.execution_options(**{SQLITE_IMMEDIATE: True})
        with conn.begin():
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"),
                             {"key": ADVISORY_LOCK_KEY})
            command.upgrade(alembic_config(conn), "head")


def upgrade(url_or_engine: str | URL | Engine) -> None:
    """Bring the database to the newest schema (module docstring)."""
    if isinstance(url_or_engine, Engine):
        _upgrade(url_or_engine)
        return
    engine = make_engine(url_or_engine)
    try:
        _upgrade(engine)
    finally:
        engine.dispose()
