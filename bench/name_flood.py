"""Decode time of a feature-name flood batch: the full decode against the budgeted one.

A batch of ``--events`` events, each with ``amount`` and ``--names`` feature names
no other event has (``events x names`` distinct names), is decoded twice per round
and trimmed to a fresh ``FeatureCap`` (``ingest.max_features_per_model``, 1,000):

- full: as the ingest decoded before the budget (Arrow's parse tried first, then
  the per-event decoder building a column for every name), then ``FeatureCap.admit``;
- budgeted: ``decode_prediction_columns`` with the cap's ``NameBudget``, then
  ``FeatureCap.admit``.

Both results are compared (columns, missing masks, admitted names, dropped values)
before the times are. A batch without a flood (``--plain``: 10,000 events of 25
features) is timed the same way, to show what the budget costs a usual batch.
Prints the median seconds of each and their ratio. Run:
``.venv/bin/python bench/name_flood.py [--events N] [--names N] [--rounds N]``
(``make bench-name-flood``).
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import numpy as np
from prometheus_client import CollectorRegistry

from streams.config.settings import IngestSettings
from streams.decoding.columns import ModelBatch, NameBudget, to_model_batches
from streams.decoding.events import RawMessage, decode_predictions, limits_for
from streams.decoding.fastdecode import _columnar, decode_prediction_columns
from streams.ingest.feature_cap import FeatureCap
from streams.runtime.metrics import Metrics

NOW = datetime.now(UTC)
INGEST = IngestSettings()
LIMIT = INGEST.max_features_per_model


def messages(events: int, names: int, plain: int = 0) -> list[RawMessage]:
    """``events`` events with ``names`` names of their own each (``plain`` shared ones)."""
    out = []
    for i in range(events):
        features = {"amount": float(i), **{f"f{i}_{j}": float(j) for j in range(names)},
                    **{f"x{j}": float(i * j % 97) for j in range(plain)}}
        event = {"event_id": f"e{i}", "model_id": "m", "features": features,
                 "event_time": (NOW - timedelta(seconds=events - i)).isoformat(),
                 "prediction": i % 2, "score": 0.5}
        out.append(RawMessage("p", 0, i, None, json.dumps(event).encode(), 1))
    return out


def full(batch: list[RawMessage], cap: FeatureCap) -> dict[tuple[str, str], ModelBatch]:
    """The decode without a budget (Arrow's parse tried first), then the cap."""
    decoded = _columnar(batch, limits_for(NOW, INGEST, None), NOW, INGEST, None)
    if decoded is None:
        events = decode_predictions(batch, now=NOW, ingest=INGEST)
        batches = to_model_batches(events.events, events.positions)
    else:
        batches = decoded.batches
    metrics = Metrics(CollectorRegistry())
    return {k: cap.admit(b, metrics) for k, b in batches.items()}


def budgeted(batch: list[RawMessage], cap: FeatureCap) -> dict[tuple[str, str], ModelBatch]:
    """The ingest's decode within the cap's budget, then the cap."""
    decoded = decode_prediction_columns(
        batch, now=NOW, ingest=INGEST,
        budgets=lambda m, v: NameBudget(cap.names, cap.limit - len(cap.names)))
    metrics = Metrics(CollectorRegistry())
    return {k: cap.admit(b, metrics) for k, b in decoded.batches.items()}


Decode = Callable[[list[RawMessage], FeatureCap], dict[tuple[str, str], ModelBatch]]


def timed(decode: Decode, batch: list[RawMessage]
          ) -> tuple[float, dict[tuple[str, str], ModelBatch], FeatureCap]:
    cap = FeatureCap(LIMIT)
    started = time.perf_counter()
    result = decode(batch, cap)
    return time.perf_counter() - started, result, cap


def same(a: tuple[float, dict[tuple[str, str], ModelBatch], FeatureCap],
         b: tuple[float, dict[tuple[str, str], ModelBatch], FeatureCap]) -> None:
    """Fail unless both decodes gave the same columns, admitted names and dropped values."""
    checks = [a[2].names == b[2].names, a[2].dropped == b[2].dropped, list(a[1]) == list(b[1])]
    for key, x in a[1].items():
        y = b[1][key]
        checks += [x.feature_names == y.feature_names, list(x.columns) == list(y.columns)]
        checks += [x.columns[n].dtype == y.columns[n].dtype
                   and np.array_equal(x.columns[n], y.columns[n], equal_nan=True)
                   and np.array_equal(x.missing[n], y.missing[n]) for n in x.columns]
    if not all(checks):
        raise SystemExit("the budgeted decode differs from the full one")


def compare(label: str, batch: list[RawMessage], rounds: int) -> None:
    times: dict[str, list[float]] = {"full": [], "budgeted": []}
    for _ in range(rounds):
        a, b = timed(full, batch), timed(budgeted, batch)
        same(a, b)
        times["full"].append(a[0])
        times["budgeted"].append(b[0])
        dropped = a[2].dropped
    before, after = statistics.median(times["full"]), statistics.median(times["budgeted"])
    print(f"{label}: full {before:.3f} s, budgeted {after:.3f} s (medians of {rounds}); "
          f"budgeted/full {after / before:.4f}; {dropped} values dropped by the cap")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=500)
    parser.add_argument("--names", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--plain-events", type=int, default=10_000)
    args = parser.parse_args()
    logging.getLogger("streams.ingest.feature_cap").setLevel(logging.ERROR)  # a line per decode
    flood = messages(args.events, args.names)
    compare(f"flood, {args.events} events x {args.names} new names "
            f"({args.events * args.names + 1} distinct)", flood, args.rounds)
    plain = messages(args.plain_events, 0, plain=24)
    compare(f"plain, {args.plain_events} events x 25 names", plain, args.rounds)


if __name__ == "__main__":
    main()
