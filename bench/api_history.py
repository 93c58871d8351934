"""The API's latency for a 30-day feature history of one model (``make bench-api``).

A store holds one model version with 30 days of 5-minute windows (8,640 windows) of 50
features (432,000 feature rows), filled in bulk with SQLAlchemy core from the rows
``store.repository`` writes for one real drift report. A real ``driftline api`` serves
it on localhost (uvicorn, a subprocess with a config file and a read token), and one
keep-alive HTTP connection times:

- every page of the whole 30-day history of one feature (``limit`` 1000, following
  ``next_cursor``), several times over;
- single pages of 100 rows (the default ``limit``) at cursors spread over the 30 days.

Run on SQLite (a file in a temporary folder) and, when ``DRIFTLINE_TEST_DATABASE_URL``
is set, on PostgreSQL in a fresh schema that is dropped afterwards.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import insert, select, text
from sqlalchemy.engine import make_url

from detectors import DriftPolicy, compare
from store import WindowRecord, make_engine, save_window, upgrade
from store.pages import After
from store.repository import _feature_row, _window_row
from store.tables import feature_stats, windows
from streams.api import cursors

MODEL, VERSION, FEATURE = "bench", "1", "f_00"
N_FEATURES = 50
STEP = timedelta(minutes=5)
N_WINDOWS = 30 * 24 * 12  # 30 days of 5-minute windows
START = datetime(2026, 11, 1, tzinfo=UTC)
TOKEN = "bench-read-token"
CHUNK = 2000


def _report() -> Any:
    rng = np.random.default_rng(18)
    names = [f"f_{i:02d}" for i in range(N_FEATURES)]
    reference = {name: rng.normal(0.0, 1.0, 300) for name in names}
    current = {name: rng.normal(0.2, 1.0, 300) for name in names}
    return compare(reference, current, dict.fromkeys(names, "numeric"),
                   policy=DriftPolicy.of("classic"))


def fill(url: str) -> float:
    """Write the 30 days; the seconds it took."""
    began = time.perf_counter()
    engine = make_engine(url)
    upgrade(engine)
    report = _report()
    columns = [*report.features, *report.predictions, *report.targets]
    records = [WindowRecord(model_id=MODEL, model_version=VERSION, window_start=START + i * STEP,
                            window_end=START + (i + 1) * STEP, n_events=300, n_late=0,
                            reference_id=None, reference_source="file", report=report,
                            closed_at=START + (i + 1) * STEP) for i in range(N_WINDOWS)]
    with engine.begin() as conn:
        save_window(conn, records[0])  # the model row, through the store itself
        rows = [_window_row(record) for record in records[1:]]
        for at in range(0, len(rows), CHUNK):
            conn.execute(insert(windows), rows[at:at + CHUNK])
        ids = {row.window_start: row.id for row in conn.execute(select(
            windows.c.window_start, windows.c.id).where(windows.c.model_id == MODEL))}
        features: list[dict[str, Any]] = []
        for record in records[1:]:
            key = record.window_start
            window_id = ids.get(key) or ids[key.replace(tzinfo=None)]
            features.extend(_feature_row(window_id, record, column) for column in columns)
            if len(features) >= CHUNK * 10:
                conn.execute(insert(feature_stats), features)
                features = []
        if features:
            conn.execute(insert(feature_stats), features)
    if engine.dialect.name == "postgresql":
        # Planner statistics, as autovacuum would gather them after such a load.
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            for table in (windows, feature_stats):
                conn.execute(text(f"ANALYZE {table.name}"))
    engine.dispose()
    return time.perf_counter() - began


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def serve(url: str, folder: Path) -> Iterator[int]:
    """``driftline api`` on a free localhost port until the block ends."""
    config = folder / "api.yaml"
    config.write_text("api:\n  open_reads: false\n  max_page: 1000\n  tokens:\n"
                      "    bench: {scopes: [read], value_env: BENCH_API_TOKEN}\n")
    port = _free_port()
    driftline = Path(sys.executable).with_name("driftline")
    process = subprocess.Popen(
        [str(driftline), "api", "--config", str(config), "--database", url, "--port", str(port)],
        env={**os.environ, "BENCH_API_TOKEN": TOKEN}, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                connection.request("GET", "/readyz")
                if connection.getresponse().status == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError("driftline api did not become ready")
            time.sleep(0.2)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=30)


def _get(connection: http.client.HTTPConnection, path: str) -> tuple[float, dict[str, Any]]:
    began = time.perf_counter()
    connection.request("GET", path, headers={"Authorization": f"Bearer {TOKEN}"})
    answer = connection.getresponse()
    body = answer.read()
    took = time.perf_counter() - began
    if answer.status != 200:
        raise RuntimeError(f"{path}: {answer.status} {body[:200]!r}")
    found: dict[str, Any] = json.loads(body)
    return took, found


def measure(port: int, rounds: int, singles: int) -> dict[str, Any]:
    """Page latencies (ms) of ``rounds`` full walks and of ``singles`` 100-row pages."""
    route = f"/v1/models/{MODEL}/versions/{VERSION}/features/{FEATURE}"
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    _get(connection, f"{route}?limit=100")  # warm the connection and the process
    pages, walks = [], []
    for _ in range(rounds):
        began, cursor, rows = time.perf_counter(), None, 0
        while True:
            took, body = _get(connection, f"{route}?limit=1000"
                                          + (f"&cursor={cursor}" if cursor else ""))
            pages.append(took)
            rows += len(body["items"])
            cursor = body["next_cursor"]
            if cursor is None:
                break
        walks.append(time.perf_counter() - began)
        if rows != N_WINDOWS:
            raise RuntimeError(f"the walk read {rows} rows, not {N_WINDOWS}")
    single = []
    for i in range(singles):
        row = i * (N_WINDOWS // singles)
        cursor = cursors.encode(After(START + row * STEP, row))
        took, body = _get(connection, f"{route}?limit=100&cursor={cursor}")
        single.append(took)
    connection.close()
    return {"pages": pages, "walks": walks, "single": single}


def _ms(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0] * 1000
    return statistics.quantiles(ordered, n=100, method="inclusive")[int(q) - 1] * 1000


@contextmanager
def _postgres_schema(url: str) -> Iterator[str]:
    schema = f"bench_api_{uuid.uuid4().hex[:12]}"
    admin = make_engine(url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    parsed = make_url(url)
    options = f"{parsed.query.get('options', '')} -csearch_path={schema}".strip()
    try:
        yield parsed.update_query_dict({"options": options}).render_as_string(
            hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def run(name: str, url: str, folder: Path, rounds: int, singles: int) -> list[str]:
    filled = fill(url)
    with serve(url, folder) as port:
        found = measure(port, rounds, singles)
    pages, single, walks = found["pages"], found["single"], found["walks"]
    return [
        f"| {name} | 1000-row pages of the 30 days ({len(pages)}) | {_ms(pages, 50):.1f} | "
        f"{_ms(pages, 99):.1f} | walk of 8,640 rows: median {statistics.median(walks):.2f} s |",
        f"| {name} | one 100-row page ({len(single)}) | {_ms(single, 50):.1f} | "
        f"{_ms(single, 99):.1f} | store filled in {filled:.0f} s |",
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="full walks of the 30 days")
    parser.add_argument("--singles", type=int, default=200, help="single 100-row pages")
    args = parser.parse_args()
    lines = ["| store | requests (count) | p50 ms | p99 ms | |", "|---|---|---:|---:|---|"]
    with tempfile.TemporaryDirectory(prefix="bench-api-") as folder:
        lines += run("SQLite", f"sqlite:///{folder}/store.db", Path(folder), args.rounds,
                     args.singles)
        postgres = os.environ.get("DRIFTLINE_TEST_DATABASE_URL")
        if postgres:
            with _postgres_schema(postgres) as url:
                lines += run("PostgreSQL", url, Path(folder), args.rounds, args.singles)
        else:
            lines.append("| PostgreSQL | not run: DRIFTLINE_TEST_DATABASE_URL is not set | | | |")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
