"""Reference profiles: what "normal" looks like, frozen so every window is compared alike.

A numeric feature keeps quantile bin edges of the reference (``bins`` bins, the
first and last open-ended), the reference's counts in those bins, a bounded
sorted sample for KS and Wasserstein, and its moments. A categorical feature
keeps its top-K categories with counts, an "other" bucket for the rest, and the
names of further known categories so that a window can tell a rare category from
an unseen one.

Bins are right-closed: bin ``i`` holds ``edges[i-1] < x <= edges[i]``; bin 0 is
``(-inf, edges[0]]`` and the last bin is ``(edges[-1], +inf)``. Edges are the
reference quantiles at ``1/bins, ..., (bins-1)/bins``, taken as observed values
(``numpy.quantile(..., method="inverted_cdf")``), with repeats and the maximum
removed. Every reference bin therefore holds at least one reference value, and a
feature with a heavy atom gets fewer bins rather than empty ones. A constant
reference ``c`` gets the bins "below c", "c" and "above c", so that any change
of the value shows in PSI.

Above ``sample_cap`` finite values, the reference sample is every
``n/sample_cap``-th order statistic (deterministic), so its empirical CDF is
within ``1/sample_cap`` of the reference's everywhere.

>>> import numpy as np
>>> ref = NumericReference.build("amount", np.arange(1.0, 101.0), bins=4)
>>> ref.edges
(25.0, 50.0, 75.0)
>>> ref.counts
(25, 25, 25, 25)
>>> ref.to_dict()["kind"]
'numeric'
"""

from __future__ import annotations

import base64
import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from detectors._checks import check_choice, check_int

SCHEMA_VERSION = 1
DEFAULT_BINS = 10
DEFAULT_SAMPLE_CAP = 100_000
DEFAULT_TOP_K = 50
DEFAULT_MAX_KNOWN = 5_000

Role = Literal["feature", "prediction", "target"]
ROLES: tuple[Role, ...] = ("feature", "prediction", "target")


def _encode_floats(values: NDArray[np.float64]) -> str:
    return base64.b64encode(values.astype("<f8").tobytes()).decode("ascii")


def _decode_floats(text: str) -> NDArray[np.float64]:
    return np.frombuffer(base64.b64decode(text), dtype="<f8").astype(np.float64)


def split_numeric(
    x: NDArray[np.float64], missing: NDArray[np.bool_] | None = None
) -> tuple[NDArray[np.bool_], int, int, int]:
    """Return (mask of usable values, n_missing, n_nan, n_inf) for a float column.

    ``missing`` marks null or absent values, which count as missing whatever
    they hold; a NaN or an infinity that is not marked missing counts as NaN or
    Inf. Only finite, present values are used by the statistics.
    """
    finite = np.isfinite(x)
    if missing is None:
        n_bad = x.size - int(np.count_nonzero(finite))
        n_nan = int(np.count_nonzero(np.isnan(x))) if n_bad else 0
        return finite, 0, n_nan, n_bad - n_nan
    present = ~np.asarray(missing, dtype=bool)
    usable = present & finite
    n_missing = x.size - int(np.count_nonzero(present))
    n_nan = int(np.count_nonzero(present & np.isnan(x)))
    n_inf = x.size - n_missing - n_nan - int(np.count_nonzero(usable))
    return usable, n_missing, n_nan, n_inf


def assign_bins(edges: NDArray[np.float64], x: NDArray[np.float64]) -> NDArray[np.intp]:
    """Bin index of each value for right-closed bins with open-ended extremes."""
    return np.searchsorted(edges, x, side="left")


COMPARED_EDGES = 32
"""Up to this many edges, ``bin_counts`` compares the values with each edge."""


def bin_counts(edges: NDArray[np.float64], x: NDArray[np.float64]) -> NDArray[np.int64]:
    """``bincount(assign_bins(edges, x), minlength=edges.size + 1)``, the values in each bin.

    With few edges, counting the values at or below each edge (one vectorised
    comparison an edge) is faster than a binary search a value (measured:
    bench/README.md, "Figures behind decisions in the code");
    NaN is above every edge either way, so it lands in the last bin as there.
    """
    if edges.size > COMPARED_EDGES:
        return np.bincount(assign_bins(edges, x), minlength=edges.size + 1).astype(np.int64)
    at_or_below = [np.count_nonzero(x <= edge) for edge in edges.tolist()]
    return _between(np.array(at_or_below, dtype=np.int64), x.size)


def _mean_std(ordered: NDArray[np.float64]) -> tuple[float, float]:
    """Mean and standard deviation of sorted, finite values. Near the float limit (about
    1e154 and beyond) numpy's sums overflow to inf; then they are taken of the values
    scaled down by the largest magnitude, and scaled back (both fit in a float)."""
    with np.errstate(over="ignore", invalid="ignore"):
        mean, std = float(ordered.mean()), float(ordered.std())
    if math.isfinite(mean) and math.isfinite(std):
        return mean, std
    scale = max(-float(ordered[0]), float(ordered[-1]))
    scaled = ordered / scale
    return float(scaled.mean()) * scale, float(scaled.std()) * scale


def sorted_quantiles(ordered: NDArray[np.float64], levels: NDArray[np.float64]
                     ) -> NDArray[np.float64]:
    """``numpy.quantile(ordered, levels, method="inverted_cdf")`` of sorted, NaN-free values.

    The same order statistics, picked by index (numpy's index arithmetic) instead of
    partitioning a copy of the values.
    """
    virtual = ordered.size * levels - 1
    below = np.floor(virtual)
    index = np.where(virtual - below == 0, below, below + 1).astype(np.intp)
    index[index < 0] = 0
    return ordered[index]


def sorted_bin_counts(edges: NDArray[np.float64], ordered: NDArray[np.float64]
                      ) -> NDArray[np.intp]:
    """``bincount(assign_bins(edges, ordered), minlength=edges.size + 1)`` of sorted values.

    A bin ends where the values above its right-closed edge begin, so the counts
    are the differences of the edges' places in the values.
    """
    return _between(np.searchsorted(ordered, edges, side="right"), ordered.size)


def _between(at_or_below: NDArray[np.signedinteger[Any]], size: int
             ) -> NDArray[np.signedinteger[Any]]:
    """The values in each bin, from how many of ``size`` values lie at or below each edge."""
    ends = np.empty(at_or_below.size + 2, dtype=at_or_below.dtype)
    ends[0], ends[1:-1], ends[-1] = 0, at_or_below, size
    return np.diff(ends)


def _spread_sample(sorted_x: NDArray[np.float64], cap: int) -> NDArray[np.float64]:
    if sorted_x.size <= cap:
        return sorted_x
    picks = ((np.arange(cap) + 0.5) * (sorted_x.size / cap)).astype(np.intp)
    return sorted_x[picks]


@dataclass(frozen=True)
class NumericReference:
    """Reference profile of one numeric column (see the module docstring)."""

    name: str
    edges: tuple[float, ...]
    counts: tuple[int, ...]
    n: int
    n_missing: int
    n_nan: int
    n_inf: int
    mean: float | None
    std: float | None
    min: float | None
    max: float | None
    sample: NDArray[np.float64] = field(repr=False, compare=False)
    role: Role = "feature"
    kind: Literal["numeric"] = "numeric"

    @classmethod
    def build(
        cls,
        name: str,
        values: NDArray[Any],
        missing: NDArray[np.bool_] | None = None,
        *,
        bins: int = DEFAULT_BINS,
        sample_cap: int = DEFAULT_SAMPLE_CAP,
        role: Role = "feature",
    ) -> NumericReference:
        check_int("bins", bins, low=2, high=1000)
        check_int("sample_cap", sample_cap, low=10)
        check_choice("role", role, ROLES)
        x = np.asarray(values, dtype=np.float64)
        usable, n_missing, n_nan, n_inf = split_numeric(x, missing)
        ordered = np.sort(x[usable])
        if ordered.size:
            levels = np.arange(1, bins) / bins
            edges = np.unique(sorted_quantiles(ordered, levels))
            edges = edges[edges < ordered[-1]]
            if edges.size == 0:  # constant: bins below, at and above the value
                edges = np.array([np.nextafter(ordered[0], -np.inf), ordered[0]])
            counts = sorted_bin_counts(edges, ordered)
            stats: tuple[float | None, ...] = (*_mean_std(ordered), float(ordered[0]))
            top: float | None = float(ordered[-1])
        else:
            edges = np.empty(0)
            counts = np.zeros(1, dtype=np.int64)
            stats, top = (None, None, None), None
        return cls(
            name=name,
            edges=tuple(float(e) for e in edges),
            counts=tuple(int(c) for c in counts),
            n=int(ordered.size),
            n_missing=n_missing,
            n_nan=n_nan,
            n_inf=n_inf,
            mean=stats[0],
            std=stats[1],
            min=stats[2],
            max=top,
            sample=_spread_sample(ordered, sample_cap),
            role=role,
        )

    @property
    def edges_array(self) -> NDArray[np.float64]:
        return np.asarray(self.edges, dtype=np.float64)

    @property
    def missing_rate(self) -> float | None:
        total = self.n + self.n_missing + self.n_nan + self.n_inf
        return self.n_missing / total if total else None

    def to_dict(self) -> dict[str, Any]:
        data = {k: getattr(self, k) for k in _NUMERIC_SCALARS}
        data.update(edges=list(self.edges), counts=list(self.counts))
        data["sample"] = _encode_floats(self.sample)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> NumericReference:
        scalars = {k: data[k] for k in _NUMERIC_SCALARS if k != "kind"}
        return cls(
            edges=tuple(float(e) for e in data["edges"]),
            counts=tuple(int(c) for c in data["counts"]),
            sample=_decode_floats(data["sample"]),
            **scalars,
        )


_NUMERIC_SCALARS = (
    "name", "kind", "role", "n", "n_missing", "n_nan", "n_inf", "mean", "std", "min", "max"
)


@dataclass(frozen=True)
class CategoricalReference:
    """Reference profile of one categorical column (see the module docstring).

    ``categories`` and ``counts`` are the top-K categories, most frequent first
    (ties by name); ``other_count`` counts the reference rows in every other
    category, and ``known_other`` names up to ``max_known`` of those.
    """

    name: str
    categories: tuple[str, ...]
    counts: tuple[int, ...]
    other_count: int
    known_other: frozenset[str]
    n: int
    n_missing: int
    role: Role = "feature"
    kind: Literal["categorical"] = "categorical"

    @classmethod
    def build(
        cls,
        name: str,
        values: NDArray[Any],
        missing: NDArray[np.bool_] | None = None,
        *,
        top_k: int = DEFAULT_TOP_K,
        max_known: int = DEFAULT_MAX_KNOWN,
        role: Role = "feature",
    ) -> CategoricalReference:
        check_int("top_k", top_k, low=1)
        check_int("max_known", max_known, low=0)
        check_choice("role", role, ROLES)
        counts, n_missing = count_categories(values, missing)
        order = sorted(counts, key=lambda k: (-counts[k], k))
        top, rest = order[:top_k], order[top_k:]
        return cls(
            name=name,
            categories=tuple(top),
            counts=tuple(counts[k] for k in top),
            other_count=sum(counts[k] for k in rest),
            known_other=frozenset(rest[:max_known]),
            n=sum(counts.values()),
            n_missing=n_missing,
            role=role,
        )

    @property
    def missing_rate(self) -> float | None:
        total = self.n + self.n_missing
        return self.n_missing / total if total else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "role": self.role,
            "categories": list(self.categories),
            "counts": list(self.counts),
            "other_count": self.other_count,
            "known_other": sorted(self.known_other),
            "n": self.n,
            "n_missing": self.n_missing,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CategoricalReference:
        return cls(
            name=str(data["name"]),
            categories=tuple(str(c) for c in data["categories"]),
            counts=tuple(int(c) for c in data["counts"]),
            other_count=int(data["other_count"]),
            known_other=frozenset(str(c) for c in data["known_other"]),
            n=int(data["n"]),
            n_missing=int(data["n_missing"]),
            role=data["role"],
        )


def count_categories(
    values: NDArray[Any], missing: NDArray[np.bool_] | None = None
) -> tuple[dict[str, int], int]:
    """Count the present values by their text, and the number missing (None or masked).

    Counting with a hash map over the Python objects is faster than sorting
    fixed-width strings with ``numpy.unique`` (measured: bench/README.md, "Figures
    behind decisions in the code").
    """
    items = np.asarray(values, dtype=object)
    if missing is not None and bool(np.any(missing)):
        absent = np.asarray(missing, dtype=bool)
        n_masked = int(absent.sum())
        items = items[~absent]
    else:
        n_masked = 0
    raw = Counter(items.tolist())
    n_missing = n_masked + raw.pop(None, 0)
    counts: dict[str, int] = {}
    for key, count in raw.items():
        name = key if isinstance(key, str) else str(key)
        counts[name] = counts.get(name, 0) + count
    return counts, n_missing


ColumnReference = NumericReference | CategoricalReference


@dataclass(frozen=True)
class ReferenceProfile:
    """The reference of a whole model: one profile per column, in column order."""

    columns: tuple[ColumnReference, ...]
    n_rows: int
    schema_version: int = SCHEMA_VERSION

    def __post_init__(self) -> None:
        names = [c.name for c in self.columns]
        if len(set(names)) != len(names):
            raise ValueError(f"columns must have unique names, got {names!r}")

    def __getitem__(self, name: str) -> ColumnReference:
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(name)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe, versioned form (floats of the KS sample are base64 little-endian)."""
        return {
            "schema_version": self.schema_version,
            "n_rows": self.n_rows,
            "columns": [c.to_dict() for c in self.columns],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ReferenceProfile:
        version = data.get("schema_version")
        if version != SCHEMA_VERSION:
            raise ValueError(
                f"reference schema_version must be {SCHEMA_VERSION}, got {version!r}"
            )
        columns: list[ColumnReference] = []
        for item in data["columns"]:
            kind = check_choice("kind", item.get("kind"), ("numeric", "categorical"))
            parse = NumericReference if kind == "numeric" else CategoricalReference
            columns.append(parse.from_dict(item))
        return cls(columns=tuple(columns), n_rows=int(data["n_rows"]))
