"""The scenarios of the power benchmark and their seeded data (numpy only).

Every side of ``bench/power.py`` imports this module, driftline in the project's
venv and each peer in its own venv, and draws the same trials from the same
seeds: trial ``t`` of a scenario at a (reference, window) size is drawn from
``SeedSequence([scenario index, reference rows, window rows, t])``, the
reference first, then the window. Each side returns a checksum of the first
trial of every cell, which ``power.py`` compares with its own, so a numpy whose
streams differ is caught instead of silently benchmarking other data.

Numeric features are float64 arrays; categorical ones are int64 codes 0..4
(``category_labels`` turns them into the strings the libraries are given).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray

Kind = Literal["numeric", "categorical"]
Expect = Literal["null", "flag", "calm"]
Draw = Callable[[np.random.Generator, int], NDArray[np.generic]]

CATEGORY_SHARES = (0.4, 0.2, 0.2, 0.1, 0.1)


def moved_shares(shares: tuple[float, ...], index: int, to: float) -> tuple[float, ...]:
    """``shares`` with category ``index`` set to ``to``, the others scaled proportionally."""
    rest = (1.0 - to) / (1.0 - shares[index])
    return tuple(to if i == index else s * rest for i, s in enumerate(shares))


def _normal(mean: float = 0.0, sd: float = 1.0) -> Draw:
    return lambda rng, n: rng.normal(mean, sd, n)


def _lognormal(rng: np.random.Generator, n: int) -> NDArray[np.generic]:
    return rng.lognormal(0.0, 1.0, n)


def _student_t3(rng: np.random.Generator, n: int) -> NDArray[np.generic]:
    return rng.standard_t(3, n)


def _poisson3(rng: np.random.Generator, n: int) -> NDArray[np.generic]:
    return rng.poisson(3.0, n).astype(np.float64)


def _exponential(scale: float) -> Draw:
    return lambda rng, n: rng.exponential(scale, n)


def _categories(shares: tuple[float, ...]) -> Draw:
    probabilities = np.asarray(shares, dtype=np.float64)
    return lambda rng, n: rng.choice(len(shares), size=n, p=probabilities).astype(np.int64)


@dataclass(frozen=True)
class Scenario:
    """One feature: the reference's distribution and the window's."""

    name: str
    expect: Expect
    kind: Kind
    reference: Draw
    window: Draw
    description: str


SCENARIOS: tuple[Scenario, ...] = (
    Scenario("normal", "null", "numeric", _normal(), _normal(), "N(0,1), no change"),
    Scenario("lognormal", "null", "numeric", _lognormal, _lognormal,
             "lognormal(0,1) (skewed), no change"),
    Scenario("student_t3", "null", "numeric", _student_t3, _student_t3,
             "Student t, 3 df (heavy tails), no change"),
    Scenario("poisson3", "null", "numeric", _poisson3, _poisson3,
             "Poisson(3) (discrete), no change"),
    Scenario("categorical", "null", "categorical", _categories(CATEGORY_SHARES),
             _categories(CATEGORY_SHARES), "5 values (0.4, 0.2, 0.2, 0.1, 0.1), no change"),
    Scenario("mean+0.2sd", "flag", "numeric", _normal(), _normal(mean=0.2),
             "N(0,1) -> N(0.2,1)"),
    Scenario("sd*1.25", "flag", "numeric", _normal(), _normal(sd=1.25), "N(0,1) -> N(0,1.25)"),
    Scenario("exp_scale*1.25", "flag", "numeric", _exponential(1.0), _exponential(1.25),
             "exponential scale 1 -> 1.25"),
    Scenario("share+10pt", "flag", "categorical", _categories(CATEGORY_SHARES),
             _categories(moved_shares(CATEGORY_SHARES, 1, 0.3)),
             "one share 0.2 -> 0.3, the others scaled"),
    Scenario("mean+0.05sd", "calm", "numeric", _normal(), _normal(mean=0.05),
             "N(0,1) -> N(0.05,1)"),
    Scenario("sd*1.05", "calm", "numeric", _normal(), _normal(sd=1.05), "N(0,1) -> N(0,1.05)"),
    Scenario("share+2pt", "calm", "categorical", _categories(CATEGORY_SHARES),
             _categories(moved_shares(CATEGORY_SHARES, 1, 0.22)),
             "one share 0.2 -> 0.22, the others scaled"),
)
BY_NAME = {s.name: s for s in SCENARIOS}


def category_labels(codes: NDArray[np.generic]) -> NDArray[np.object_]:
    """Codes 0..4 as the strings ``"c0"``..``"c4"`` (an object array)."""
    labels = np.array([f"c{i}" for i in range(len(CATEGORY_SHARES))], dtype=object)
    return labels[np.asarray(codes, dtype=np.int64)]


def draw(
    scenario: str, reference_rows: int, window_rows: int, trial: int
) -> tuple[NDArray[np.generic], NDArray[np.generic]]:
    """The reference and the window of one trial (module docstring)."""
    index = next(i for i, s in enumerate(SCENARIOS) if s.name == scenario)
    spec = SCENARIOS[index]
    rng = np.random.default_rng(np.random.SeedSequence([index, reference_rows, window_rows, trial]))
    return spec.reference(rng, reference_rows), spec.window(rng, window_rows)


def checksum(reference: NDArray[np.generic], window: NDArray[np.generic]) -> float:
    """A number that differs when the drawn data differ (compared across venvs)."""
    ref = np.asarray(reference, dtype=np.float64)
    cur = np.asarray(window, dtype=np.float64)
    weights = np.arange(1, 65, dtype=np.float64)
    return float(ref[:64] @ weights[: min(64, ref.size)] + cur[:64] @ weights[: min(64, cur.size)]
                 + ref.sum() + cur.sum())
