"""Engines for the two supported databases: SQLite (embedded default) and PostgreSQL.

Decisions:

- Only ``sqlite`` and ``postgresql`` URLs are accepted: the upserts are written
  for those two dialects. ``postgresql://`` and ``postgres://`` without a driver
  mean ``postgresql+psycopg://`` (psycopg 3 is the driver installed).
- SQLite runs in WAL mode (readers do not block the writer), with foreign keys
  on and a 30 s busy timeout, which also bounds the wait of a connection that
  finds the file locked while switching it to WAL. SQLAlchemy emits ``BEGIN`` itself (the driver's
  own transaction handling is switched off), so reads, writes and DDL are truly
  transactional: a window and its checkpoint commit or roll back together.
- SQLite connections keep no prepared statements (``cached_statements=0``): a
  cached statement holds a copy of its last bound values, so every pooled
  connection kept the last checkpoint blob it wrote (tens of MiB for a window
  of 100,000 rows) until the statement ran again. Preparing the few statements
  of a store again costs well under a millisecond.
- Both get ``pool_pre_ping``, so a connection dropped by a database restart is
  replaced instead of failing the next window.
- PostgreSQL connections have timeouts, so a database that stops answering (a
  blackholed network, not only a refused connection) fails a write within
  seconds and the worker's retry loop logs it, instead of hanging without a
  line: connecting gives up after ``PG_CONNECT_TIMEOUT_S``, a statement after
  ``PG_STATEMENT_TIMEOUT_MS``, and unacknowledged sends and silent peers are
  detected by TCP (``tcp_user_timeout`` and keepalives, ``PG_SOCKET_OPTIONS``).
  A parameter given in the URL's query (``?connect_timeout=30``, or
  ``statement_timeout`` in its ``options``) wins over these defaults.
- JSON columns are written with ``allow_nan=False``: a NaN can never reach the
  database as the non-standard ``NaN`` token.
- Error messages show the URL with its password masked, never the password.
"""

from __future__ import annotations

import functools
import json
import re
import sqlite3
import time
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError
from sqlalchemy.pool import ConnectionPoolEntry

SQLITE_BUSY_TIMEOUT_MS = 30_000
PG_CONNECT_TIMEOUT_S = 10
PG_STATEMENT_TIMEOUT_MS = 60_000  # far above a checkpoint's write time (bench/README.md)
PG_SOCKET_OPTIONS = {"tcp_user_timeout": 20_000, "keepalives": 1, "keepalives_idle": 10,
                     "keepalives_interval": 5, "keepalives_count": 3}
SQLITE_IMMEDIATE = "driftline_sqlite_immediate"  # execution option: BEGIN IMMEDIATE on SQLite
SUPPORTED_BACKENDS = ("sqlite", "postgresql")
_DEFAULT_DRIVERS = {"postgresql": "postgresql+psycopg", "postgres": "postgresql+psycopg"}
_PASSWORD = re.compile(r"(://[^:/@]*:).*@")  # greedy: a raw '@' in a password
_PASSWORD_PARAM = re.compile(r"(?i)(password\s*=\s*)[^\s&'\"]*")  # key=value connection strings

json_dumps = functools.partial(json.dumps, allow_nan=False, separators=(",", ":"))


def mask_url(url: str | URL) -> str:
    """The URL as text with any password replaced by ``***``.

    >>> mask_url("postgresql+psycopg://app:s3cret@db:5432/drift")
    'postgresql+psycopg://app:***@db:5432/drift'
    >>> mask_url("not a url://x:y@z")
    'not a url://x:***@z'
    """
    if isinstance(url, URL):
        return url.render_as_string(hide_password=True)
    return _PASSWORD.sub(r"\1***@", url)


def describe_error(exc: BaseException, limit: int = 300) -> str:
    """``Type: first line of the message``, passwords masked, for a log line.

    A SQLAlchemy error is described by the driver's error it wraps: its own text
    goes on with the statement and its parameters (checkpoint blobs among them).
    Every ``user:password@`` (``mask_url``) and ``password=...`` is masked; the
    text is cut at ``limit`` characters.

    >>> describe_error(RuntimeError("cannot reach postgresql://app:s3cret@db/x\\nmore"))
    'RuntimeError: cannot reach postgresql://app:***@db/x'
    """
    inner = getattr(exc, "orig", None)
    shown = inner if isinstance(inner, BaseException) else exc
    lines = str(shown).strip().splitlines()
    text = f"{type(shown).__name__}: {lines[0]}" if lines else type(shown).__name__
    text = _PASSWORD_PARAM.sub(r"\1***", mask_url(text))
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _scheme(text: str) -> str:
    return text.split("://", 1)[0] if "://" in text else "(none)"


def parse_url(url: str | URL) -> URL:
    """Parse and check a database URL; ``ValueError`` names the scheme otherwise."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        text = str(url)
        raise ValueError(
            f"database URL must look like sqlite:///path or postgresql+psycopg://user@host/db;"
            f" got scheme {_scheme(text)!r} in {mask_url(text)}"
        ) from None
    if parsed.drivername in _DEFAULT_DRIVERS:
        parsed = parsed.set(drivername=_DEFAULT_DRIVERS[parsed.drivername])
    if parsed.get_backend_name() not in SUPPORTED_BACKENDS:
        raise ValueError(
            f"database URL scheme {parsed.drivername!r} is not supported (use one of "
            f"{', '.join(SUPPORTED_BACKENDS)}): {mask_url(parsed)}"
        )
    return parsed


def _sqlite_on_connect(dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
    dbapi_connection.isolation_level = None  # SQLAlchemy emits BEGIN (_sqlite_on_begin)
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys = ON")
        _use_wal(cursor)
    finally:
        cursor.close()


def _use_wal(cursor: Any) -> None:
    """Put the database in WAL mode, waiting (up to the busy timeout) while it is locked.

    Switching a file to WAL takes its exclusive lock, and SQLite answers "database is
    locked" at once, without its busy timeout, while another connection holds a lock
    on a file not yet in WAL mode: two workers opening one new file at the same moment.
    A file already in WAL mode is left as it is, without asking for that lock.
    """
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    delay = 0.005
    while True:
        try:
            if cursor.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
        time.sleep(delay)  # the other connection's switch or transaction ends meanwhile
        delay = min(2 * delay, 0.2)


def _sqlite_on_begin(conn: Any) -> None:
    # ``IMMEDIATE`` takes the write lock at once, waiting out the busy timeout for it
    # (schema upgrades: see ``store.migrate``); a deferred BEGIN that read first fails
    # at its first write when another connection wrote meanwhile.
    immediate = conn.get_execution_options().get(SQLITE_IMMEDIATE, False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def postgres_connect_args(url: URL) -> dict[str, Any]:
    """The driver's timeouts (module docstring), less those the URL's query sets itself."""
    given = set(url.query)
    args: dict[str, Any] = {name: value for name, value in PG_SOCKET_OPTIONS.items()
                            if name not in given}
    if "connect_timeout" not in given:
        args["connect_timeout"] = PG_CONNECT_TIMEOUT_S
    options = url.query.get("options", "")
    options = options if isinstance(options, str) else " ".join(options)
    if "statement_timeout" not in options:
        args["options"] = f"{options} -c statement_timeout={PG_STATEMENT_TIMEOUT_MS}".strip()
    return args


def make_engine(url: str | URL, **kwargs: Any) -> Engine:
    """An engine for ``url`` set up as the module docstring says.

    ``kwargs`` go to ``sqlalchemy.create_engine`` (pool sizes, ``echo``).
    A malformed URL, an unsupported scheme or a missing driver raise
    ``ValueError`` naming the scheme, with the password masked.
    """
    parsed = parse_url(url)
    options: dict[str, Any] = {"pool_pre_ping": True, "json_serializer": json_dumps}
    if parsed.get_backend_name() == "sqlite":
        options["connect_args"] = {"cached_statements": 0}
    else:
        options["connect_args"] = postgres_connect_args(parsed)
    options.update(kwargs)
    try:
        engine = create_engine(parsed, **options)
    except (NoSuchModuleError, ImportError) as exc:
        raise ValueError(
            f"database URL scheme {parsed.drivername!r} has no usable driver ({exc}): "
            f"{mask_url(parsed)}"
        ) from None
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_on_connect)
        event.listen(engine, "begin", _sqlite_on_begin)
    return engine
