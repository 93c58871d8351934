"""Label latency: a mergeable, constant-memory sketch of seconds with relative-error quantiles.

A label's latency is its event time minus its prediction's, in seconds. The
sketch counts latencies in ``n_bins`` log-spaced bins between ``low`` and
``high`` (default 2,000 bins from 1 ms to one year of 365.25 days), bin ``i``
holding ``[low * g**i, low * g**(i + 1))`` with ``g = (high / low) ** (1 / n_bins)``,
plus one edge bin below ``low`` (including 0) and one at or above ``high``. It
also keeps the exact minimum and maximum. Negative latencies (a label stamped
before its prediction: clock skew) are counted in ``n_negative`` and left out of
the quantiles; NaN and infinities are rejected.

``quantile(q)`` follows ``numpy.quantile``'s default (linear) definition: it
interpolates between the order statistics of ranks ``floor(q (n - 1))`` and the
next, each represented by its bin's geometric midpoint clipped to [min, max].
Within the range, every order statistic is then known to a relative error of
at most ``relative_error = sqrt(g) - 1`` (0.606% by default: g = 1.01216), and so
is the interpolated value, a mix of two with non-negative weights. In the edge
bins: below ``low`` the estimate is the minimum seen (absolute error under
``low``); at or above ``high`` it is the maximum seen (an upper bound).

Memory is ``n_bins + 2`` counters whatever the number of rows; ``merge`` adds
counts (exactly, as one pass would), ``to_dict``/``from_dict`` checkpoint it.

>>> sketch = LatencySketch().update(np.array([1.0, 2.0, 3.0, 4.0, 100.0, -0.5]))
>>> sketch.n, sketch.n_negative, round(sketch.relative_error, 5)
(5, 1, 0.00606)
>>> float(np.quantile([1.0, 2.0, 3.0, 4.0, 100.0], 0.5)), round(sketch.quantile(0.5), 3)
(3.0, 3.005)
>>> sketch.summary().p95 == sketch.quantile(0.95), sketch.quantile(1.0)
(True, 100.0)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Self

import numpy as np
from numpy.typing import ArrayLike, NDArray

from detectors._checks import check_float, check_int
from detectors.performance import _array, _count, _field, _histogram, _reject

SCHEMA_VERSION = 1
DEFAULT_LOW = 1e-3  # seconds
DEFAULT_HIGH = 365.25 * 86_400.0  # one year, seconds
DEFAULT_N_BINS = 2_000
MAX_N_BINS = 1_000_000


@dataclass(frozen=True)
class LatencySummary:
    """Label latency of a window in seconds; quantiles None without a non-negative latency."""

    n: int
    n_negative: int
    p50: float | None
    p95: float | None
    min: float | None
    max: float | None
    relative_error: float


class LatencySketch:
    """Counts of latencies in log-spaced bins, with exact min, max and a negative count."""

    def __init__(self, n_bins: int = DEFAULT_N_BINS, low: float = DEFAULT_LOW,
                 high: float = DEFAULT_HIGH) -> None:
        self.n_bins = check_int("n_bins", n_bins, low=1, high=MAX_N_BINS)
        self.low = check_float("low", low, low=0.0, low_open=True, high_open=True)
        self.high = check_float("high", high, low=self.low, low_open=True, high_open=True)
        self._log_low = math.log(self.low)
        self._log_step = (math.log(self.high) - self._log_low) / self.n_bins
        self._counts = np.zeros(self.n_bins + 2, dtype=np.int64)  # [below, bins..., above]
        self._n_negative = 0
        self._min = math.inf
        self._max = -math.inf

    @property
    def n(self) -> int:
        """Non-negative latencies counted."""
        return int(self._counts.sum())

    @property
    def n_negative(self) -> int:
        """Negative latencies, counted apart."""
        return self._n_negative

    @property
    def relative_error(self) -> float:
        """The bound on a quantile's relative error inside [low, high)."""
        return math.expm1(self._log_step / 2)

    def _config(self) -> tuple[int, float, float]:
        return self.n_bins, self.low, self.high

    def update(self, latencies: ArrayLike) -> Self:
        """Add a batch of latencies in seconds (finite; negative ones counted apart)."""
        values = _array("latencies", latencies).astype(np.float64)
        _reject("latencies", "finite seconds", values, ~np.isfinite(values))
        negative = values < 0
        self._n_negative += int(negative.sum())
        kept = values[~negative]
        if len(kept) == 0:
            return self
        with np.errstate(divide="ignore"):  # log(0) = -inf goes to the edge bin below
            position = (np.log(kept) - self._log_low) / self._log_step
        index = np.clip(np.floor(position), -1, self.n_bins).astype(np.int64) + 1
        index[kept >= self.high] = self.n_bins + 1  # rounding never moves these inside
        index[kept < self.low] = 0
        self._counts += np.bincount(index, minlength=self.n_bins + 2)
        self._min = min(self._min, float(kept.min()))
        self._max = max(self._max, float(kept.max()))
        return self

    def merge(self, other: LatencySketch) -> LatencySketch:
        """A new sketch equal to one fed both inputs' batches; inputs unchanged."""
        if other._config() != self._config():
            raise ValueError(f"other (n_bins, low, high) must equal {self._config()}, "
                             f"got {other._config()}")
        merged = LatencySketch(*self._config())
        merged._counts = self._counts + other._counts
        merged._n_negative = self._n_negative + other._n_negative
        merged._min, merged._max = min(self._min, other._min), max(self._max, other._max)
        return merged

    def _order_statistic(self, cumulative: NDArray[np.int64], rank: int) -> float:
        """The estimate of the 0-based ``rank``-th smallest latency."""
        index = int(np.searchsorted(cumulative, rank, side="right"))
        if index == 0:
            return self._min
        if index == self.n_bins + 1:
            return self._max
        middle = math.exp(self._log_low + (index - 0.5) * self._log_step)
        return min(max(middle, self._min), self._max)

    def quantile(self, q: float) -> float | None:
        """The ``q`` quantile (numpy's linear definition), or None without latencies."""
        q = check_float("q", q, low=0.0, high=1.0)
        n = self.n
        if n == 0:
            return None
        cumulative = np.cumsum(self._counts)
        h = q * (n - 1)
        below = math.floor(h)
        low_value = self._order_statistic(cumulative, below)
        if below == n - 1:
            return low_value
        fraction = h - below
        return low_value + fraction * (self._order_statistic(cumulative, below + 1) - low_value)

    def summary(self) -> LatencySummary:
        """n, negatives, p50, p95, min and max, for storage and export."""
        empty = self.n == 0
        return LatencySummary(n=self.n, n_negative=self._n_negative, p50=self.quantile(0.5),
                              p95=self.quantile(0.95), min=None if empty else self._min,
                              max=None if empty else self._max,
                              relative_error=self.relative_error)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe checkpoint; ``from_dict(to_dict())`` restores the exact state."""
        empty = self.n == 0
        return {"schema_version": SCHEMA_VERSION, "kind": "label_latency",
                "n_bins": self.n_bins, "low": self.low, "high": self.high,
                "counts": self._counts.tolist(), "n_negative": self._n_negative,
                "min": None if empty else self._min, "max": None if empty else self._max}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """Rebuild from ``to_dict`` output; raise ValueError on a bad checkpoint."""
        if data.get("schema_version") != SCHEMA_VERSION:
            raise ValueError(f"schema_version must be {SCHEMA_VERSION}, "
                             f"got {data.get('schema_version')!r}")
        if data.get("kind") != "label_latency":
            raise ValueError(f"kind must be 'label_latency', got {data.get('kind')!r}")
        sketch = cls(_count(data, "n_bins"), _field(data, "low"), _field(data, "high"))
        counts = _field(data, "counts")
        if not isinstance(counts, list) or len(counts) != sketch.n_bins + 2:
            raise ValueError(f"checkpoint key 'counts' must be a list of n_bins + 2 = "
                             f"{sketch.n_bins + 2} counts (edge bins included), "
                             f"got {counts!r:.80}")
        sketch._counts = _histogram(data, "counts", sketch.n_bins + 2)
        sketch._n_negative = _count(data, "n_negative")
        low, high = _field(data, "min"), _field(data, "max")
        if sketch.n == 0:
            if (low, high) != (None, None):
                raise ValueError(f"min and max must be null without latencies, got {low!r}, "
                                 f"{high!r}")
            return sketch
        sketch._min = check_float("min", low, low=0.0)
        sketch._max = check_float("max", high, low=sketch._min)
        return sketch
