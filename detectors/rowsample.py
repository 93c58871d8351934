"""A bounded, mergeable sample of whole rows, for building references from a stream.

When a model has no stored reference, its first window (or, under the
``previous_window`` policy, every window) becomes the reference of what
follows. Quantile edges need the values themselves, so a window also keeps a
bottom-k sample of its rows (by the same hashed row keys as ``WindowSketch``):
all of the window while it holds at most ``capacity`` rows, a uniform sample of
rows beyond. Rows keep all their columns together, so the kinds and missing
values of a row stay aligned.

Memory (decisions measured with the worker's memory bench; the figures are in
bench/README.md, "Streaming" and "Figures behind decisions in the code"):

- Rows live in slots of arrays allocated once they are needed (growing by
  doubling up to ``capacity``) and then written in place: a row that enters a
  full sample takes the slot of a row that leaves it. No batch copies the whole
  sample, so a window's arrays are allocated a few times, not twice per batch
  and column as when every batch concatenated and selected anew (which was
  also slower a row at large windows). The order of the rows in the slots
  follows from that; it is not the order of arrival.
- Numbers are held as float64 until the arrays reach half the capacity, then
  in their narrowest exact form (``detectors._packed``: int8, int16 or int32
  codes of integers and short decimals, else float64); a column widens when a
  value does not fit, never loses a digit. Windows below half the capacity do
  not pay for the encoding; larger ones keep 1-4 bytes a value where the data
  allows. The encoding, with the text codes below, costs sampling a little
  time an event, accepted for the memory it saves.
- Text, from half the capacity on too, is held as codes into the sample's own
  table of the column's distinct texts (code 0 is None), one or two bytes a row
  instead of an 8-byte pointer; the table is rebuilt from the codes in use when
  it outgrows them. A column with more than ``MAX_TEXTS`` distinct texts in use
  (identifiers rather than categories), or with values that are not text (a
  column that also had numbers), keeps a pointer a row: there a table would
  cost more than it saves. Snapshots save text as codes at any size
  (``detectors.state``).
- A column keeps a missing mask only once one of its sampled values is missing
  (most columns never have one).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

from detectors._packed import FLOAT, Packed, encode_rows

_NO_LIMIT = np.uint64(np.iinfo(np.uint64).max)
_TEXT_CODES = (np.dtype(np.uint8), np.dtype(np.uint16))
MAX_TEXTS = 65_535  # distinct texts of a column held as codes (beyond: a pointer a row)

Slots = slice | NDArray[np.intp]  # where a batch's rows go: appended (a slice) or placed


class RowSample:
    """The ``capacity`` rows with the smallest priorities seen so far.

    >>> sample = RowSample(2)
    >>> sample.add({"x": np.array([1.0, 2.0, 3.0])}, np.array([30, 10, 20], np.uint64))
    >>> sorted(sample.columns()["x"].tolist())
    [2.0, 3.0]
    """

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.n_seen = 0
        self.size = 0  # rows held, in slots [0, size)
        self._priorities: NDArray[np.uint64] = np.empty(0, np.uint64)
        self._columns: dict[str, _Numbers | _Objects | _Texts] = {}
        self._masks: dict[str, NDArray[np.bool_] | None] = {}  # None: nothing missing
        self._limit = _NO_LIMIT  # once full: the largest priority held

    @property
    def priorities(self) -> NDArray[np.uint64]:
        return self._priorities[: self.size]

    @property
    def names(self) -> list[str]:
        """The columns, in the order they first came."""
        return list(self._columns)

    @property
    def data(self) -> dict[str, NDArray[Any]]:
        """Each column's values (float64, or an object array of text with None)."""
        return self.columns()

    @property
    def masks(self) -> dict[str, NDArray[np.bool_] | None]:
        """Each column's missing mask, None for a column with nothing missing."""
        return {name: None if mask is None else mask[: self.size]
                for name, mask in self._masks.items()}

    def add(
        self,
        columns: Mapping[str, NDArray[Any]],
        priorities: NDArray[np.uint64],
        missing: Mapping[str, NDArray[np.bool_] | None] | None = None,
    ) -> None:
        """Add a batch; a column new to the sample is missing in the rows before it."""
        self.n_seen += priorities.size
        for name, values in columns.items():
            if name not in self._columns:
                self._new_column(name, values.dtype == object)
            elif values.dtype == object and isinstance(self._columns[name], _Numbers):
                self._columns[name] = _Objects.of(self._columns[name].values(self.size),
                                                  self._priorities.size)
        rows, slots = self._slots(priorities)
        count = _count(slots)
        if count == 0:
            return
        self._priorities[slots] = priorities if rows is None else priorities[rows]
        masks = missing or {}
        packed = self._put_packed(columns, rows, slots)
        for name, column in self._columns.items():
            given_values = columns.get(name)
            if given_values is None:
                column.put_missing(slots, self.size)
                self._put_mask(name, slots, np.ones(count, dtype=bool))
                continue
            absent = None
            if name not in packed:
                values = given_values if rows is None else given_values[rows]
                absent = self._put(name, slots, values)
            given = masks.get(name)
            if given is not None:
                absent = given if rows is None else given[rows]
            self._put_mask(name, slots, absent)
        self.size = max(self.size, slots.stop if isinstance(slots, slice) else self.capacity)
        if self.size == self.capacity:
            self._limit = self.priorities.max()

    def _put_packed(self, columns: Mapping[str, NDArray[Any]], rows: NDArray[np.intp] | None,
                    slots: Slots) -> set[str]:
        """Write the batch's numbers that fit their columns' packed forms, all in one pass.

        Returns the names written; the others go column by column (``_Numbers.put``).
        """
        names = [name for name, column in self._columns.items()
                 if isinstance(column, _Numbers) and column.form.packed and name in columns
                 and columns[name].dtype == np.float64]
        if not names:
            return set()
        block = np.empty((len(names), _count(slots)))
        for i, name in enumerate(names):
            block[i] = columns[name] if rows is None else columns[name][rows]
        written = set()
        forms = [self._numbers(name).form for name in names]
        for name, codes in zip(names, encode_rows(block, forms), strict=True):
            if codes is not None:
                self._numbers(name).codes[slots] = codes
                written.add(name)
        return written

    def _put(self, name: str, slots: Slots, values: NDArray[Any]) -> NDArray[np.bool_] | None:
        """Write a column's values to ``slots``; where text is None (None for numbers: a
        number is missing only where the batch's mask says so)."""
        try:
            return self._columns[name].put(slots, values, self.size)
        except _KeepObjectsError:  # not text, or too many texts: the objects themselves
            column = _Objects.of(self._columns[name].values(self.size), self._priorities.size)
            self._columns[name] = column
            return column.put(slots, values, self.size)

    def _numbers(self, name: str) -> _Numbers:
        column = self._columns[name]
        assert isinstance(column, _Numbers)
        return column

    def _slots(self, priorities: NDArray[np.uint64]) -> tuple[NDArray[np.intp] | None, Slots]:
        """Which rows of a batch enter (None: all) and the slots they take, in order.

        Slots are a slice when the rows are appended; else the sample is full
        after them (the slots of the rows they push out, then the free ones).
        """
        size, incoming = self.size, priorities.size
        if size + incoming <= self.capacity:
            self._reserve(size + incoming)
            return None, slice(size, size + incoming)
        candidates = np.arange(incoming) if self._limit == _NO_LIMIT \
            else np.flatnonzero(priorities < self._limit)
        if candidates.size == 0:
            return candidates, candidates
        both = np.concatenate([self.priorities, priorities[candidates]])
        kept = np.zeros(both.size, dtype=bool)
        kept[np.argpartition(both, self.capacity - 1)[: self.capacity]] = True
        self._reserve(self.capacity)
        slots = np.concatenate([np.flatnonzero(~kept[:size]), np.arange(size, self.capacity)])
        return candidates[kept[size:]], slots

    def _reserve(self, rows: int) -> None:
        """Make room for ``rows`` rows (doubling, up to the capacity)."""
        allocated = self._priorities.size
        if rows <= allocated:
            return
        length = min(self.capacity, max(rows, 2 * allocated))
        self._priorities = _grown(self._priorities, length, self.size)
        for name, column in self._columns.items():
            column.grow(length, self.size)
            if 2 * length >= self.capacity:
                self._columns[name] = column.pack(self.size)
        for name, mask in self._masks.items():
            if mask is not None:
                self._masks[name] = _grown(mask, length, self.size)

    def _new_column(self, name: str, text: bool) -> None:
        length = self._priorities.size
        self._columns[name] = _Objects(length) if text else _Numbers(length)
        if 2 * length >= self.capacity:
            self._columns[name] = self._columns[name].pack(0)
        if self.size:  # the rows before it miss it
            self._columns[name].put_missing(slice(0, self.size), 0)
            mask = np.zeros(length, dtype=bool)
            mask[: self.size] = True
            self._masks[name] = mask
        else:
            self._masks[name] = None

    def _put_mask(self, name: str, slots: Slots,
                  absent: NDArray[np.bool_] | None) -> None:
        """Record which rows written to ``slots`` miss the column (None: none of them)."""
        mask = self._masks[name]
        if mask is None:
            if absent is None or not absent.any():
                return
            mask = self._masks[name] = np.zeros(self._priorities.size, dtype=bool)
        mask[slots] = False if absent is None else absent

    def merge(self, other: RowSample) -> None:
        """Fold ``other`` into this sample (the same rows as one sample of both)."""
        self.n_seen += other.n_seen - other.size
        self.add(other.columns(), other.priorities, other.masks)

    def columns(self) -> dict[str, NDArray[Any]]:
        """Each column's values (new arrays): float64, or object arrays of text with None."""
        return {name: column.values(self.size) for name, column in self._columns.items()}

    def values(self, name: str) -> NDArray[Any]:
        """One column's values, as in ``columns``."""
        return self._columns[name].values(self.size)

    def is_text(self, name: str) -> bool:
        """Whether a column holds text (else float64 numbers)."""
        return not isinstance(self._columns[name], _Numbers)

    def missing(self) -> dict[str, NDArray[np.bool_]]:
        """Every column's missing mask (all False for a column with nothing missing)."""
        return {name: np.zeros(self.size, dtype=bool) if mask is None else mask
                for name, mask in self.masks.items()}

    def text_codes(self, name: str) -> tuple[NDArray[np.unsignedinteger[Any]], list[str | None]]:
        """A text column as (codes, table): its values are ``table[code]`` (code 0: None)."""
        column = self._columns[name]
        if isinstance(column, _Texts):
            return column.codes[: self.size], list(column.table)
        if not isinstance(column, _Objects):
            raise ValueError(f"column {name!r} of the row sample is not text")
        items = column.objects[: self.size].tolist()
        distinct = dict.fromkeys(items)
        if any(type(v) is not str for v in distinct if v is not None):
            items = [None if v is None else str(v) for v in items]  # as snapshots save them
            distinct = dict.fromkeys(items)
        table: list[str | None] = [None, *(v for v in distinct if v is not None)]
        index = {text: code for code, text in enumerate(table)}
        dtype = next(t for t in (*_TEXT_CODES, np.dtype(np.uint32))
                     if len(table) - 1 <= np.iinfo(t).max)
        return np.fromiter(map(index.__getitem__, items), dtype, len(items)), table

    @property
    def nbytes(self) -> int:
        """Bytes of the arrays held (slots allocated), the text tables' pointers included."""
        held = self._priorities.nbytes + sum(c.nbytes for c in self._columns.values())
        return held + sum(m.nbytes for m in self._masks.values() if m is not None)


class _Numbers:
    """A float64 column in slots, packed (``detectors._packed``) from half the capacity on."""

    def __init__(self, length: int) -> None:
        self.form = FLOAT
        self.codes: NDArray[Any] = np.empty(length, dtype=np.float64)

    def grow(self, length: int, used: int) -> None:
        self.codes = _grown(self.codes, length, used)

    def pack(self, used: int) -> _Numbers:
        """Hold the values in slots below ``used`` in their narrowest form from now on."""
        if not self.form.packed:
            held = Packed.of(self.codes[:used])
            if held.form.packed:
                codes = np.empty(self.codes.size, dtype=held.form.dtype)
                codes[:used] = held.codes
                self.form, self.codes = held.form, codes
        return self

    def put(self, slots: Slots, values: NDArray[Any], used: int) -> None:
        """Write ``values`` to ``slots`` (slots below ``used`` hold values).

        Returns None: a number is missing only where the batch's mask says so.
        """
        values = np.asarray(values, dtype=np.float64)
        codes = self.form.encode(values)
        if codes is None:  # a value the packed form cannot hold: widen
            both = Packed.of(np.concatenate([self.values(used), values]))
            self.form = both.form
            self.codes = np.empty(self.codes.size, dtype=self.form.dtype)
            self.codes[:used] = both.codes[:used]
            codes = both.codes[used:]
        self.codes[slots] = codes

    def put_missing(self, slots: Slots, used: int) -> None:
        self.put(slots, np.full(_count(slots), np.nan), used)

    def values(self, used: int) -> NDArray[np.float64]:
        return self.form.decode(self.codes[:used])

    @property
    def nbytes(self) -> int:
        return int(self.codes.nbytes)


class _KeepObjectsError(Exception):
    """Values a text column keeps as objects: not all text, or too many distinct texts."""


class _Objects:
    """A text column in slots as Python objects (a pointer a row), until it is packed."""

    def __init__(self, length: int) -> None:
        self.objects: NDArray[Any] = np.full(length, None, dtype=object)

    @classmethod
    def of(cls, held: NDArray[Any], length: int) -> _Objects:
        """A column of the values a column held so far (numbers as Python floats)."""
        column = cls(length)
        column.objects[: held.size] = held.astype(object)
        return column

    def grow(self, length: int, used: int) -> None:
        grown = np.full(length, None, dtype=object)
        grown[:used] = self.objects[:used]
        self.objects = grown

    def pack(self, used: int) -> _Objects | _Texts:
        """As text codes, unless a value is not text (a column that also had numbers)."""
        texts = _Texts(self.objects.size)
        try:
            texts.put(slice(0, used), self.objects[:used], 0)
        except _KeepObjectsError:
            return self
        return texts

    def put(self, slots: Slots, values: NDArray[Any], used: int) -> NDArray[np.bool_]:
        """Write ``values`` to ``slots``; where they are None."""
        self.objects[slots] = values
        return np.asarray(values == None, dtype=bool)  # noqa: E711 (elementwise None test)

    def put_missing(self, slots: Slots, used: int) -> None:
        self.objects[slots] = None

    def values(self, used: int) -> NDArray[Any]:
        return self.objects[:used].copy()

    @property
    def nbytes(self) -> int:
        return int(self.objects.nbytes)


class _Texts:
    """A text column in slots, as codes into a table of its distinct texts (0: None)."""

    def __init__(self, length: int) -> None:
        self.table: list[str | None] = [None]
        self.index: dict[str | None, int] = {None: 0}
        self.codes: NDArray[Any] = np.zeros(length, dtype=np.uint8)

    def grow(self, length: int, used: int) -> None:
        self.codes = _grown(self.codes, length, used)
        self.codes[used:] = 0

    def put(self, slots: Slots, values: NDArray[Any], used: int) -> NDArray[np.bool_]:
        """Write ``values`` to ``slots`` (slots below ``used`` hold values); where None.

        Raises ``_KeepObjectsError`` (and writes nothing) when a value is neither text nor
        None, or when the table would hold more than ``MAX_TEXTS`` texts.
        """
        if values.dtype != object:
            raise _KeepObjectsError
        items = values.tolist()
        try:
            codes = np.fromiter(map(self.index.__getitem__, items), np.int64, len(items))
        except KeyError:  # texts new to the table
            new = [t for t in dict.fromkeys(items) if t not in self.index]
            if any(type(t) is not str for t in new):
                raise _KeepObjectsError from None
            self.codes[slots] = 0  # the rows they replace no longer use their texts
            if len(self.table) + len(new) > min(MAX_TEXTS, 2 * used + 256):
                self._shrink(used)
            if len(self.table) + len(new) > MAX_TEXTS:
                raise _KeepObjectsError from None
            for text in new:
                self.index[text] = len(self.table)
                self.table.append(text)
            codes = np.fromiter(map(self.index.__getitem__, items), np.int64, len(items))
        dtype = next(t for t in _TEXT_CODES if len(self.table) - 1 <= np.iinfo(t).max)
        if dtype != self.codes.dtype:
            self.codes = self.codes.astype(dtype)
        self.codes[slots] = codes
        absent: NDArray[np.bool_] = codes == 0
        return absent

    def put_missing(self, slots: Slots, used: int) -> None:
        self.codes[slots] = 0

    def pack(self, used: int) -> _Texts:
        return self

    def _shrink(self, used: int) -> None:
        """Keep only the texts the codes below ``used`` refer to (and None), renumbered."""
        in_use = np.union1d([0], self.codes[:used])
        renumber = np.zeros(len(self.table), dtype=np.int64)
        renumber[in_use] = np.arange(in_use.size)
        self.codes[:used] = renumber[self.codes[:used]]
        self.table = [self.table[i] for i in in_use.tolist()]
        self.index = {text: i for i, text in enumerate(self.table)}

    def values(self, used: int) -> NDArray[Any]:
        table = np.empty(len(self.table), dtype=object)
        table[:] = self.table
        return table[self.codes[:used]]  # type: ignore[no-any-return]

    @property
    def nbytes(self) -> int:
        return int(self.codes.nbytes) + 8 * len(self.table)


def _count(slots: Slots) -> int:
    return slots.stop - slots.start if isinstance(slots, slice) else int(slots.size)


def _grown(array: NDArray[Any], length: int, used: int) -> NDArray[Any]:
    grown = np.empty(length, dtype=array.dtype)
    grown[:used] = array[:used]
    return grown
