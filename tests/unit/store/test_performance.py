"""Performance rows beside their drift windows: the key, the end and the coverage (both
backends)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.engine import Engine

from detectors import DriftReport
from store import save_window
from store.performance import PerformanceRecord, list_performance, save_estimate, save_performance
from store.repository import touch_model
from tests.unit.store.window_factory import MakeWindow

START = datetime(2026, 11, 22, 10, 0, 0, 123456, tzinfo=UTC)  # a count window's first event


def record(n_labels: int, end: datetime) -> PerformanceRecord:
    return PerformanceRecord("fraud", "7", START, end, "classification", n_labels, 30.0, 31.0,
                             {"n": n_labels, "accuracy": 0.75})


def test_a_count_window_row_takes_the_drift_window_end_once_that_is_stored(
        engine: Engine, reports: dict[str, DriftReport], make_window: MakeWindow) -> None:
    """The outcome side knows a count window only up to its latest labelled prediction."""
    drift_end = START + timedelta(seconds=42.5)
    early_end = START + timedelta(seconds=10)
    with engine.begin() as conn:
        touch_model(conn, "fraud")
        assert save_performance(conn, record(40, early_end)) is None  # no drift row yet
    with engine.connect() as conn:
        [row] = list_performance(conn, "fraud")
    assert (row["window_end"], row["n_predictions"], row["label_coverage"]) == (
        early_end, None, None)
    with engine.begin() as conn:
        save_window(conn, make_window(reports["calm"], window_start=START, window_end=drift_end,
                                      n_events=80))
    with engine.connect() as conn:
        [row] = list_performance(conn, "fraud")  # read beside the drift row
    assert (row["window_end"], row["n_predictions"], row["label_coverage"]) == (
        drift_end, 80, 0.5)
    with engine.begin() as conn:
        assert save_performance(conn, record(60, early_end)) == 0.75
        save_estimate(conn, "fraud", "7", START, drift_end, {"accuracy": 0.7})
    with engine.connect() as conn:
        [row] = list_performance(conn, "fraud")
    assert (row["window_start"], row["window_end"], row["n_labels"], row["label_coverage"]) == (
        START, drift_end, 60, 0.75)
    assert row["estimate"] == {"accuracy": 0.7}
    assert row["metrics"] == {"n": 60, "accuracy": 0.75}
