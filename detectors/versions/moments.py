"""Sufficient statistics of one side's per-row values: count, mean and M2, mergeable.

``Moments`` holds ``n``, the mean and ``m2`` (the sum of squared deviations from
the mean) of a stream of per-row values: correctness 0/1, an absolute error, a
log loss, or in shadow mode the per-request difference of two losses. That is
all the comparison of two versions needs (means and variances), in O(1) memory,
whatever the number of rows.

Decided here:

- Mean and M2 rather than raw sums and sums of squares: the same information,
  but ``sum_sq - sum**2 / n`` loses every digit when the values are large and
  their spread small (absolute errors around 1e6 varying by 1); Chan et al.'s
  pairwise update keeps them. Counts of 0/1 values are exact either way.
- ``merge`` returns a new object (shards of one window merge before a look);
  it equals, to float rounding, the moments of both inputs' values together.
- ``to_dict``/``from_dict`` give a JSON-safe checkpoint; a bad one raises
  ValueError naming the key.
- ``variance`` is the sample variance (``m2 / (n - 1)``), None below 2 rows.

>>> import numpy as np
>>> m = Moments.of(np.array([1.0, 0.0, 1.0, 1.0]))
>>> m
Moments(n=4, mean=0.75, m2=0.75)
>>> m.variance
0.25
>>> Moments.of_counts(successes=3, n=4) == m
True
>>> m.merge(Moments.of(np.array([0.0, 0.0]))).mean
0.5
>>> Moments.from_dict(m.to_dict()) == m
True
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Self

import numpy as np
from numpy.typing import ArrayLike

from detectors._checks import check_checkpoint

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class Moments:
    """Count, mean and sum of squared deviations of a stream of finite values."""

    n: int = 0
    mean: float = 0.0
    m2: float = 0.0

    def __post_init__(self) -> None:
        if isinstance(self.n, bool) or not isinstance(self.n, int) or self.n < 0:
            raise ValueError(f"n must be an integer >= 0, got {self.n!r}")
        for name in ("mean", "m2"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"{name} must be a finite number, got {value!r}")
            if not math.isfinite(value):
                raise ValueError(f"{name} must be a finite number, got {value!r}")
        if self.m2 < 0:
            raise ValueError(f"m2 must be >= 0, got {self.m2!r}")
        if self.n == 0 and (self.mean != 0 or self.m2 != 0):
            raise ValueError(f"empty moments must have mean 0 and m2 0, got {self!r}")

    @classmethod
    def of(cls, values: ArrayLike) -> Self:
        """The moments of a one-dimensional array of finite numbers."""
        array = np.asarray(values)
        if array.ndim != 1:
            raise ValueError(f"values must be one-dimensional, got shape {array.shape}")
        if array.dtype.kind not in "biuf":
            raise ValueError(f"values must be numeric or boolean, got dtype {array.dtype}")
        data = array.astype(np.float64)
        if len(data) == 0:
            return cls()
        with np.errstate(over="ignore", invalid="ignore"):
            bad = ~np.isfinite(data)
            if bad.any():
                index = int(np.argmax(bad))
                raise ValueError(f"values must be finite, got {data[index].item()!r} "
                                 f"at index {index}")
            mean = float(data.mean())
            m2 = float(np.square(data - mean).sum())
        if not (math.isfinite(mean) and math.isfinite(m2)):
            raise ValueError("values must stay within float64 range when squared and summed")
        return cls(len(data), mean, m2)

    @classmethod
    def of_counts(cls, successes: int, n: int) -> Self:
        """The moments of ``successes`` ones and ``n - successes`` zeros."""
        for name, value in (("successes", successes), ("n", n)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be an integer >= 0, got {value!r}")
        if successes > n:
            raise ValueError(f"successes must be <= n ({n}), got {successes}")
        if n == 0:
            return cls()
        return cls(n, successes / n, successes * (n - successes) / n)

    @property
    def variance(self) -> float | None:
        """Sample variance ``m2 / (n - 1)``; None below 2 values."""
        return None if self.n < 2 else self.m2 / (self.n - 1)

    def merge(self, other: Moments) -> Moments:
        """Chan et al.'s pairwise combination: the moments of both streams together."""
        if other.n == 0:
            return self
        if self.n == 0:
            return other
        n = self.n + other.n
        delta = other.mean - self.mean
        return Moments(n, self.mean + delta * (other.n / n),
                       self.m2 + other.m2 + delta * delta * (self.n * other.n / n))

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe checkpoint; ``from_dict(to_dict())`` restores the exact value."""
        return {"schema_version": SCHEMA_VERSION, "n": self.n, "mean": self.mean,
                "m2": self.m2}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """Rebuild from ``to_dict`` output; raise ValueError on a bad checkpoint."""
        check_checkpoint(data, SCHEMA_VERSION, ("n", "mean", "m2"), what="moments checkpoint")
        return cls(data["n"], data["mean"], data["m2"])
