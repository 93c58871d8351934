"""``store.ranges``: one model version's windows, performance and detections in a time range,
on SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy.engine import Engine

from store.ranges import detections_between, performance_between, windows_between
from streams.devtools.report_data import START, WINDOW, fill


def test_ranges_keep_what_starts_inside(engine: Engine) -> None:
    fill(engine, n_features=2, n_windows=4, rows=200, reference_rows=1000)
    fill(engine, version="2", n_features=2, n_windows=2, rows=200, reference_rows=1000)
    with engine.connect() as conn:
        every = windows_between(conn, "fraud", "1")
        assert [w["window_start"] for w in every] == [
            "2026-11-22T10:00:00Z", "2026-11-22T10:05:00Z", "2026-11-22T10:10:00Z",
            "2026-11-22T10:15:00Z"]
        assert {w["model_version"] for w in every} == {"1"}
        middle = windows_between(conn, "fraud", "1", START + WINDOW, START + 3 * WINDOW)
        assert [w["window_start"] for w in middle] == [w["window_start"] for w in every[1:3]]
        assert windows_between(conn, "fraud", "1", since=START + 4 * WINDOW) == []
        assert [p["window_start"] for p in performance_between(
            conn, "fraud", "1", until=START + WINDOW)] == [START]
        assert len(detections_between(conn, "fraud", "1")) == 1
        assert detections_between(conn, "fraud", "1", since=START + 4 * WINDOW) == []
        assert windows_between(conn, "other", "1") == []
