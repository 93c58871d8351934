"""Numpy columns from decoded prediction events, one ``ModelBatch`` per model version.

- ``event_times``: event time as float64 seconds since the Unix epoch.
- ``prediction_ids``: each row's ``prediction_id`` (an object array of ``str``,
  None where the event has none), for the late-label join.
- ``row_keys``: ``partition << 40 | offset`` as uint64, stable for a Kafka
  record, so window-sketch samples are the same whichever worker reads it
  (unique while offsets stay below 2**40 and partitions below 2**24).
- ``prediction_ids``: the events' ``prediction_id`` (None when absent), which the
  late-label join keys on.
- ``columns`` and ``missing``: one array per feature seen in the batch, plus
  the model outputs ``prediction`` and ``score``. A feature whose present values
  are all int or float (not bool) is float64, missing rows holding NaN;
  otherwise it is an object array of text (booleans as ``"true"``/``"false"``,
  numbers by ``repr``) with None for missing rows. ``missing`` marks null and
  absent values; a present ±inf stays in the column (the statistics count it).
- A feature named ``prediction`` or ``score``, or whose name starts with
  ``feature:``, is stored as ``feature:<name>`` so that it never shadows an
  output column (``feature_names`` lists the feature columns as stored).
- Feature columns follow the order in which the whole decoded batch first
  names the features (a group holds those its own rows name), so both decode
  paths (``streams.decoding.fastdecode`` and the per-event one) give the same order.
- A ``NameBudget`` per model version (``budgets``) bounds the columns built: a
  flood of distinct names would otherwise cost events x names. The names past
  the budget are ``skipped``: their present values are counted, their columns
  not built, and ``streams.ingest.feature_cap`` builds any of them its cap admits after
  all (``rebuild``), so the capped batch is the one a full decode gives.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Container, Sequence
from dataclasses import dataclass, field
from itertools import chain
from typing import TYPE_CHECKING, Any, cast

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:
    from streams.decoding.events import PredictionEvent

OFFSET_BITS = 40
OUTPUT_COLUMNS = ("prediction", "score")
FEATURE_PREFIX = "feature:"
_NUMERIC_TYPES = frozenset({float, int, type(None)})
_TEXT_TYPES = frozenset({str, type(None)})

Value = float | int | str | bool | None
Column = tuple[NDArray[Any], NDArray[np.bool_]]


@dataclass(frozen=True)
class NameBudget:
    """The feature columns to build for one model version: those named in ``held``
    and the first ``room`` other names of its rows, in batch order (column names,
    as ``streams.ingest.feature_cap.FeatureCap`` admits them)."""

    held: Container[str]
    room: int


# The budget of a (model_id, model_version); None: build every column.
Budgets = Callable[[str, str], NameBudget | None]


@dataclass
class ModelBatch:
    """The columns of one (model_id, model_version) in one decoded batch."""

    model_id: str
    model_version: str
    event_times: NDArray[np.float64]
    row_keys: NDArray[np.uint64]
    columns: dict[str, NDArray[Any]]
    missing: dict[str, NDArray[np.bool_]]
    feature_names: tuple[str, ...]
    prediction_ids: NDArray[np.object_]
    # The feature columns past the decoder's ``NameBudget``, not built: their present
    # (non-null) values per column name; ``order`` is then every feature column of the
    # rows in batch order, and ``rebuild`` builds one of the skipped columns.
    skipped: dict[str, int] = field(default_factory=dict)
    order: tuple[str, ...] = ()
    rebuild: Callable[[str], Column] | None = None

    def __len__(self) -> int:
        return len(self.row_keys)


def row_keys(positions: Sequence[tuple[int, int]]) -> NDArray[np.uint64]:
    """``partition << 40 | offset`` for each (partition, offset)."""
    pairs = np.fromiter(chain.from_iterable(positions), np.int64, 2 * len(positions))
    pairs = pairs.reshape(-1, 2)
    return row_keys_of(pairs[:, 0], pairs[:, 1])


def row_keys_of(partitions: NDArray[np.int64], offsets: NDArray[np.int64]
                ) -> NDArray[np.uint64]:
    """``row_keys`` of the rows' partitions and offsets given as two arrays."""
    if offsets.size and (min(partitions.min(), offsets.min()) < 0
                         or offsets.max() >> OFFSET_BITS
                         or partitions.max() >> (64 - OFFSET_BITS)):
        raise ValueError("row keys need 0 <= offset < 2**40 and 0 <= partition < 2**24")
    return (partitions.astype(np.uint64) << np.uint64(OFFSET_BITS)) | offsets.astype(np.uint64)


def column_name(feature: str) -> str:
    """The column a feature is stored in (see the module docstring)."""
    if feature in OUTPUT_COLUMNS or feature.startswith(FEATURE_PREFIX):
        return FEATURE_PREFIX + feature
    return feature


def feature_of(column: str) -> str:
    """The feature stored in ``column`` (the inverse of ``column_name``)."""
    return column[len(FEATURE_PREFIX):] if column.startswith(FEATURE_PREFIX) else column


def within(names: Sequence[str], budget: NameBudget) -> tuple[list[str], list[str]]:
    """(features to build, features skipped) of ``names`` (in batch order) under ``budget``."""
    chosen: list[str] = []
    skipped: list[str] = []
    room = budget.room
    for feature in names:
        if column_name(feature) in budget.held:
            chosen.append(feature)
        elif room > 0:
            room -= 1
            chosen.append(feature)
        else:
            skipped.append(feature)
    return chosen, skipped


def _as_float(value: float | int | None) -> float:
    if value is None:
        return math.nan
    try:
        return float(value)
    except OverflowError:  # an integer beyond the double range
        return math.inf if value > 0 else -math.inf


def _as_text(value: Value) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value)


def _nulls(values: Sequence[Value]) -> NDArray[np.bool_]:
    return np.asarray(np.array(values, dtype=object) == None, dtype=bool)  # noqa: E711


def build_column(values: Sequence[Value]) -> tuple[NDArray[Any], NDArray[np.bool_]]:
    """(float64 or object array, missing mask) for one column's values."""
    kinds = set(map(type, values))
    if kinds <= _NUMERIC_TYPES:
        try:
            array: NDArray[Any] = np.array(values, dtype=np.float64)
        except OverflowError:
            numbers = cast("Sequence[float | int | None]", values)  # checked just above
            array = np.array([_as_float(v) for v in numbers], dtype=np.float64)
        has_nulls = type(None) in kinds
        return array, _nulls(values) if has_nulls else np.zeros(len(values), dtype=bool)
    texts = values if kinds <= _TEXT_TYPES else [_as_text(v) for v in values]
    array = np.empty(len(texts), dtype=object)
    array[:] = texts
    return array, np.asarray(array == None, dtype=bool)  # noqa: E711


def feature_order(features: Sequence[dict[str, Value]]) -> list[str]:
    """The feature names of a whole batch, in the order they first appear in it."""
    first = list(features[0]) if features else []
    if all(map(first.__eq__, map(list, features))):
        return first
    return list(dict.fromkeys(chain.from_iterable(features)))


def _feature_columns(
    features: Sequence[dict[str, Value]], order: Sequence[str], budget: NameBudget | None,
) -> tuple[dict[str, Sequence[Value]], list[str]]:
    """(each built feature's values in row order, None where absent; the skipped features).

    ``order`` is the batch's feature order; a name no row of this group has is
    left out, and so are the names past ``budget`` (skipped). When every event
    lists exactly ``order`` (the usual case) the rows are transposed in one step;
    otherwise each built name is looked up.
    """
    if all(map(list(order).__eq__, map(list, features))):
        names: Sequence[str] = order
        skipped: list[str] = []
        if budget is not None:
            names, skipped = within(order, budget)
        if not skipped:
            columns = zip(*map(dict.values, features), strict=False)  # rows of equal length
            return dict(zip(order, columns, strict=False)), []  # one column per name
        return {name: [f[name] for f in features] for name in names}, skipped
    present = set(chain.from_iterable(features))
    names = [name for name in order if name in present]
    skipped = []
    if budget is not None:
        names, skipped = within(names, budget)
    if not skipped:
        return {name: [f.get(name) for f in features] for name in names}, skipped
    # A flood: each row's values are put in place (work per value) rather than each
    # built name looked up in every row (work per built name and row).
    built: dict[str, list[Value]] = {name: [None] * len(features) for name in names}
    for row, feature_values in enumerate(features):
        for name, value in feature_values.items():
            column = built.get(name)
            if column is not None:
                column[row] = value
    return dict(built), skipped


def _present_values(features: Sequence[dict[str, Value]], names: Sequence[str]
                    ) -> dict[str, int]:
    """The non-null values of each feature of ``names`` in ``features``, by column name."""
    counts = Counter(k for f in features for k, v in f.items() if v is not None)
    return {column_name(name): counts[name] for name in names}


def _model_batch(key: tuple[str, str], events: Sequence[PredictionEvent],
                 keys: NDArray[np.uint64], order: Sequence[str],
                 budget: NameBudget | None = None) -> ModelBatch:
    times = np.fromiter((e.event_time.timestamp() for e in events), np.float64, len(events))
    columns: dict[str, NDArray[Any]] = {}
    missing: dict[str, NDArray[np.bool_]] = {}
    features = [e.features for e in events]
    by_feature, skipped = _feature_columns(features, order, budget)
    for feature, values in by_feature.items():
        name = column_name(feature)
        columns[name], missing[name] = build_column(values)
    feature_names = tuple(columns)
    for name, outputs in (("prediction", [e.prediction for e in events]),
                          ("score", [e.score for e in events])):
        columns[name], missing[name] = build_column(outputs)
    ids = np.empty(len(events), dtype=object)
    ids[:] = [e.prediction_id for e in events]
    batch = ModelBatch(key[0], key[1], times, keys, columns, missing, feature_names, ids)
    if skipped:
        present = set(chain.from_iterable(features))
        batch.skipped = _present_values(features, skipped)
        batch.order = tuple(column_name(n) for n in order if n in present)
        batch.rebuild = lambda column: build_column([f.get(feature_of(column))
                                                     for f in features])
    return batch


def to_model_batches(
    events: Sequence[PredictionEvent], positions: Sequence[tuple[int, int]],
    budgets: Budgets | None = None,
) -> dict[tuple[str, str], ModelBatch]:
    """Group events by (model_id, model_version) and build their columns (within each
    version's ``budgets``, when given)."""
    if len(events) != len(positions):
        raise ValueError(f"need one position per event, got {len(positions)} for "
                         f"{len(events)} events")
    keys = row_keys(positions)
    order = feature_order([e.features for e in events])
    groups: dict[tuple[str, str], list[int]] = {}
    for index, event in enumerate(events):
        groups.setdefault((event.model_id, event.model_version), []).append(index)
    if len(groups) == 1:
        (key,) = groups
        return {key: _model_batch(key, events, keys, order, _budget(budgets, key))}
    return {key: _model_batch(key, [events[i] for i in rows], keys[rows], order,
                              _budget(budgets, key))
            for key, rows in groups.items()}


def _budget(budgets: Budgets | None, key: tuple[str, str]) -> NameBudget | None:
    return None if budgets is None else budgets(*key)
