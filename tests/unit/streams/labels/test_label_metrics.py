"""The label paths' Prometheus series: which window the performance gauges show, label
coverage (on SQLite), and the counters exported at 0 before their first increment."""

from __future__ import annotations

from datetime import UTC, datetime

from prometheus_client import CollectorRegistry
from sqlalchemy import insert
from sqlalchemy.engine import Engine

from store import repository
from store.tables import windows
from streams.config.settings import load_settings
from streams.labels.join import Outcome
from streams.labels.join_service import JoinService
from streams.runtime.metrics import Metrics
from tests.unit.streams.labels.join_columns import preds
from tests.unit.streams.labels.outcome_consumer import MODEL, Consumer

WINDOW = 300.0  # the default window size




def outcomes(start: float, labels: list[int]) -> list[Outcome]:
    """Predictions of 1 in the window from ``start``, with these labels."""
    return [Outcome("fraud", "1", f"p{start}-{i}", start + i, start + i + 5, 1, 0.9, label, 5.0)
            for i, label in enumerate(labels)]


def drift_window(engine: Engine, start: float, n_events: int) -> None:
    """The drift window row the label coverage divides by."""
    with engine.begin() as conn:
        repository.touch_model(conn, "fraud")
        conn.execute(insert(windows), {
            "model_id": "fraud", "model_version": "1",
            "window_start": datetime.fromtimestamp(start, UTC),
            "window_end": datetime.fromtimestamp(start + WINDOW, UTC), "n_events": n_events,
            "n_late": 0, "status": "no_drift", "drift_share": 0.0, "dataset_drift": False,
            "reference_source": "first_window", "report": {},
            "closed_at": datetime.now(UTC)})


def test_counters_are_exported_at_zero_once_a_version_has_outcomes(engine: Engine) -> None:
    consumer = Consumer(engine)
    assert consumer.value("driftline_concept_drift_detections_total", **MODEL,
                          detector="ADWIN") is None
    consumer.feed(outcomes(0.0, [1, 1]))
    assert consumer.value("driftline_concept_drift_detections_total", **MODEL,
                          detector="ADWIN") == 0.0
    for outcome in ("too_late", "invalid"):
        assert consumer.value("driftline_labels_total", model="fraud", outcome=outcome) == 0.0


def test_gauges_show_the_newest_window_and_the_newest_known_coverage(engine: Engine) -> None:
    consumer = Consumer(engine)
    consumer.feed(outcomes(0.0, [1, 1]) + outcomes(WINDOW, [1, 0, 0, 0]))
    consumer.checkpoint()
    assert consumer.performance("accuracy") == 0.25  # the window from 60 s
    assert consumer.performance("label_coverage") is None  # no drift window stored yet

    drift_window(engine, 0.0, n_events=4)
    consumer.feed([Outcome("fraud", "1", "late", 30.0, 400.0, 1, 0.9, 0, 370.0)])  # older window
    consumer.checkpoint()
    assert consumer.performance("accuracy") == 0.25  # still the newest window's
    assert consumer.performance("label_coverage") == 0.75  # 3 labels, 4 predictions

    drift_window(engine, WINDOW, n_events=8)
    consumer.feed(outcomes(WINDOW + 10, [1]))
    consumer.checkpoint()
    assert consumer.performance("accuracy") == 0.4
    assert consumer.performance("label_coverage") == 5 / 8


def test_join_outcomes_are_exported_at_zero_once_a_model_has_pending_predictions(
        engine: Engine) -> None:
    registry = CollectorRegistry()
    service = JoinService(load_settings(None, {}), engine, Metrics(registry), "join")
    service.restore_state(0, None)
    service.on_timer()
    assert registry.get_sample_value("driftline_labels_total",
                                     {"model": "fraud", "outcome": "joined"}) is None
    service.states[0].add_predictions(preds(("a", 1000.0)))
    service.on_timer()
    for outcome in ("joined", "duplicate", "unmatched", "expired"):
        assert registry.get_sample_value("driftline_labels_total",
                                         {"model": "fraud", "outcome": outcome}) == 0.0
    assert registry.get_sample_value("driftline_pending_predictions", {"model": "fraud"}) == 1


def test_label_series_of_a_flood_of_model_ids_are_bounded(engine: Engine) -> None:
    registry = CollectorRegistry()
    service = JoinService(load_settings(None, {}), engine,
                          Metrics(registry, max_label_models=3), "join")
    service.restore_state(0, None)
    service.states[0].add_predictions(preds(*[(f"p{i}", 1000.0 + i, f"m{i}", "1", 1, 0.5)
                                              for i in range(50)]))
    service.on_timer()
    pending = {s.labels["model"]: s.value for m in registry.collect()
               if m.name == "driftline_pending_predictions" for s in m.samples}
    named = {model for model in pending if model != "_other"}
    assert len(named) == 3  # the first three ids met keep their own series
    assert all(pending[model] == 1 for model in named)
    assert pending["_other"] == 47
    models = {s.labels["model"] for m in registry.collect()
              if m.name == "driftline_labels" for s in m.samples}
    assert models == {*named, "_other"}
