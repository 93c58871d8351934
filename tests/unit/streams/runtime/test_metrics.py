"""Prometheus series of the worker, read from a fresh registry."""

from __future__ import annotations

import numpy as np
from prometheus_client import CollectorRegistry

from detectors import DriftPolicy, DriftReport, compare
from streams.runtime.metrics import Metrics


def _report(shift: float) -> DriftReport:
    rng = np.random.default_rng(1)
    return compare({"x": rng.normal(size=2_000),
                    "c": rng.choice(list("ab"), 2_000).astype(object)},
                   {"x": rng.normal(shift, 1, 2_000),
                    "c": rng.choice(list("ab"), 2_000).astype(object)},
                   {"x": "numeric", "c": "categorical"}, policy=DriftPolicy.of("classic"))


def test_window_series_and_their_values() -> None:
    registry = CollectorRegistry()
    metrics = Metrics(registry)
    report = _report(1.5)
    metrics.window_closed("fraud", "7", report, 2_000, 1_700_000_000.0)
    labels = {"model": "fraud", "version": "7", "feature": "x"}
    x = report.features[0]
    assert registry.get_sample_value("driftline_feature_psi", labels) == x.psi
    assert registry.get_sample_value("driftline_feature_ks_pvalue", labels) == x.ks_pvalue
    assert registry.get_sample_value("driftline_feature_drift", labels) == 2.0
    assert registry.get_sample_value("driftline_feature_drift", {**labels, "feature": "c"}) == 0.0
    model = {"model": "fraud", "version": "7"}
    assert registry.get_sample_value("driftline_dataset_drift_share", model) == 0.5
    assert registry.get_sample_value("driftline_window_events", model) == 2_000
    assert registry.get_sample_value("driftline_windows_closed_total", model) == 1.0
    assert registry.get_sample_value("driftline_feature_statistic",
                                     {**labels, "statistic": "wasserstein"}) == x.wasserstein


def test_retired_versions_lose_every_series() -> None:
    registry = CollectorRegistry()
    metrics = Metrics(registry)
    metrics.window_closed("fraud", "1", _report(0.0), 10, 1.0)
    metrics.window_closed("fraud", "2", _report(0.0), 10, 2.0)
    metrics.retire("fraud", "1")
    old = {"model": "fraud", "version": "1"}
    assert registry.get_sample_value("driftline_feature_psi", {**old, "feature": "x"}) is None
    assert registry.get_sample_value("driftline_window_events", old) is None
    assert registry.get_sample_value("driftline_window_events", {**old, "version": "2"}) == 10
    metrics.retire("fraud", "1")  # retiring twice is harmless
