"""Window sketches: constant-memory, mergeable summaries of one window per column.

A sketch is built against a reference profile and updated from numpy columns in
batches. It holds counts in the reference's bins (or categories), moments,
missing/NaN/Inf counts, unseen categories, and a bounded sample of current values
(see ``detectors._sampling``). Memory does not grow with the window: bins, a few
scalars and at most ``sample_cap`` values per numeric column, stored once for the
rows the columns' samples share (``detectors._shared_sample``: 8 bytes a value
and 8 a row, at most 16 a value; integers and short decimals 1 to 4 bytes a
value once the samples fill half their capacity), plus a buffer of at most
``sample_cap`` rows between compactions; at most ``max_unseen`` named unseen
categories per categorical column.

Merging the sketches of two halves equals the sketch of the whole: counts, bins,
samples and unseen names exactly, the moments to floating-point rounding. Row
keys decide which rows a full sample keeps; give each row a stable key (the
stream uses the event's partition and offset) so that halves built on different
workers still merge to the whole. Without keys, rows are numbered from the
sketch's own row count.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from detectors._checks import check_int
from detectors._sampling import row_priorities, text_priority
from detectors._shared_sample import ColumnSample, SharedSample
from detectors.reference import (
    CategoricalReference,
    NumericReference,
    ReferenceProfile,
    bin_counts,
    count_categories,
    split_numeric,
)

DEFAULT_MAX_UNSEEN = 100


@dataclass
class Moments:
    """Count, mean, sum of squared deviations, min and max (Chan et al. merge)."""

    n: int = 0
    mean: float = 0.0
    m2: float = 0.0
    min: float = math.inf
    max: float = -math.inf

    def add(self, x: NDArray[np.float64]) -> None:
        if x.size:
            mean = float(x.mean())
            self.merge(Moments(x.size, mean, float(np.square(x - mean).sum()), x.min(), x.max()))

    def merge(self, other: Moments) -> None:
        n = self.n + other.n
        if other.n == 0:
            return
        delta = other.mean - self.mean
        self.mean += delta * other.n / n
        self.m2 += other.m2 + delta * delta * self.n * other.n / n
        self.min, self.max = min(self.min, float(other.min)), max(self.max, float(other.max))
        self.n = n

    @property
    def std(self) -> float | None:
        return math.sqrt(self.m2 / self.n) if self.n else None


class NumericSketch:
    """Window summary of a numeric column against its reference bins.

    Its bounded sample lives in the window's ``SharedSample`` (the numeric
    columns of a window share the rows of their samples), fed by ``WindowSketch``.
    """

    def __init__(self, reference: NumericReference, sample: ColumnSample) -> None:
        self.edges = reference.edges_array
        self.counts = np.zeros(self.edges.size + 1, dtype=np.int64)
        self.moments = Moments()
        self.sample = sample
        self.n_missing = self.n_nan = self.n_inf = 0

    @property
    def n(self) -> int:
        return self.moments.n

    def update(self, x: NDArray[np.float64], missing: NDArray[np.bool_] | None
               ) -> NDArray[np.bool_] | None:
        """Count a batch (bins, moments, missing); the mask of usable values, None if all are."""
        usable, n_missing, n_nan, n_inf = split_numeric(x, missing)
        self.n_missing += n_missing
        self.n_nan += n_nan
        self.n_inf += n_inf
        if n_missing + n_nan + n_inf:
            x = x[usable]
        self.counts += bin_counts(self.edges, x)
        self.moments.add(x)
        return usable if n_missing + n_nan + n_inf else None

    def merge(self, other: NumericSketch) -> None:
        """Counts and moments; the samples are merged by their ``WindowSketch``."""
        self.counts += other.counts
        self.moments.merge(other.moments)
        self.n_missing += other.n_missing
        self.n_nan += other.n_nan
        self.n_inf += other.n_inf


class CategoricalSketch:
    """Window summary of a categorical column: reference buckets, "other", unseen.

    ``counts`` has one slot per reference category, then "other" (categories the
    reference knew but did not keep in its top-K), then "unseen". The unseen
    categories with the ``max_unseen`` smallest name hashes are kept with exact
    counts, so the kept names and their counts merge exactly too.
    """

    def __init__(self, reference: CategoricalReference, max_unseen: int) -> None:
        self.index = {name: i for i, name in enumerate(reference.categories)}
        self.known_other = reference.known_other
        self.counts = np.zeros(len(reference.categories) + 2, dtype=np.int64)
        self.unseen: dict[str, int] = {}
        self.max_unseen = max_unseen
        self.n_missing = 0

    @property
    def n(self) -> int:
        return int(self.counts.sum())

    @property
    def n_unseen(self) -> int:
        return int(self.counts[-1])

    def update(self, values: NDArray[Any], missing: NDArray[np.bool_] | None) -> None:
        counts, n_missing = count_categories(values, missing)
        self.n_missing += n_missing
        other, unseen = len(self.index), len(self.index) + 1
        for name, count in counts.items():
            slot = self.index.get(name)
            if slot is None:
                slot = other if name in self.known_other else unseen
            self.counts[slot] += count
            if slot == unseen:
                self.unseen[name] = self.unseen.get(name, 0) + count
        self._trim_unseen()

    def merge(self, other: CategoricalSketch) -> None:
        self.counts += other.counts
        self.n_missing += other.n_missing
        for name, count in other.unseen.items():
            self.unseen[name] = self.unseen.get(name, 0) + count
        self._trim_unseen()

    def _trim_unseen(self) -> None:
        if len(self.unseen) > self.max_unseen:
            kept = sorted(self.unseen, key=text_priority)[: self.max_unseen]
            self.unseen = {name: self.unseen[name] for name in kept}


ColumnSketch = NumericSketch | CategoricalSketch


class WindowSketch:
    """One window's sketch of every column of a reference profile.

    >>> import numpy as np
    >>> from detectors.reference import ReferenceProfile, NumericReference
    >>> ref = ReferenceProfile((NumericReference.build("x", np.arange(100.0), bins=4),), 100)
    >>> left, right = WindowSketch(ref), WindowSketch(ref)
    >>> _ = left.update({"x": np.array([1.0, 60.0])})
    >>> _ = right.update({"x": np.array([99.0, np.nan])}, row_keys=np.array([2, 3], np.uint64))
    >>> left.merge(right).columns["x"].counts.tolist(), left.n_rows
    ([1, 0, 1, 1], 4)
    """

    def __init__(
        self,
        reference: ReferenceProfile,
        *,
        sample_cap: int = 100_000,
        max_unseen: int = DEFAULT_MAX_UNSEEN,
        seed: int = 0,
    ) -> None:
        check_int("sample_cap", sample_cap, low=10)
        check_int("max_unseen", max_unseen, low=0)
        self.seed = seed
        self.sample_cap = sample_cap
        self.max_unseen = max_unseen
        self.n_rows = 0
        numeric = [c for c in reference.columns if isinstance(c, NumericReference)]
        self.samples = SharedSample(sample_cap, len(numeric))
        position = {c.name: i for i, c in enumerate(numeric)}
        self.columns: dict[str, ColumnSketch] = {
            c.name: NumericSketch(c, ColumnSample(self.samples, position[c.name]))
            if isinstance(c, NumericReference)
            else CategoricalSketch(c, max_unseen)
            for c in reference.columns
        }

    def update(
        self,
        batch: Mapping[str, NDArray[Any]],
        *,
        missing: Mapping[str, NDArray[np.bool_]] | None = None,
        row_keys: NDArray[np.uint64] | None = None,
    ) -> WindowSketch:
        """Add a batch of rows; a column absent from ``batch`` counts as missing."""
        n = _batch_length(batch)
        if row_keys is None:
            row_keys = np.arange(self.n_rows, self.n_rows + n, dtype=np.uint64)
        elif len(row_keys) != n:
            raise ValueError(f"row_keys must have one key per row ({n}), got {len(row_keys)}")
        priorities = row_priorities(row_keys, self.seed)
        admitted = self.samples.admit(priorities)
        if admitted is not None:
            priorities = priorities[admitted]
        sampled = np.empty((self.samples.n_columns, priorities.size))
        masks = missing or {}
        for name, sketch in self.columns.items():
            values = batch.get(name)
            if values is None:
                sketch.n_missing += n
                if isinstance(sketch, NumericSketch):
                    sampled[sketch.sample.index] = np.nan
            elif isinstance(sketch, NumericSketch):
                x = np.asarray(values, dtype=np.float64)
                usable = sketch.update(x, masks.get(name))
                row = sampled[sketch.sample.index]
                row[:] = x if admitted is None else x[admitted]
                if usable is not None:
                    row[~(usable if admitted is None else usable[admitted])] = np.nan
            else:
                sketch.update(values, masks.get(name))
        self.samples.add(priorities, sampled)
        self.n_rows += n
        return self

    def merge(self, other: WindowSketch) -> WindowSketch:
        """Fold ``other`` (a sketch of the same reference) into this one and return it."""
        if self.columns.keys() != other.columns.keys():
            raise ValueError("cannot merge sketches of different references")
        for name, sketch in self.columns.items():
            sketch.merge(other.columns[name])  # type: ignore[arg-type]
        self.samples.merge(other.samples)
        self.n_rows += other.n_rows
        return self


def _batch_length(batch: Mapping[str, NDArray[Any]]) -> int:
    lengths = {len(v) for v in batch.values()}
    if len(lengths) > 1:
        sizes = {k: len(v) for k, v in batch.items()}
        raise ValueError(f"batch columns must have equal lengths, got {sizes}")
    return lengths.pop() if lengths else 0
