"""Shared fixtures: a real PostgreSQL database, one fresh schema per test.

``DRIFTLINE_TEST_DATABASE_URL`` names the server (for example
``postgresql+psycopg://postgres@127.0.0.1:5432/test``). When it is unset or the
server cannot be reached, the tests that need it are skipped with the reason —
unless ``CI=true``, where they fail: CI must never pass by skipping them.

With ``DRIFTLINE_TEST_CONTAINERS=1`` (``make test-containers``) the server is
PostgreSQL 16 in a container instead, started once for the session
(``tests.containers``).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

import pytest
from sqlalchemy import event, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import OperationalError

from store.engine import make_engine, mask_url
from store.migrate import upgrade
from tests import containers

POSTGRES_URL_VARIABLE = "DRIFTLINE_TEST_DATABASE_URL"


def _unavailable(reason: str) -> NoReturn:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (CI=true: PostgreSQL tests must run, not skip)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """The PostgreSQL server URL, checked to answer (or a skip / failure, see above)."""
    if containers.enabled():
        from tests.container_services import postgres

        with postgres() as url:
            yield url
        return
    url = os.environ.get(POSTGRES_URL_VARIABLE, "")
    if not url:
        _unavailable(f"{POSTGRES_URL_VARIABLE} is not set")
    engine = make_engine(url, connect_args={"connect_timeout": 5})
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except OperationalError as exc:
        _unavailable(f"PostgreSQL at {mask_url(url)} is unreachable: {exc.orig}".strip())
    finally:
        engine.dispose()
    yield url


def _with_schema(url: str, schema: str) -> str:
    """``url`` whose connections use ``schema`` first (libpq ``options``)."""
    parsed = make_url(url)
    options = f"{parsed.query.get('options', '')} -csearch_path={schema}".strip()
    return parsed.update_query_dict({"options": options}).render_as_string(hide_password=False)


@contextmanager
def schema_url(postgres_url: str, prefix: str, *, migrated: bool = False) -> Iterator[str]:
    """A URL whose connections use a new schema (migrated to the head if asked), dropped after."""
    schema = f"{prefix}_{uuid.uuid4().hex[:16]}"
    admin = make_engine(postgres_url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = _with_schema(postgres_url, schema)
    try:
        if migrated:
            upgrade(url)
        yield url
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def postgres_engine(postgres_url: str) -> Iterator[Engine]:
    """An engine on a new, empty schema that is dropped after the test."""
    with schema_url(postgres_url, "test") as url:
        engine = make_engine(url)
        try:
            yield engine
        finally:
            engine.dispose()


@contextmanager
def statements(engine: Engine) -> Iterator[list[str]]:
    """The SQL statements ``engine`` executes inside the block, as text."""
    seen: list[str] = []

    def record(*args: Any) -> None:
        seen.append(str(args[2]))

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)
