"""Synthetic prediction events (schema v1) for the streaming benchmark (``bench/stream.py``).

Each event has 25 features — 20 numeric (normal, lognormal, gamma, Poisson
counts, a few with about 1% nulls) and 5 categorical (5 to 400 values with
Zipf-like frequencies) — plus ``prediction`` (0/1) and ``score``, about 650
bytes of JSON. Values come from a seeded numpy generator; event times advance
at a fixed rate of event time per model, so the number of events in a time
window is known in advance. Events of several models are interleaved in time
order; each model is a Kafka key, and the model ids are chosen so that the
producer's default partitioner (murmur2, as Kafka's) puts each model on a
partition of its own.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from aiokafka.partitioner import murmur2
from numpy.typing import NDArray

from streams.transport.producer import encode_event

N_NUMERIC = 20
N_CATEGORICAL = 5
NUMERIC = tuple(f"num_{i:02d}" for i in range(N_NUMERIC))
CATEGORICAL = tuple(f"cat_{i}" for i in range(N_CATEGORICAL))
CATEGORY_COUNTS = (5, 12, 40, 100, 400)
NULL_SHARE = 0.01
BLOCK = 8_192  # events generated per numpy draw


def partition_of(key: bytes, partitions: int) -> int:
    """The partition aiokafka's (and Kafka's) default partitioner gives ``key``."""
    return int((murmur2(key) & 0x7FFFFFFF) % partitions)


def model_ids(partitions: int, prefix: str = "model") -> list[str]:
    """One model id per partition, in partition order (``model-3`` may land on partition 0)."""
    chosen: dict[int, str] = {}
    index = 0
    while len(chosen) < partitions:
        name = f"{prefix}-{index}"
        chosen.setdefault(partition_of(name.encode(), partitions), name)
        index += 1
    return [chosen[p] for p in range(partitions)]


@dataclass(frozen=True)
class Layout:
    """Where events fall in event time: ``per_second`` events a second for each model."""

    models: tuple[str, ...]
    start: float  # seconds since the epoch (UTC) of each model's first event
    per_second: float
    prediction_ids: bool = True  # without them the worker forwards nothing to the label join

    def time_of(self, index: int) -> float:
        """Event time of each model's ``index``-th event."""
        return self.start + index / self.per_second


def _features(rng: np.random.Generator, n: int) -> dict[str, list[Any]]:
    """``n`` rows of the 25 features, column by column (None for a null)."""
    columns: dict[str, list[Any]] = {}
    for i, name in enumerate(NUMERIC):
        kind = i % 4
        if kind == 0:
            values = rng.normal(50.0 + i, 10.0, n)
        elif kind == 1:
            values = rng.lognormal(3.0, 0.6, n)
        elif kind == 2:
            values = rng.gamma(2.0 + i / 10, 3.0, n)
        else:
            values = rng.poisson(4.0 + i, n).astype(np.float64)
        column: list[Any] = np.round(values, 3).tolist()
        if i % 5 == 1:
            for j in np.flatnonzero(rng.random(n) < NULL_SHARE).tolist():
                column[j] = None
        columns[name] = column
    for name, count in zip(CATEGORICAL, CATEGORY_COUNTS, strict=True):
        weights = 1.0 / np.arange(1, count + 1) ** 1.1
        codes = rng.choice(count, size=n, p=weights / weights.sum())
        labels = np.array([f"{name}_v{k}" for k in range(count)], dtype=object)
        columns[name] = labels[codes].tolist()
    return columns


def _rfc3339(seconds: NDArray[np.float64]) -> list[str]:
    stamps = np.round(seconds * 1000).astype("datetime64[ms]")
    return [f"{text}Z" for text in np.datetime_as_string(stamps, unit="ms").tolist()]


def records(layout: Layout, first: int, count: int, seed: int = 0
            ) -> Iterator[tuple[bytes, bytes]]:
    """``(key, value)`` of each model's events ``first .. first + count``, in time order.

    The ``k``-th event of every model shares one event time; models alternate.
    Events are a pure function of ``(seed, model, index)`` in blocks of ``BLOCK``.
    """
    models = layout.models
    for lo in range(first, first + count, BLOCK):
        hi = min(lo + BLOCK, first + count)
        index = np.arange(lo, hi)
        times = _rfc3339(layout.start + index / layout.per_second)
        per_model = []
        for m, model in enumerate(models):
            rng = np.random.default_rng([seed, m, lo])
            columns = _features(rng, hi - lo)
            score = np.round(rng.random(hi - lo), 4)
            per_model.append((model.encode(), columns, score.tolist(),
                              (score > 0.5).astype(np.int64).tolist()))
        for row in range(hi - lo):
            for model, (key, columns, scores, predictions) in zip(models, per_model,
                                                                   strict=True):
                event = {
                    "event_id": f"{model}-{lo + row}", "model_id": model,
                    "model_version": "1", "event_time": times[row],
                    "features": {name: values[row] for name, values in columns.items()},
                    "prediction": predictions[row], "score": scores[row],
                }
                if layout.prediction_ids:
                    event["prediction_id"] = f"{model}-p{lo + row}"
                yield key, encode_event(event)


def write_reference_csv(path: Path, rows: int, seed: int = 1) -> None:
    """A reference file with the events' columns (features, ``prediction``, ``score``)."""
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow([*NUMERIC, *CATEGORICAL, "prediction", "score"])
        for lo in range(0, rows, BLOCK):
            n = min(BLOCK, rows - lo)
            rng = np.random.default_rng([seed, lo])
            columns = _features(rng, n)
            score = np.round(rng.random(n), 4)
            columns["prediction"] = (score > 0.5).astype(np.int64).tolist()
            columns["score"] = score.tolist()
            for row in zip(*columns.values(), strict=True):
                writer.writerow(["" if v is None else v for v in row])
