"""The bounded samples of a window's numeric columns, stored once for the rows they share.

Each numeric column of a ``WindowSketch`` keeps a bottom-k sample: the ``k``
usable values (present and finite) with the smallest row priorities
(``detectors._sampling``). The columns of a row share its priority, and most
rows are usable in every column, so the columns' samples are mostly the same
rows. They are stored as:

- shared rows: at most ``k`` row priorities and, per column, a float64 array
  aligned with them, NaN where the row is not in that column's sample (its value
  is not usable, or lies beyond the column's ``k``; a sampled value is never NaN);
- extras: per column, the (value, priority) pairs of its sample outside the
  shared rows, as a column with missing values reaches past them.

That is 8 bytes per sampled value and 8 per shared row, where a sample of its
own takes 16 per value. A column whose sample holds fewer than half of the
shared rows (one that is mostly missing) gives up its aligned array for the
rest of the window and keeps only extras, so no column takes more than 16 bytes
per value. Once the shared rows fill half the capacity, a column's aligned
values are held in their narrowest exact form (``detectors._packed``: 1, 2 or 4
bytes a value for integers and short decimals, NaN included), decoded where
they are read (``column``); a compaction works on the codes while the buffered
values fit the column's form, else it decodes the column and packs it anew.
(Decided by measuring the worker's memory, bench/README.md, "Streaming": the
shared form takes well under the memory of separate samples.) Which rows are
shared, and how the values are held, change only the memory: every column's
sample is exactly its own bottom-k, so merging, snapshots and statistics are
those of separate samples.

New rows wait in a buffer of at most ``k`` rows and are folded in by
``compact`` (per column an ``argpartition``, as separate samples would do).
Once every column's sample is full, a row whose priority is above every
column's largest kept priority cannot enter any sample and is not buffered.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from detectors._packed import FLOAT, Packed

_NO_LIMIT = np.uint64(np.iinfo(np.uint64).max)
_EMPTY_VALUES: NDArray[np.float64] = np.empty(0)
_EMPTY_PRIORITIES: NDArray[np.uint64] = np.empty(0, np.uint64)
_EMPTY_ALIGNED = Packed(_EMPTY_VALUES, FLOAT)

Pairs = tuple[NDArray[np.float64], NDArray[np.uint64]]


class SharedSample:
    """Bottom-k samples of ``n_columns`` numeric columns with a common row priority."""

    def __init__(self, capacity: int, n_columns: int) -> None:
        self.capacity = capacity
        self.n_columns = n_columns
        self._reset()

    def _reset(self) -> None:
        n_columns = self.n_columns
        self.priorities: NDArray[np.uint64] = _EMPTY_PRIORITIES  # of the shared rows
        # Per column: values aligned with the shared rows (None once given up), extras.
        self.aligned: list[Packed | None] = [_EMPTY_ALIGNED] * n_columns
        self.extras: list[Pairs] = [(_EMPTY_VALUES, _EMPTY_PRIORITIES)] * n_columns
        self._pending: list[tuple[NDArray[np.uint64], NDArray[np.float64]]] = []
        self._pending_extras: list[list[Pairs]] = [[] for _ in range(n_columns)]
        self._pending_rows = 0
        self._limit = _NO_LIMIT

    def admit(self, priorities: NDArray[np.uint64]) -> NDArray[np.bool_] | None:
        """Which rows may still enter a sample (None: all of them)."""
        return None if self._limit == _NO_LIMIT else priorities < self._limit

    def add(self, priorities: NDArray[np.uint64], values: NDArray[np.float64]) -> None:
        """Add admitted rows: ``values`` has shape (n_columns, rows), NaN where not usable.

        Both arrays are kept as they are: pass arrays of your own.
        """
        if priorities.size and self.n_columns:
            self._pending.append((priorities, values))
            self._pending_rows += priorities.size
            if self._pending_rows >= self.capacity:
                self.compact()

    def merge(self, other: SharedSample) -> None:
        """Fold ``other`` (samples of the same columns and capacity) into this one."""
        other.compact()
        aligned = np.full((self.n_columns, other.priorities.size), np.nan)
        for c, column in enumerate(other.aligned):
            if column is not None:
                aligned[c] = column.values()
            self._pending_extras[c].append(other.extras[c])
        self._pending.append((other.priorities, aligned))
        self._pending_rows += other.priorities.size
        self.compact()

    def compact(self) -> None:
        """Fold the buffered rows in: every column keeps its ``k`` smallest priorities."""
        if not self._pending and not any(self._pending_extras):
            return
        priorities = np.concatenate([self.priorities, *(p for p, _ in self._pending)])
        shared = _smallest(priorities, self.capacity)
        slot = np.full(priorities.size, -1, dtype=np.intp)
        slot[shared] = np.arange(shared.size)
        rows = _Rows(priorities, shared, slot)
        limits = []
        for c in range(self.n_columns):
            column = self._candidates(c)
            extras = (np.concatenate([self.extras[c][0],
                                      *(v for v, _ in self._pending_extras[c])]),
                      np.concatenate([self.extras[c][1],
                                      *(p for _, p in self._pending_extras[c])]))
            limits.append(self._compact_column(c, column, extras, rows))
        self.priorities = priorities[shared]
        self._pending, self._pending_rows = [], 0
        self._pending_extras = [[] for _ in range(self.n_columns)]
        self._limit = max(limits, default=_NO_LIMIT)

    def _candidates(self, c: int) -> Packed:
        """Column ``c`` over the shared rows and then the buffer, NaN where not usable.

        In the form the column's aligned values have when the buffer's values fit it
        (nothing is decoded or encoded again), else as float64.
        """
        held = self.aligned[c]
        pending = [v[c] for _, v in self._pending]
        if held is None or not held.form.packed:
            old = np.full(self.priorities.size, np.nan) if held is None else held.codes
            return Packed(np.concatenate([old, *pending]), FLOAT)
        new = np.concatenate(pending) if pending else _EMPTY_VALUES
        codes = held.form.encode(new)
        if codes is None:  # a value the form cannot hold: the column is packed anew
            return Packed(np.concatenate([held.values(), new]), FLOAT)
        return Packed(np.concatenate([held.codes, codes]), held.form)

    def _compact_column(self, c: int, column: Packed, extras: Pairs, rows: _Rows
                        ) -> np.uint64:
        """Keep column ``c``'s ``k`` smallest candidates; return its limit (module docstring).

        ``column`` is aligned with ``rows.priorities`` (the shared rows before, then the
        buffer), NaN where not usable; ``extras`` are its other candidates.
        """
        k, priorities = self.capacity, rows.priorities
        form, codes = column.form, column.codes
        usable = form.present(codes)
        n_usable = int(np.count_nonzero(usable))
        if n_usable == priorities.size and not extras[1].size:
            # Every row usable, nothing else: its k smallest are the shared rows.
            kept = codes[rows.shared]
            if self.aligned[c] is not None:
                self.aligned[c], self.extras[c] = self._pack(Packed(kept, form)), extras
            else:
                self.extras[c] = (form.decode(kept), priorities[rows.shared])
            return rows.limit(k)
        if priorities.size <= k and n_usable + extras[1].size <= k:
            # Every candidate stays and every row is shared.
            if self.aligned[c] is not None and priorities.size <= 2 * n_usable:
                self.aligned[c], self.extras[c] = self._pack(column), extras
            else:
                self.aligned[c] = None
                self.extras[c] = (np.concatenate([form.decode(codes[usable]), extras[0]]),
                                  np.concatenate([priorities[usable], extras[1]]))
            if n_usable + extras[1].size < k:
                return _NO_LIMIT
            return max(np.max(priorities, where=usable, initial=np.uint64(0)),
                       np.max(extras[1], initial=np.uint64(0)))
        positions = np.flatnonzero(usable)
        candidates = np.concatenate([priorities[positions], extras[1]])
        picked = _smallest(candidates, k)
        chosen = positions[picked[picked < positions.size]]
        extra = picked[picked >= positions.size] - positions.size
        inside = rows.slot[chosen] >= 0
        if self.aligned[c] is not None and rows.shared.size <= 2 * np.count_nonzero(inside):
            aligned = form.absent(rows.shared.size)
            aligned[rows.slot[chosen[inside]]] = codes[chosen[inside]]
            self.aligned[c] = self._pack(Packed(aligned, form))
            chosen = chosen[~inside]
        else:  # mostly outside the shared rows: extras only, from now on
            self.aligned[c] = None
        self.extras[c] = (np.concatenate([form.decode(codes[chosen]), extras[0][extra]]),
                          np.concatenate([priorities[chosen], extras[1][extra]]))
        return candidates[picked].max() if picked.size >= k else _NO_LIMIT

    def column(self, c: int) -> Pairs:
        """(values, priorities) of column ``c``'s sample, in no particular order."""
        self.compact()
        extra_values, extra_priorities = self.extras[c]
        held = self.aligned[c]
        if held is None:
            return extra_values, extra_priorities
        aligned = held.values()
        sampled = ~np.isnan(aligned)
        return (np.concatenate([aligned[sampled], extra_values]),
                np.concatenate([self.priorities[sampled], extra_priorities]))

    def restore(self, samples: list[Pairs]) -> None:
        """Set every column's sample (a snapshot's), sharing the rows they have in common.

        The shared rows are the ``k`` smallest priorities found in any sample; a
        column keeps a value there when that row is in its sample (a priority
        repeated within one column stays an extra).
        """
        self._reset()
        if not samples:
            return
        everything = np.unique(np.concatenate([p for _, p in samples]))
        self.priorities = everything[: self.capacity]
        limits: list[np.uint64] = []
        for c, (values, priorities) in enumerate(samples):
            position = np.searchsorted(self.priorities, priorities)
            shared = position < self.priorities.size
            shared[shared] = self.priorities[position[shared]] == priorities[shared]
            first = np.zeros(priorities.size, dtype=bool)
            first[np.unique(np.where(shared, position, -1), return_index=True)[1]] = True
            inside = shared & first
            if self.priorities.size <= 2 * np.count_nonzero(inside):
                aligned = np.full(self.priorities.size, np.nan)
                aligned[position[inside]] = values[inside]
                self.aligned[c] = self._pack(Packed(aligned, FLOAT))
            else:
                self.aligned[c], inside = None, np.zeros(priorities.size, dtype=bool)
            self.extras[c] = (values[~inside].copy(), priorities[~inside].copy())
            limits.append(priorities.max() if priorities.size >= self.capacity else _NO_LIMIT)
        self._limit = max(limits, default=_NO_LIMIT)

    def _pack(self, aligned: Packed) -> Packed:
        """Aligned values held as float64, packed once the shared rows fill half the capacity.

        (Below that they stay float64: a small window does not pay for the encoding.
        Values already packed stay in their form.)
        """
        if aligned.form.packed or 2 * aligned.size < self.capacity:
            return aligned
        return Packed.of(aligned.codes)

    @property
    def nbytes(self) -> int:
        """Bytes of the arrays held, the buffer included."""
        held = self.priorities.nbytes + sum(p.nbytes + v.nbytes for p, v in self._pending)
        held += sum(a.nbytes for a in self.aligned if a is not None)
        held += sum(v.nbytes + p.nbytes for v, p in self.extras)
        return held + sum(v.nbytes + p.nbytes for parts in self._pending_extras
                          for v, p in parts)


class _Rows:
    """The rows a compaction sees: their priorities, the ones kept as shared, and where."""

    def __init__(self, priorities: NDArray[np.uint64], shared: NDArray[np.intp],
                 slot: NDArray[np.intp]) -> None:
        self.priorities = priorities
        self.shared = shared  # positions of the new shared rows
        self.slot = slot  # per position: its index among the shared rows, or -1
        self._largest: np.uint64 | None = None

    def limit(self, k: int) -> np.uint64:
        """The largest shared priority once ``k`` rows are shared (else no limit)."""
        if self.shared.size < k:
            return _NO_LIMIT
        if self._largest is None:
            self._largest = self.priorities[self.shared].max()
        return self._largest


def _smallest(priorities: NDArray[np.uint64], k: int) -> NDArray[np.intp]:
    """Positions of the ``k`` smallest priorities (all of them when there are fewer)."""
    if priorities.size <= k:
        return np.arange(priorities.size)
    return np.argpartition(priorities, k - 1)[:k]


class ColumnSample:
    """One column's sample in a ``SharedSample``: what a sample of its own would answer."""

    def __init__(self, shared: SharedSample, index: int) -> None:
        self.shared = shared
        self.index = index

    def compact(self) -> None:
        self.shared.compact()

    @property
    def values(self) -> NDArray[np.float64]:
        return self.shared.column(self.index)[0]

    @property
    def priorities(self) -> NDArray[np.uint64]:
        return self.shared.column(self.index)[1]

    def sorted_values(self) -> NDArray[np.float64]:
        return np.sort(self.values)
