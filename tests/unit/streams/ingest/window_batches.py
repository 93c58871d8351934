"""Small prediction batches and an empty window state, for the window tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from detectors import ProfileOptions
from streams.ingest.windows import ModelWindows, WindowRules

OPTIONS = ProfileOptions()


@dataclass
class Batch:
    event_times: NDArray[np.float64]
    row_keys: NDArray[np.uint64]
    columns: dict[str, NDArray[Any]] = field(default_factory=dict)
    missing: dict[str, NDArray[np.bool_]] = field(default_factory=dict)


def make_batch(times: list[float] | NDArray[np.float64], first_key: int, seed: int,
               shift: float = 0.0) -> Batch:
    rng = np.random.default_rng(seed)
    n = len(times)
    x = rng.normal(shift, 1.0, n)
    c = rng.choice(["a", "b", "c"], n).astype(object)
    return Batch(np.asarray(times, dtype=np.float64),
                 np.arange(first_key, first_key + n, dtype=np.uint64),
                 {"x": x, "c": c, "score": rng.random(n)},
                 {"x": np.zeros(n, bool), "c": np.zeros(n, bool), "score": np.zeros(n, bool)})


def state(rules: WindowRules | None = None) -> ModelWindows:
    return ModelWindows("fraud", "1", rules or WindowRules(size=60, grace=10), OPTIONS)
