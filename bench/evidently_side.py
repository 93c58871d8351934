"""The Evidently side of the benchmark, run by ``bench/run.py`` in ``bench/.venv-evidently``.

Reads the same Parquet files as the driftline side (``bench/data/``), maps the
columns as numeric or categorical, and runs Evidently's ``DataDriftPreset``
report for one window: the current table against the reference. Imports and
the Parquet read are not timed. Each run times ``Dataset.from_pandas`` for both
tables (the column mapping) and ``Report.run`` (the statistics), after
``--warmup`` untimed runs. Prints one line of JSON on stdout.

Usage: ``bench/.venv-evidently/bin/python bench/evidently_side.py DATA_DIR [--runs N]``
"""

from __future__ import annotations

import argparse
import gc
import importlib.metadata
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("DO_NOT_TRACK", "1")  # Evidently's usage telemetry stays off

import pyarrow.parquet as pq
from evidently import (  # type: ignore[import-not-found, unused-ignore]
    DataDefinition,
    Dataset,
    Report,
)
from evidently.presets import (  # type: ignore[import-not-found, unused-ignore]
    DataDriftPreset,
)


def _one_run(reference: Any, current: Any, definition: Any) -> tuple[float, float, Any]:
    gc.collect()
    start = time.perf_counter()
    ref = Dataset.from_pandas(reference, data_definition=definition)
    cur = Dataset.from_pandas(current, data_definition=definition)
    mapped = time.perf_counter()
    snapshot = Report([DataDriftPreset()]).run(cur, ref)
    done = time.perf_counter()
    return mapped - start, done - mapped, snapshot


def _fired(config: dict[str, Any], value: float) -> bool:
    """Evidently's rule: a p-value method fires below its threshold, a distance at or above."""
    threshold = float(config["threshold"])
    return value < threshold if "p_value" in str(config["method"]) else value >= threshold


def _drift_summary(snapshot: Any) -> dict[str, Any]:
    """The preset's drifted-columns count and the columns whose drift metric fired."""
    metrics: list[dict[str, Any]] = snapshot.dict()["metrics"]
    count: dict[str, Any] = next(
        m["value"] for m in metrics if "DriftedColumnsCount" in m["config"]["type"]
    )
    drifted = [
        str(m["config"]["column"])
        for m in metrics
        if "ValueDrift" in m["config"]["type"] and _fired(m["config"], float(m["value"]))
    ]
    return {"n_drifted": int(count["count"]), "share": float(count["share"]),
            "drifted_columns": drifted}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=1)
    args = parser.parse_args(argv)
    meta = json.loads((args.data_dir / "meta.json").read_text())
    kinds: dict[str, str] = meta["kinds"]
    reference = pq.read_table(args.data_dir / meta["reference"]).to_pandas()
    current = pq.read_table(args.data_dir / meta["current"]).to_pandas()
    definition = DataDefinition(
        numerical_columns=[name for name, kind in kinds.items() if kind == "numeric"],
        categorical_columns=[name for name, kind in kinds.items() if kind == "categorical"],
    )
    for _ in range(args.warmup):
        _one_run(reference, current, definition)
    mapping_s: list[float] = []
    report_s: list[float] = []
    snapshot: Any = None
    for _ in range(args.runs):
        mapped, ran, snapshot = _one_run(reference, current, definition)
        mapping_s.append(mapped)
        report_s.append(ran)
    total_s = [m + r for m, r in zip(mapping_s, report_s, strict=True)]
    result = {
        "evidently_version": importlib.metadata.version("evidently"),
        "pandas_version": importlib.metadata.version("pandas"),
        "python": sys.version.split()[0],
        "rows": [len(reference), len(current)],
        "runs": args.runs,
        "warmup": args.warmup,
        "mapping_s": mapping_s,
        "report_s": report_s,
        "total_s": total_s,
        "median_mapping_s": statistics.median(mapping_s),
        "median_report_s": statistics.median(report_s),
        "median_total_s": statistics.median(total_s),
        **_drift_summary(snapshot),
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
