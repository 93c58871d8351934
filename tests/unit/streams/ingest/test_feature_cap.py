"""A flood of new feature names is bounded per model version (``streams.ingest.feature_cap``)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from prometheus_client import CollectorRegistry

from store.engine import make_engine
from store.migrate import upgrade
from streams.config.settings import load_settings
from streams.decoding.columns import to_model_batches
from streams.decoding.events import PredictionEvent, RawMessage
from streams.decoding.fastdecode import DecodedColumns
from streams.ingest.feature_cap import FeatureCap, held_names
from streams.ingest.service import Ingest
from streams.runtime.metrics import Metrics

START = datetime(2026, 11, 22, 10, tzinfo=UTC)


def _flood(first: int, n: int, names_each: int, model: str = "m") -> DecodedColumns:
    """``n`` events from ``first`` (a second apart), each with ``names_each`` new names."""
    events = [PredictionEvent(
        event_id=f"e{i}", model_id=model, event_time=START + timedelta(seconds=i),
        features={"amount": float(i), **{f"f{i}_{j}": 1.0 for j in range(names_each)}})
        for i in range(first, first + n)]
    batches = to_model_batches(events, [(0, i) for i in range(first, first + n)])
    return DecodedColumns(batches, [], n, False)


def test_the_cap_admits_first_come_and_counts_the_rest() -> None:
    metrics = Metrics(CollectorRegistry())
    cap = FeatureCap(limit=10)
    ((_, batch),) = _flood(0, 5, 3).batches.items()
    kept = cap.admit(batch, metrics)
    assert len(cap.names) == 10
    assert set(kept.feature_names) == cap.names
    assert set(kept.columns) == cap.names | {"prediction", "score"}
    assert set(kept.missing) == set(kept.columns)
    dropped = len(batch.feature_names) - 10  # one value each
    assert metrics.registry.get_sample_value(
        "driftline_features_dropped_total", {"model": "m"}) == dropped
    assert cap.admit(kept, metrics) is kept  # nothing beyond the cap: the batch as it is


def test_a_name_flood_keeps_the_window_and_the_reference_bounded(tmp_path: object) -> None:
    url = f"sqlite:///{tmp_path}/w.db"
    upgrade(url)
    settings = load_settings(None, {
        "DRIFTLINE_INGEST__MAX_FEATURES_PER_MODEL": "200",
        "DRIFTLINE_MODELS__DEFAULT__THRESHOLDS__MIN_REFERENCE_ROWS": "0"})
    metrics = Metrics(CollectorRegistry())
    ingest = Ingest(settings, make_engine(url), metrics)
    ingest.restore([0])
    closed = []
    for first in range(0, 1_000, 100):  # 1,000 events, 100,000 distinct names
        closed += ingest.apply(0, _flood(first, 100, 100), first + 100)
    closed += ingest.apply(0, _flood(1_000, 1, 0), 1_001)  # closes the first window
    state = ingest.partitions[0]
    job = ingest.prepare(closed, [state])
    ingest.write(job)
    ingest.finish(job)
    (windows,) = ingest.partitions[0].models.values()
    assert windows.reference is not None
    held = held_names(windows)  # what a restarted worker admits again
    assert len(held) == 200
    assert "amount" in held
    assert FeatureCap.of(200, [*held, "new"]).names == set(held)
    series = {s.labels.get("feature") for m in metrics.registry.collect() for s in m.samples}
    assert len(series - {None}) <= 200 + 2  # and prediction, score
    # every flood value but those of the 199 names admitted with "amount"
    assert metrics.registry.get_sample_value(
        "driftline_features_dropped_total", {"model": "m"}) == 100_000 - 199


def test_the_ingest_decodes_a_flood_within_the_cap(tmp_path: object) -> None:
    """Only the names the cap lets through get columns; the counts are a full decode's."""
    url = f"sqlite:///{tmp_path}/w.db"
    upgrade(url)
    settings = load_settings(None, {"DRIFTLINE_INGEST__MAX_FEATURES_PER_MODEL": "50"})
    metrics = Metrics(CollectorRegistry())
    ingest = Ingest(settings, make_engine(url), metrics)
    ingest.restore([0])
    now = datetime.now(UTC)
    for first in (0, 100):  # 100 events of 10 new names each, twice
        messages = [RawMessage("p", 0, i, b"m", json.dumps({
            "event_id": f"e{i}", "model_id": "m", "event_time": now.isoformat(),
            "features": {"amount": i, **{f"f{i}_{j}": j for j in range(10)}}}).encode(), 1)
            for i in range(first, first + 100)]
        decoded = ingest.decode(messages)
        ((key, batch),) = decoded.batches.items()
        assert len(batch.feature_names) == (50 if first == 0 else 1)  # amount, held
        assert sum(batch.skipped.values()) == 1_000 - (len(batch.feature_names) - 1)
        ingest.apply(0, decoded, first + 100)
        assert ingest._caps[key].names == {"amount", *(f"f{i}_{j}" for i in range(5)
                                                       for j in range(10)), } - {"f4_9"}
    assert metrics.registry.get_sample_value(
        "driftline_features_dropped_total", {"model": "m"}) == 200 * 11 - 200 - 49
