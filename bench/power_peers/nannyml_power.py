"""NannyML's ``UnivariateDriftCalculator`` with its default methods and thresholds.

Run by ``bench/power.py`` in ``bench/.venv-nannyml`` (``bench/setup-peer.sh nannyml``).
NannyML judges *chunks*: it computes the drift method on chunks of the reference
and sets the alert threshold from them; by default (NannyML 0.13) the method is
the Jensen–Shannon distance for both continuous and categorical columns and the
threshold is the mean of the reference chunks' values plus 3 standard
deviations (``StandardDeviationThreshold``, no lower threshold). To judge a
window as one verdict, the chunk is the window: ``chunk_size`` = the window's
rows, every other argument left at its default. The reference then holds
``reference rows // window rows`` full chunks (and a remainder, kept as NannyML
keeps incomplete chunks by default); with fewer than two chunks the threshold
comes from one value and its standard deviation is 0, which is noted with the
results. The verdict of a trial is the ``alert`` of the window's one chunk.

The trials of a batch are the columns of one table (``t{i}``); NannyML fits and
judges each column on its own, so batching changes no verdict.
"""

from __future__ import annotations

import importlib.metadata
import logging
import os
import sys
import warnings
from collections.abc import Sequence
from typing import Any

os.environ.setdefault("NML_DISABLE_USAGE_LOGGING", "1")  # NannyML's usage telemetry stays off
warnings.filterwarnings("ignore")
logging.disable(logging.WARNING)

import nannyml as nml  # type: ignore[import-not-found, unused-ignore]  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # type: ignore[import-untyped, unused-ignore]  # noqa: E402
from numpy.typing import NDArray  # noqa: E402
from peer import main, note  # noqa: E402
from scenarios import Kind, category_labels  # noqa: E402


def _table(arrays: Sequence[NDArray[np.generic]], kind: Kind) -> Any:
    if kind == "categorical":
        return pd.DataFrame({f"t{i}": pd.Series(category_labels(a), dtype="category")
                             for i, a in enumerate(arrays)})
    return pd.DataFrame({f"t{i}": np.asarray(a, dtype=np.float64) for i, a in enumerate(arrays)})


def _flags(references: Sequence[NDArray[np.generic]], windows: Sequence[NDArray[np.generic]],
           kind: Kind) -> list[bool]:
    names = [f"t{i}" for i in range(len(references))]
    window_rows = len(windows[0])
    calculator = nml.UnivariateDriftCalculator(column_names=names, chunk_size=window_rows)
    calculator.fit(_table(references, kind))
    result = calculator.calculate(_table(windows, kind)).filter(period="analysis").data
    if len(result) != 1:
        raise RuntimeError(f"the window made {len(result)} chunks, not 1")
    methods = calculator.categorical_method_names if kind == "categorical" else \
        calculator.continuous_method_names
    (method,) = methods
    reference_chunks = len(calculator.chunker.split(_table(references[:1], kind)))
    note(f"{method}, threshold = mean + 3 sd of {reference_chunks} reference chunk(s)")
    if {kind} != {"categorical" if n in calculator.categorical_column_names else "numeric"
                  for n in names}:
        raise RuntimeError("NannyML typed a column otherwise than the scenario")
    return [bool(result[(name, method, "alert")].iloc[0]) for name in names]


if __name__ == "__main__":
    sys.exit(main(_flags, {
        "method": "NannyML UnivariateDriftCalculator (defaults, chunk = window)",
        "versions": {name: importlib.metadata.version(name)
                     for name in ("nannyml", "pandas", "numpy", "scipy")},
        "python": sys.version.split()[0],
    }))
