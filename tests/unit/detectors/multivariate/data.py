"""Seeded data for the multivariate tests: mixed columns, and NannyML's butterfly."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

WEEK = 7 * 24 * 12  # rows a week at one row every 5 minutes (NannyML's DPP)
COLOURS = np.array(["red", "green", "blue", "grey"], dtype=object)
CITIES = np.array([f"city{i}" for i in range(80)], dtype=object)
CITY_P = 1.0 / np.arange(1, 81) ** 1.1 / np.sum(1.0 / np.arange(1, 81) ** 1.1)


def mixed(rng: np.random.Generator, n: int) -> dict[str, NDArray[Any]]:
    """Correlated and skewed numbers, missing values, a dependent and a long-tailed category."""
    s = rng.standard_normal(n)
    skewed = np.exp(rng.standard_normal(n))
    skewed[rng.random(n) < 0.1] = np.nan
    colour = COLOURS[np.minimum((s > 0).astype(int) + 2 * (rng.random(n) < 0.3), 3)]
    colour[rng.random(n) < 0.05] = None
    return {
        "a": s + 0.5 * rng.standard_normal(n),
        "b": s + 0.5 * rng.standard_normal(n),
        "skewed": skewed,
        "count": rng.poisson(3.0, n).astype(np.float64),
        "colour": colour,
        "city": CITIES[rng.choice(CITIES.size, n, p=CITY_P)],
    }


ROTATED = ("feature1", "feature2", "feature3")  # the butterfly; the noise features are not


def butterfly(rng: np.random.Generator, n: int, rotated: bool) -> dict[str, NDArray[Any]]:
    """NannyML's recipe (x1, x2 = s + noise/8, x3 = noise/8), plus three irrelevant features."""
    s = rng.standard_normal(n)
    x1 = s + rng.standard_normal(n) / 8
    x2 = s + rng.standard_normal(n) / 8
    if rotated:  # 90 degrees around the z axis: (x1, x2) -> (-x2, x1)
        x1, x2 = -x2, x1
    columns = {"feature1": x1, "feature2": x2, "feature3": rng.standard_normal(n) / 8}
    for i in range(3):
        columns[f"noise{i}"] = rng.normal(5.0, 2.0, n)
    return columns
