"""The internal topics' messages: whole batches ("bundles"), not one message per event.

A producer here sends about 20k messages/s (DESIGN.md), far below the ingest
rate, so the join's internal traffic travels in bundles, one Kafka message per
batch and target partition:

- ``driftline.join`` (partitioned by ``prediction_id``): ``PredictionStubs`` from
  the ingest (id, model, version, event time, prediction, score: what a label
  needs, not the features) and ``LabelRows`` from the label consumer. Both sides
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

from streams.join import LabelColumns, Outcome, PredictionColumns

Value = float | int | str | bool | None


class PredictionStubs(msgspec.Struct, tag="predictions", gc=False):
    ids: list[str]
    models: list[str]
    versions: list[str]
    times: list[float]
    predictions: list[Value]
    scores: list[float | None]

    def columns(self) -> PredictionColumns:
        return PredictionColumns(
            self.ids, self.models, self.versions, np.array(self.times, np.float64),
            self.predictions,
            np.array([math.nan if s is None else s for s in self.scores], np.float64))


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
                      scores: NDArray[Any], partitions: int) -> dict[int, PredictionStubs]:
    """Stubs of the rows that have a prediction id, grouped by join partition."""
    out: dict[int, PredictionStubs] = {}
    has_id = np.flatnonzero(ids != None)  # noqa: E711
    if not has_id.size:
        return out
    score_values = scores[has_id].tolist()
    for pid, t, p, s in zip(ids[has_id].tolist(), times[has_id].tolist(),
                            predictions[has_id].tolist(), score_values, strict=True):
        part = join_partition(pid, partitions)
        stubs = out.get(part)
        if stubs is None:
            stubs = out[part] = PredictionStubs([], [], [], [], [], [])
        stubs.ids.append(pid)
        stubs.models.append(model_id)
        stubs.versions.append(version)
        stubs.times.append(t)
        stubs.predictions.append(_value(p))
        stubs.scores.append(s if isinstance(s, float) and math.isfinite(s) else None)
    return out


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
