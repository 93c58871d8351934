"""Alibi Detect's ``TabularDrift`` with its defaults, one feature per detector.

Run by ``bench/power.py`` in ``bench/.venv-alibi`` (``bench/setup-peer.sh alibi``).
Each trial builds ``TabularDrift(reference)``: p_val 0.05, Bonferroni
correction (a no-op with one feature), two-sided Kolmogorov–Smirnov (scipy's
asymptotic p-value) for a numeric feature, chi-square on the category counts
for a categorical one (``categories_per_feature={0: None}``: the categories are
read from the reference, as Alibi's documentation shows). The verdict is
``predict(window)["data"]["is_drift"]`` with the default ``drift_type="batch"``.
"""

from __future__ import annotations

import importlib.metadata
import sys
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray
from peer import main
from scenarios import Kind

warnings.filterwarnings("ignore")  # the numeric-only warning of every detector built

from alibi_detect.cd import TabularDrift  # type: ignore[import-not-found, unused-ignore]  # noqa: E402


def _flags(references: Sequence[NDArray[np.generic]], windows: Sequence[NDArray[np.generic]],
           kind: Kind) -> list[bool]:
    verdicts = []
    for reference, window in zip(references, windows, strict=True):
        categorical = kind == "categorical"
        dtype = np.int64 if categorical else np.float64
        x_ref = np.asarray(reference, dtype=dtype).reshape(-1, 1)
        x = np.asarray(window, dtype=dtype).reshape(-1, 1)
        detector: Any = TabularDrift(x_ref, categories_per_feature={0: None} if categorical
                                     else None)
        verdicts.append(bool(detector.predict(x)["data"]["is_drift"]))
    return verdicts


if __name__ == "__main__":
    sys.exit(main(_flags, {
        "method": "Alibi Detect TabularDrift (defaults)",
        "versions": {name: importlib.metadata.version(name)
                     for name in ("alibi-detect", "numpy", "scipy")},
        "python": sys.version.split()[0],
    }))
