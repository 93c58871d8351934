"""A PostgreSQL that stops answering fails a connection within its timeout instead of hanging
the worker, and statements carry a timeout (``store.engine``)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from store import make_engine
from store.engine import PG_STATEMENT_TIMEOUT_MS, postgres_connect_args

pytestmark = pytest.mark.integration


@pytest.fixture
def blackhole() -> Iterator[int]:
    """A port that accepts TCP connections and never says a word (a hung database)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        stop.set()
        thread.join()
        for conn in accepted:
            conn.close()
        server.close()


def test_a_silent_database_fails_within_the_connect_timeout(blackhole: int) -> None:
    engine = make_engine(f"postgresql://driftline@127.0.0.1:{blackhole}/x?connect_timeout=2",
                         pool_pre_ping=False)
    started = time.monotonic()
    with pytest.raises(OperationalError), engine.connect():
        pass
    assert 1.5 <= time.monotonic() - started < 10


def test_statements_have_a_timeout(postgres_url: str) -> None:
    engine = make_engine(postgres_url)
    try:
        with engine.connect() as conn:
            shown = conn.execute(text("SHOW statement_timeout")).scalar_one()
            conn.execute(text("SET statement_timeout = 100"))
            with pytest.raises(OperationalError) as raised:
                conn.execute(text("SELECT pg_sleep(2)"))
    finally:
        engine.dispose()
    assert getattr(raised.value.orig, "sqlstate", None) == "57014"  # query_canceled
    assert shown == f"{PG_STATEMENT_TIMEOUT_MS // 60_000}min"


def test_the_url_wins_over_the_defaults() -> None:
    url = make_url("postgresql+psycopg://u@h/d?connect_timeout=30"
                   "&options=-csearch_path%3Dx%20-c%20statement_timeout%3D5000")
    args = postgres_connect_args(url)
    assert "connect_timeout" not in args
    assert "options" not in args
    plain = postgres_connect_args(make_url("postgresql+psycopg://u@h/d?options=-csearch_path%3Dx"))
    assert plain["options"] == f"-csearch_path=x -c statement_timeout={PG_STATEMENT_TIMEOUT_MS}"
    assert plain["connect_timeout"] == 10
