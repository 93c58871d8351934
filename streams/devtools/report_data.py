"""Synthetic stored windows of one model version, for trying ``driftline report --model``.

``python -m streams.devtools.report_data --database sqlite:///stored.db`` stores a
reference and a run of 5-minute windows whose features drift more and more, with
their realised performance, the performance estimate and concept-drift detections,
as a worker would. The same data feeds the report's tests and its benchmark.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy.engine import Engine

from detectors import DriftPolicy, build_profile, evaluate, sketch_columns
from detectors.batch import Kind
from detectors.reference import Role
from store import WindowRecord, make_engine, save_reference, save_window, upgrade
from store.performance import (
    DetectionRecord,
    PerformanceRecord,
    save_detections,
    save_estimate,
    save_performance,
)

START = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
WINDOW = timedelta(minutes=5)


def feature_kinds(n_features: int) -> dict[str, Kind]:
    """Every fourth feature categorical, the rest numeric, then the score."""
    kinds: dict[str, Kind] = {f"f{i:03d}": "categorical" if i % 4 == 3 else "numeric"
                              for i in range(n_features)}
    kinds["score"] = "numeric"
    return kinds


def columns(kinds: dict[str, Kind], n: int, shift: float, seed: int) -> dict[str, Any]:
    """One table's columns; ``shift`` moves the numeric features by that many σ."""
    rng = np.random.default_rng(seed)
    out: dict[str, Any] = {}
    for i, (name, kind) in enumerate(kinds.items()):
        moved = shift if i % 2 == 0 else 0.0
        if kind == "numeric":
            out[name] = rng.normal(moved, 1.0, n)
        else:
            p = np.array([0.5, 0.3, 0.2]) if moved == 0 else np.array([0.3, 0.3, 0.4])
            out[name] = rng.choice(["a", "b", "c"], n, p=p).astype(object)
    out["score"] = 1.0 / (1.0 + np.exp(-rng.normal(shift, 1.0, n)))
    return out


def fill(engine: Engine, *, model: str = "fraud", version: str = "1", n_features: int = 8,
         n_windows: int = 12, rows: int = 2000, reference_rows: int = 20_000) -> None:
    """Store a reference and ``n_windows`` windows of ``rows`` events in ``engine``."""
    upgrade(engine)
    kinds = feature_kinds(n_features)
    roles: dict[str, Role] = {"score": "prediction"}
    profile = build_profile(columns(kinds, reference_rows, 0.0, 0), kinds, roles=roles)
    policy = DriftPolicy()
    with engine.begin() as conn:
        ref_id = save_reference(conn, model, version, profile, "file", now=START)
        for w in range(n_windows):
            start = START + w * WINDOW
            shift = 0.5 * max(0, w - n_windows // 2) / max(1, n_windows // 2)
            sketch = sketch_columns(profile, columns(kinds, rows, shift, w + 1))
            report = evaluate(profile, sketch, policy)
            save_window(conn, WindowRecord(model, version, start, start + WINDOW, rows, 0,
                                           ref_id, "file", report, closed_at=start + WINDOW))
            accuracy = 0.9 - 0.3 * shift
            save_performance(conn, PerformanceRecord(
                model, version, start, start + WINDOW, "classification", rows // 2,
                30.0, 90.0, {"accuracy": accuracy, "f1": accuracy - 0.1}), now=start)
            save_estimate(conn, model, version, start, start + WINDOW,
                          {"status": "estimated", "accuracy": accuracy + 0.02,
                           "f1": accuracy - 0.08}, now=start)
        detected = START + (n_windows * 3 // 4) * WINDOW + timedelta(seconds=40)
        save_detections(conn, [DetectionRecord(model, version, "adwin", 12345, detected,
                                               "error_rate", {"delta": 0.002})], now=detected)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", required=True, help="e.g. sqlite:///stored.db")
    parser.add_argument("--features", type=int, default=8)
    parser.add_argument("--windows", type=int, default=12)
    args = parser.parse_args()
    engine = make_engine(args.database)
    try:
        fill(engine, n_features=args.features, n_windows=args.windows)
    finally:
        engine.dispose()
    print(f"stored {args.windows} windows of model fraud version 1 in {args.database}")


if __name__ == "__main__":
    main()
