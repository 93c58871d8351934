"""``INSERT ... ON CONFLICT`` written once for both dialects.

SQLite and PostgreSQL share the statement's shape (``ON CONFLICT (key) DO
UPDATE SET col = excluded.col``), and SQLAlchemy has one ``insert`` for each
dialect with the same methods; ``insert_for`` picks the one of the connection.
On PostgreSQL the statement is atomic under concurrency: two transactions that
upsert the same key end with one row (the second waits for the first and then
updates), which is what makes replayed windows safe.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

Insert = postgresql.Insert | sqlite.Insert


def insert_for(conn: Connection, table: Table) -> Insert:
    """The dialect-specific ``insert`` of ``table`` for this connection."""
    name = conn.dialect.name
    if name == "postgresql":
        return postgresql.insert(table)
    if name == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"upserts support sqlite and postgresql, not {name!r}")


def upsert(
    conn: Connection,
    table: Table,
    key: Sequence[str],
    update: Iterable[str] | None = None,
) -> Insert:
    """``INSERT ... ON CONFLICT (key) DO UPDATE`` of every column but the key and the id.

    A surrogate primary key is never updated, so a row keeps its id across
    upserts and rows pointing at it stay valid. ``update`` narrows the updated
    columns. Values are given at execution, one mapping or a list of them.
    """
    if update is None:
        update = [c.name for c in table.columns if c.name not in key and not c.primary_key]
    stmt = insert_for(conn, table)
    assignments = {name: stmt.excluded[name] for name in update}
    if not assignments:
        return stmt.on_conflict_do_nothing(index_elements=list(key))
    return stmt.on_conflict_do_update(index_elements=list(key), set_=assignments)


def insert_ignore(conn: Connection, table: Table, key: Sequence[str]) -> Insert:
    """``INSERT ... ON CONFLICT (key) DO NOTHING``."""
    return insert_for(conn, table).on_conflict_do_nothing(index_elements=list(key))


def insert_if_absent(conn: Connection, table: Table, key: Sequence[str],
                     row: dict[str, object]) -> bool:
    """Insert one row unless its key is taken; True when it was inserted.

    ``rowcount`` is not reliable here (psycopg reports -1 once SQLAlchemy has read
    the implicit ``RETURNING`` of the id), so the statement returns a key column
    and the answer is whether a row came back.
    """
    stmt = insert_ignore(conn, table, key).returning(table.c[key[0]])
    return conn.execute(stmt, row).first() is not None
