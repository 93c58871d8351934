"""A bounded, mergeable sample of whole rows, for building references from a stream.

When a model has no stored reference, its first window (or, under the
``previous_window`` policy, every window) becomes the reference of what
follows. Quantile edges need the values themselves, so a window also keeps a
bottom-k sample of its rows (by the same hashed row keys as ``WindowSketch``):
all of the window while it holds at most ``capacity`` rows, a uniform sample of
rows beyond. Rows keep all their columns together, so the kinds and missing
values of a row stay aligned. A column keeps a missing mask only once one of its
sampled values is missing (most columns never have one).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

_NO_LIMIT = np.uint64(np.iinfo(np.uint64).max)


class RowSample:
    """The ``capacity`` rows with the smallest priorities seen so far.

    >>> sample = RowSample(2)
    >>> sample.add({"x": np.array([1.0, 2.0, 3.0])}, np.array([30, 10, 20], np.uint64))
    >>> sorted(sample.columns()["x"].tolist())
    [2.0, 3.0]
    """

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.priorities: NDArray[np.uint64] = np.empty(0, np.uint64)
        self.data: dict[str, NDArray[Any]] = {}
        self.masks: dict[str, NDArray[np.bool_] | None] = {}  # None: nothing missing
        self.n_seen = 0

    def add(
        self,
        columns: Mapping[str, NDArray[Any]],
        priorities: NDArray[np.uint64],
        missing: Mapping[str, NDArray[np.bool_] | None] | None = None,
    ) -> None:
        """Add a batch; a column new to the sample is missing in the rows before it."""
        self.n_seen += priorities.size
        masks = missing or {}
        for name, values in columns.items():
            if name not in self.data:
                self.data[name] = _empty_like(values, self.priorities.size)
                self.masks[name] = np.ones(self.priorities.size, dtype=bool) \
                    if self.priorities.size else None
        batch_masks = {n: _mask(masks.get(n), columns.get(n), priorities.size)
                       for n in self.data}
        batch_data = {n: columns[n] if n in columns else _empty_like(self.data[n],
                      priorities.size) for n in self.data}
        self._combine(batch_data, batch_masks, priorities)

    def _combine(self, data: Mapping[str, NDArray[Any]], masks: Mapping[str, NDArray[np.bool_]],
                 priorities: NDArray[np.uint64]) -> None:
        all_priorities = np.concatenate([self.priorities, priorities])
        keep: NDArray[np.intp] | None = None
        if all_priorities.size > self.capacity:
            keep = np.argpartition(all_priorities, self.capacity - 1)[: self.capacity]
        for name in self.data:
            merged = _concat(self.data[name], data[name])
            self.data[name] = merged if keep is None else merged[keep]
            old = self.masks[name]
            if old is None and not masks[name].any():
                continue
            merged_mask = np.concatenate([np.zeros(self.priorities.size, dtype=bool)
                                          if old is None else old, masks[name]])
            self.masks[name] = merged_mask if keep is None else merged_mask[keep]
        self.priorities = all_priorities if keep is None else all_priorities[keep]

    def merge(self, other: RowSample) -> None:
        """Fold ``other`` into this sample (the same rows as one sample of both)."""
        self.n_seen += other.n_seen - other.priorities.size
        self.add(other.data, other.priorities, other.masks)

    def columns(self) -> dict[str, NDArray[Any]]:
        return dict(self.data)

    def missing(self) -> dict[str, NDArray[np.bool_]]:
        """Every column's missing mask (all False for a column with nothing missing)."""
        return {name: np.zeros(self.priorities.size, dtype=bool) if mask is None else mask
                for name, mask in self.masks.items()}


def _mask(given: NDArray[np.bool_] | None, values: NDArray[Any] | None, size: int
          ) -> NDArray[np.bool_]:
    return _nulls(values, size) if given is None else given


def _nulls(values: NDArray[Any] | None, size: int) -> NDArray[np.bool_]:
    if values is None:
        return np.ones(size, dtype=bool)
    if values.dtype == object:
        return np.asarray(values == None, dtype=bool)  # noqa: E711 (elementwise None test)
    return np.zeros(size, dtype=bool)


def _empty_like(values: NDArray[Any], size: int) -> NDArray[Any]:
    if values.dtype == object:
        return np.full(size, None, dtype=object)
    return np.full(size, np.nan, dtype=np.float64)


def _concat(left: NDArray[Any], right: NDArray[Any]) -> NDArray[Any]:
    if left.dtype == object or right.dtype == object:
        return np.concatenate([left.astype(object), right.astype(object)])
    return np.concatenate([left, right])
