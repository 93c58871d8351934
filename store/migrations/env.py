"""Alembic environment: run the migrations on a connection ``store.migrate`` hands in.

``store.migrate.upgrade`` puts an open connection (inside its transaction) in
``config.attributes["connection"]``; the command line (``alembic -x`` or an
ini file) may give ``sqlalchemy.url`` instead. No logging is configured here:
that belongs to the application. Offline mode (``--sql``) renders the SQL for
the URL's dialect.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from store.engine import make_engine
from store.tables import metadata


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        compare_type=True,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


def run_offline() -> None:
    url = context.config.get_main_option("sqlalchemy.url")
    if not url:
        raise ValueError("offline migrations need the option sqlalchemy.url")
    context.configure(url=url, target_metadata=metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = context.config.attributes.get("connection")
    if isinstance(connection, Connection):
        _configure(connection)
        return
    url = context.config.get_main_option("sqlalchemy.url")
    if not url:
        raise ValueError("migrations need a connection or the option sqlalchemy.url")
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            _configure(conn)
    finally:
        engine.dispose()


def main() -> None:
    """Run the migrations, unless imported outside an Alembic command (doctest collection)."""
    try:
        offline = context.is_offline_mode()
    except NameError:  # Alembic's context proxy is set only while a command runs
        return
    if offline:
        run_offline()
    else:
        run_online()


main()
