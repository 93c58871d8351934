"""Decoding within a ``NameBudget`` gives what a full decode then ``FeatureCap.admit``
give: the same columns, missing masks, admitted names and dropped values."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry

from streams.config.settings import IngestSettings
from streams.decoding.columns import ModelBatch, NameBudget, to_model_batches
from streams.decoding.events import PredictionEvent, RawMessage
from streams.decoding.fastdecode import decode_prediction_columns, looks_flooded
from streams.ingest.feature_cap import FeatureCap
from streams.runtime.metrics import Metrics

NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
POOL = ["amount", "country", "prediction", "feature:x", "age", "score", "b"]
VALUES = st.one_of(st.none(), st.integers(-5, 5), st.floats(-1e3, 1e3), st.booleans(),
                   st.sampled_from(["DE", "FR", ""]))
Caps = dict[tuple[str, str], FeatureCap]


@st.composite
def _batch(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Events of two models; a pool of shared names, and per event maybe a flood of new
    ones; the kinds of a name's values mixed or not."""
    events = []
    uniform = draw(st.booleans())
    for i in range(draw(st.integers(1, 25))):
        names = POOL[:4] if uniform else draw(st.lists(st.sampled_from(POOL), unique=True))
        names += [f"new_{i}_{j}" for j in range(draw(st.integers(0, 6)))]
        features = {n: draw(VALUES) if draw(st.booleans()) else float(i) for n in names}
        events.append({"event_id": f"e{i}", "model_id": draw(st.sampled_from("ab")),
                       "event_time": (NOW - timedelta(seconds=100 - i)).isoformat(),
                       "features": features, "prediction": i % 2, "score": 0.5})
    return events


def _caps(data: st.DataObject) -> Caps:
    caps = {}
    for model in "ab":
        limit = data.draw(st.integers(1, 12))
        held = data.draw(st.lists(st.sampled_from([*POOL, "feature:prediction", "new_3_0"]),
                             unique=True))
        caps[(model, "1")] = FeatureCap.of(limit, held)
    return caps


def _capped(batches: dict[tuple[str, str], ModelBatch], caps: Caps
            ) -> tuple[dict[tuple[str, str], ModelBatch], Metrics]:
    metrics = Metrics(CollectorRegistry())
    return {key: caps[key].admit(batch, metrics) for key, batch in batches.items()}, metrics


def _same(a: dict[tuple[str, str], ModelBatch], b: dict[tuple[str, str], ModelBatch]) -> None:
    assert list(a) == list(b)
    for key in a:
        x, y = a[key], b[key]
        assert x.feature_names == y.feature_names
        assert list(x.columns) == list(y.columns)
        assert list(x.missing) == list(y.missing)
        for name in x.columns:
            assert x.columns[name].dtype == y.columns[name].dtype, name
            if x.columns[name].dtype == object:
                assert x.columns[name].tolist() == y.columns[name].tolist(), name
            else:
                assert np.array_equal(x.columns[name], y.columns[name], equal_nan=True), name
            assert np.array_equal(x.missing[name], y.missing[name])
        assert y.skipped == {}
        assert y.rebuild is None


def _dropped(metrics: Metrics, model: str) -> float | None:
    return metrics.registry.get_sample_value("driftline_features_dropped_total",
                                             {"model": model})


def _budgets(caps: Caps, stale: int) -> Any:
    """Budgets as the ingest gives them, or taken before ``stale`` names were admitted
    (an emptier cap: the case the admit has to make good)."""
    def budget(model_id: str, version: str) -> NameBudget:
        cap = caps[(model_id, version)]
        held = frozenset(sorted(cap.names)[stale:])
        return NameBudget(held, cap.limit - len(held))
    return budget


def _check(events: list[dict[str, Any]], caps: Caps, stale: int, columnar: bool) -> None:
    ingest = IngestSettings()
    messages = [RawMessage("p", 0, i, b"k", json.dumps(e).encode(), 1)
                for i, e in enumerate(events)]
    min_rows = 1 if columnar else len(messages) + 1
    full_caps, budget_caps = copy.deepcopy(caps), copy.deepcopy(caps)
    full = decode_prediction_columns(messages, now=NOW, ingest=ingest, min_rows=min_rows)
    bounded = decode_prediction_columns(messages, now=NOW, ingest=ingest, min_rows=min_rows,
                                        budgets=_budgets(budget_caps, stale))
    assert full.columnar == bounded.columnar
    expected, expected_metrics = _capped(full.batches, full_caps)
    got, got_metrics = _capped(bounded.batches, budget_caps)
    _same(expected, got)
    for key in caps:
        assert full_caps[key].names == budget_caps[key].names
        assert full_caps[key].dropped == budget_caps[key].dropped
        assert _dropped(expected_metrics, key[0]) == _dropped(got_metrics, key[0])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_a_budget_changes_nothing_the_cap_lets_through(data: st.DataObject) -> None:
    events = data.draw(_batch())
    _check(events, _caps(data), data.draw(st.integers(0, 3)), data.draw(st.booleans()))


def test_a_flood_builds_only_the_admitted_columns() -> None:
    """500 events with 20 new names each: 10,000 names, 10 columns built."""
    events = [PredictionEvent(event_id=f"e{i}", model_id="m", event_time=NOW,
                              features={"amount": float(i),
                                        **{f"f{i}_{j}": float(j) for j in range(20)}})
              for i in range(500)]
    positions = [(0, i) for i in range(500)]
    full_cap, cap = FeatureCap(limit=10), FeatureCap(limit=10)
    ((key, full),) = to_model_batches(events, positions).items()
    ((_, bounded),) = to_model_batches(
        events, positions, lambda m, v: NameBudget(cap.names, cap.limit - len(cap.names))
    ).items()
    assert len(full.feature_names) == 10_001
    assert len(bounded.feature_names) == 10
    assert sum(bounded.skipped.values()) == 10_001 - 10  # one value each
    expected, expected_metrics = _capped({key: full}, {key: full_cap})
    got, got_metrics = _capped({key: bounded}, {key: cap})
    _same(expected, got)
    assert _dropped(got_metrics, "m") == _dropped(expected_metrics, "m") == 10_001 - 10


def test_a_flood_is_seen_before_arrow_parses_it() -> None:
    def message(i: int, names: int) -> RawMessage:
        features = {"amount": 1.0, **{f"n{i}_{j}": 1.0 for j in range(names)}}
        return RawMessage("p", 0, i, None, json.dumps({"features": features}).encode(), 1)

    assert looks_flooded([message(i, 20) for i in range(500)])
    assert looks_flooded([message(i, 1) for i in range(10_000)])
    assert not looks_flooded([message(i, 0) for i in range(10_000)])
    same = [RawMessage("p", 0, i, None, json.dumps(
        {"features": {f"x{j}": 1 for j in range(900)}}).encode(), 1) for i in range(100)]
    assert not looks_flooded(same)
