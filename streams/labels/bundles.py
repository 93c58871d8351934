"""The internal topics' messages: whole batches ("bundles"), not one message per event.

A producer here sends messages at a rate far below the ingest's (bench/README.md,
"Figures behind decisions in the code"), so the join's internal traffic travels in
bundles, one Kafka message per batch and target partition:

- ``driftline.join`` (partitioned by ``prediction_id``): ``PredictionStubs`` from
  the ingest (id, model, version, event time, prediction, score: what a label
  needs, not the features; for a model with count windows also the start of the
  window each prediction went to, ``windows``) and ``LabelRows`` from the label consumer. Both sides
  pick the partition with ``join_partition`` (CRC-32 of the id), so a label and
  its prediction meet in one partition whatever partitioner the model servers'
  clients use on their own topics.
- ``driftline.outcomes`` (key = model_id): ``OutcomeBundle``, the outcomes one
  batch of the join produced for one model, with the join-topic offset each came
  from and the offset the batch covers up to, so the outcome consumer can drop a
  bundle replayed after a crash of the join (see ``streams.outcomes``).

Messages are JSON (msgspec), readable with any Kafka tool.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Sequence
from typing import Any

import msgspec
import numpy as np
from numpy.typing import NDArray

from streams.labels.join import LabelColumns, Outcome, PredictionColumns

Value = float | int | str | bool | None


class PredictionStubs(msgspec.Struct, tag="predictions", gc=False):
    ids: list[str]
    models: list[str]
    versions: list[str]
    times: list[float]
    predictions: list[Value]
    scores: list[float | None]
    windows: list[float] | None = None  # count windows: the start of each one's window

    def columns(self) -> PredictionColumns:
        return PredictionColumns(
            self.ids, self.models, self.versions, np.array(self.times, np.float64),
            self.predictions,
            np.array([math.nan if s is None else s for s in self.scores], np.float64),
            None if self.windows is None else np.array(self.windows, np.float64))


class LabelRows(msgspec.Struct, tag="labels", gc=False):
    ids: list[str]
    models: list[str]
    times: list[float]
    labels: list[Value]

    def columns(self) -> LabelColumns:
        return LabelColumns(self.ids, self.models, np.array(self.times, np.float64),
                            self.labels)


JoinBundle = PredictionStubs | LabelRows


class OutcomeBundle(msgspec.Struct, gc=False):
    source_partition: int
    covered_to: int  # every join-topic offset below this has been processed
    offsets: list[int]  # the join-topic offset each outcome came from
    outcomes: list[Outcome]


_JOIN_DECODER = msgspec.json.Decoder(JoinBundle)
_OUTCOME_DECODER = msgspec.json.Decoder(OutcomeBundle)
_ENCODER = msgspec.json.Encoder()


def encode(bundle: PredictionStubs | LabelRows | OutcomeBundle) -> bytes:
    return _ENCODER.encode(bundle)


def decode_join(data: bytes) -> JoinBundle:
    """Raises ``msgspec.DecodeError`` on a message that is not a bundle."""
    bundle: JoinBundle = _JOIN_DECODER.decode(data)
    return bundle


def decode_outcomes(data: bytes) -> OutcomeBundle:
    return _OUTCOME_DECODER.decode(data)


def join_partition(prediction_id: str, partitions: int) -> int:
    """The partition of ``driftline.join`` a prediction id belongs to."""
    return zlib.crc32(prediction_id.encode("utf-8")) % partitions


def _value(item: Any) -> Value:
    if isinstance(item, float) and math.isnan(item):
        return None
    return item  # type: ignore[no-any-return]


def split_predictions(ids: NDArray[Any], model_id: str, version: str,
                      times: NDArray[np.float64], predictions: NDArray[Any],
                      scores: NDArray[Any], partitions: int,
                      windows: NDArray[np.float64] | None = None) -> dict[int, PredictionStubs]:
    """Stubs of the rows that have a prediction id, grouped by join partition.

    Partitions come in the order of their first row, rows in their order; a NaN
    prediction is None, and so is a score that is not a finite float. ``windows``
    (count windows) is the start of each row's window, carried in the stubs. The ids are
    hashed (``join_partition``) through C-level maps and the columns split with
    numpy, with no Python step per row.
    """
    out: dict[int, PredictionStubs] = {}
    has_id = np.flatnonzero(ids != None)  # noqa: E711
    if not has_id.size:
        return out
    present = ids[has_id]
    part = np.fromiter(map(zlib.crc32, map(str.encode, present.tolist())), np.int64,
                       has_id.size) % partitions
    order = np.argsort(part, kind="stable")  # by partition, rows in order within one
    grouped = part[order]
    starts = np.flatnonzero(np.concatenate([[True], grouped[1:] != grouped[:-1]]))
    ends = np.append(starts[1:], order.size)
    when, predicted, scored = times[has_id], _values(predictions[has_id]), _scores(scores[has_id])
    starts_of = None if windows is None else windows[has_id]
    for k in np.argsort(order[starts]).tolist():  # partitions by their first row
        rows = order[starts[k]:ends[k]]
        out[int(grouped[starts[k]])] = PredictionStubs(
            present[rows].tolist(), [model_id] * rows.size, [version] * rows.size,
            when[rows].tolist(), predicted[rows].tolist(), scored[rows].tolist(),
            None if starts_of is None else starts_of[rows].tolist())
    return out


def _objects(items: list[Any]) -> NDArray[np.object_]:
    array = np.empty(len(items), dtype=object)
    array[:] = items
    return array


def _values(column: NDArray[Any]) -> NDArray[np.object_]:
    """The column as Python values, a float NaN as None (``_value``)."""
    if column.dtype == np.float64:
        values = column.astype(object)
        values[np.isnan(column)] = None
        return values
    return _objects([_value(item) for item in column.tolist()])


def _scores(column: NDArray[Any]) -> NDArray[np.object_]:
    """The column as Python floats, None where not a finite float."""
    if column.dtype == np.float64:
        values = column.astype(object)
        values[~np.isfinite(column)] = None
        return values
    return _objects([s if isinstance(s, float) and math.isfinite(s) else None
                     for s in column.tolist()])


def split_labels(ids: Sequence[str], models: Sequence[str], times: Sequence[float],
                 labels: Sequence[Value], partitions: int) -> dict[int, LabelRows]:
    """Label rows grouped by join partition, in their order."""
    out: dict[int, LabelRows] = {}
    for pid, m, t, label in zip(ids, models, times, labels, strict=True):
        part = join_partition(pid, partitions)
        rows = out.get(part)
        if rows is None:
            rows = out[part] = LabelRows([], [], [], [])
        rows.ids.append(pid)
        rows.models.append(m)
        rows.times.append(t)
        rows.labels.append(label)
    return out
