"""The default concept-drift detector of the service, on River's synthetic streams.

The performance state (``ModelPerformance`` with ``PerformanceSettings()``, outcomes in
event-time order) must detect an abrupt concept change within 1.2 times the delay of
River's own ``ADWIN()`` with its defaults fed the same 0/1 errors row by row, and must
not fire on 200,000 rows without a change. ``bench/concept.py`` measures the same over
20 seeds and other settings (bench/README.md, "Concept drift").
"""

from __future__ import annotations

from itertools import islice
from typing import Any

import numpy as np
from river import drift
from river.datasets import synth

from streams.config.performance import PerformanceSettings
from streams.labels.join import Outcome
from streams.labels.performance import ModelPerformance

PRE, POST = 4000, 3000
SEA_SEEDS = tuple(range(1, 13))
AGRAWAL_SEEDS = (1, 2, 3)
NULL = 200_000


def sea_rows(seed: int, before: int, after: int) -> tuple[list[int], list[int]]:
    """Labels of SEA 0 -> 3 and the predictions of the variant-0 rule (x1 + x2 > 8)."""
    rows = list(islice(synth.SEA(variant=0, noise=0.05, seed=seed), before))
    rows += list(islice(synth.SEA(variant=3, noise=0.05, seed=seed + 1000), after))
    return [int(y) for _, y in rows], [int(x[0] + x[1] > 8) for x, _ in rows]


def agrawal_rows(seed: int) -> tuple[list[int], list[int]]:
    """Labels of Agrawal function 0 -> 2 and the predictions of function 0's rule."""
    rows = list(islice(synth.Agrawal(0, seed=seed, perturbation=0.05), PRE))
    rows += list(islice(synth.Agrawal(2, seed=seed + 1000, perturbation=0.05), POST))
    return [int(y) for _, y in rows], [int(x["age"] < 40 or x["age"] >= 60) for x, _ in rows]


def service(labels: list[int], predictions: list[int]) -> list[int]:
    """The detections of the performance state with its default settings."""
    model = ModelPerformance("m", "1", PerformanceSettings(detector_delay=0.0), 1e9, 1e12)
    outcomes = [Outcome("m", "1", f"p{i:07d}", float(i), float(i) + 1.0, p, None, y, 1.0)
                for i, (y, p) in enumerate(zip(labels, predictions, strict=True))]
    for start in range(0, len(outcomes), 5000):
        model.update(outcomes[start:start + 5000])
    return [d.position for d in model.detections]


def river_adwin(labels: list[int], predictions: list[int]) -> list[int]:
    """River's ADWIN with its defaults on the 0/1 errors, row by row."""
    detector: Any = drift.ADWIN()  # type: ignore[no-untyped-call]
    found: list[int] = []
    for position, (y, p) in enumerate(zip(labels, predictions, strict=True)):
        detector.update(float(y != p))
        if detector.drift_detected:
            found.append(position)
    return found


def first_delay(found: list[int]) -> int:
    after = [p - PRE for p in found if p >= PRE]
    assert after, "no detection after the change"
    assert not [p for p in found if p < PRE], f"detections before the change: {found}"
    return after[0]


def test_default_detects_sea_and_agrawal_changes_within_1_2_times_river_adwin() -> None:
    cases = ((lambda s: sea_rows(s, PRE, POST), SEA_SEEDS), (agrawal_rows, AGRAWAL_SEEDS))
    for make, seeds in cases:
        ours, river = [], []
        for seed in seeds:
            labels, predictions = make(seed)
            ours.append(first_delay(service(labels, predictions)))
            river.append(first_delay(river_adwin(labels, predictions)))
        ratio = (np.median(ours) + 1) / (np.median(river) + 1)
        assert ratio <= 1.2, (ours, river)


def test_default_has_no_detection_on_200k_rows_without_change() -> None:
    labels, predictions = sea_rows(11, NULL, 0)
    assert service(labels, predictions) == []
    # Errors at a constant 25%: River's defaults (delta 0.002, clock 32) fire once here.
    errors = (np.random.default_rng(10).random(NULL) < 0.25).astype(int).tolist()
    labels, predictions = [1] * NULL, [1 - e for e in errors]
    assert river_adwin(labels, predictions) == [127007]
    assert service(labels, predictions) == []
