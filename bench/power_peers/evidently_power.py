"""Evidently's ``DataDriftPreset`` with its defaults: each column's own drift verdict.

Run by ``bench/power.py`` in ``bench/.venv-evidently`` (``bench/setup-peer.sh evidently``).
The trials of a batch are the columns of one table (trial ``i`` is column
``t{i}`` of the reference and of the current table), declared numeric or
categorical in a ``DataDefinition``; ``Report([DataDriftPreset()]).run(current,
reference)`` then picks each column's test by Evidently's default rule and the
verdict of trial ``i`` is whether column ``t{i}``'s ``ValueDrift`` fired
(a p-value below its threshold, or a distance at or above it). Columns are
tested one by one, so batching them changes no verdict; the preset's
dataset-level share is not used. The test Evidently chose for each column is
noted with the results.
"""

from __future__ import annotations

import importlib.metadata
import os
import sys
from collections.abc import Sequence
from typing import Any

os.environ.setdefault("DO_NOT_TRACK", "1")  # Evidently's usage telemetry stays off

import numpy as np
import pandas as pd  # type: ignore[import-untyped, unused-ignore]
from evidently import (  # type: ignore[import-not-found, unused-ignore]
    DataDefinition,
    Dataset,
    Report,
)
from evidently.presets import (  # type: ignore[import-not-found, unused-ignore]
    DataDriftPreset,
)
from numpy.typing import NDArray
from peer import main, note
from scenarios import Kind, category_labels


def _fired(config: dict[str, Any], value: float) -> bool:
    """Evidently's rule: a p-value method fires below its threshold, a distance at or above."""
    threshold = float(config["threshold"])
    return value < threshold if "p_value" in str(config["method"]) else value >= threshold


def _table(arrays: Sequence[NDArray[np.generic]], kind: Kind) -> Any:
    convert = category_labels if kind == "categorical" else (lambda a: a)
    return pd.DataFrame({f"t{i}": convert(a) for i, a in enumerate(arrays)})


def _flags(references: Sequence[NDArray[np.generic]], windows: Sequence[NDArray[np.generic]],
           kind: Kind) -> list[bool]:
    names = [f"t{i}" for i in range(len(references))]
    definition = DataDefinition(
        numerical_columns=names if kind == "numeric" else [],
        categorical_columns=names if kind == "categorical" else [],
    )
    reference = Dataset.from_pandas(_table(references, kind), data_definition=definition)
    current = Dataset.from_pandas(_table(windows, kind), data_definition=definition)
    snapshot = Report([DataDriftPreset()]).run(current, reference)
    fired: dict[str, bool] = {}
    for metric in snapshot.dict()["metrics"]:
        config = metric["config"]
        if "ValueDrift" in config["type"]:
            fired[str(config["column"])] = _fired(config, float(metric["value"]))
            note(f"{config['method']} (threshold {config['threshold']})")
    return [fired[name] for name in names]


if __name__ == "__main__":
    sys.exit(main(_flags, {
        "method": "Evidently DataDriftPreset (defaults, per column)",
        "versions": {name: importlib.metadata.version(name)
                     for name in ("evidently", "pandas", "numpy", "scipy")},
        "python": sys.version.split()[0],
    }))
