"""Seeded data for the multivariate drift statistic, shared by its tests and its bench
(``bench/multivariate.py``): NannyML's butterfly and a mix of column types.

- ``butterfly``: NannyML's documented recipe, ``s ~ N(0, 1)``, ``x1 = s + e1/8``,
  ``x2 = s + e2/8``, ``x3 = e3/8``; rotated, ``(x1, x2)`` becomes ``(-x2, x1)`` (90
  degrees around the z axis), which keeps every marginal. ``noise`` adds that many
  irrelevant features, ``N(5, 2)``.
- ``mixed``: correlated and skewed numbers (10 % missing in one), a count, a category
  that depends on the numbers (5 % missing) and an 80-category long-tailed one.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

Columns = dict[str, NDArray[Any]]
WEEK = 7 * 24 * 12  # rows a week at one row every 5 minutes (NannyML's DPP)
ROTATED = ("feature1", "feature2", "feature3")  # the butterfly; the noise features are not
COLOURS = np.array(["red", "green", "blue", "grey"], dtype=object)
CITIES = np.array([f"city{i}" for i in range(80)], dtype=object)
CITY_P = 1.0 / np.arange(1, 81) ** 1.1 / np.sum(1.0 / np.arange(1, 81) ** 1.1)


def butterfly(rng: np.random.Generator, n: int, rotated: bool, noise: int = 0) -> Columns:
    """``n`` rows of the butterfly, rotated or not, with ``noise`` irrelevant features."""
    s = rng.standard_normal(n)
    x1 = s + rng.standard_normal(n) / 8
    x2 = s + rng.standard_normal(n) / 8
    if rotated:
        x1, x2 = -x2, x1
    columns = {"feature1": x1, "feature2": x2, "feature3": rng.standard_normal(n) / 8}
    for i in range(noise):
        columns[f"noise{i}"] = rng.normal(5.0, 2.0, n)
    return columns


def mixed(rng: np.random.Generator, n: int) -> Columns:
    """``n`` rows of the mixed columns (module docstring)."""
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
