"""Join benchmark: label throughput of the batched join and memory per pending prediction.

No broker and no database: the bundles the join reads from ``driftline.join`` are
built in memory (``streams.labels.bundles``, as the ingest and the label service encode
them) and run through what ``JoinService.handle`` does per fetched batch: decode each
bundle, ``JoinState.add_predictions`` / ``add_labels`` on its columns, group the
outcomes by model and encode one ``OutcomeBundle`` per model. Sending is left out.

Measures (details in ``bench/README.md``, section "Join"):

1. labels/s through the join with N predictions pending, N labels in a shuffled
   order, against a baseline in the same process: a plain ``decode_join`` of the same
   label bundles (the ratio is what to compare across machines);
2. prediction stubs/s into the join (same batches);
3. memory held by N pending predictions (100k and 1M by default), each size in a
   fresh child process: ``tracemalloc`` delta and ``VmRSS`` delta, per prediction
   and per million, and the size of the checkpoint snapshot (what
   ``JoinService.snapshot`` writes: JSON, zlib level 1) per million.

Usage: ``.venv/bin/python bench/join.py [--pending N] [--bundle-rows N] [--runs N]``
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import subprocess
import sys
import time
import tracemalloc
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from statistics import median

import numpy as np
from machine import machine

from streams.labels.bundles import (
    LabelRows,
    OutcomeBundle,
    PredictionStubs,
    decode_join,
    encode,
)
from streams.labels.join import JoinState
from streams.labels.join_service import join_records

MODELS = ("fraud", "churn", "ranking", "credit")
FETCH_ROWS = 10_000  # rows per handle call: one getmany(max_records=10000)
DECODE_PASSES = 5  # the baseline is ~20x shorter than the join: repeat it
TTL, HOLD = 7 * 86400.0, 300.0  # the defaults of labels.prediction_ttl / early_label_hold


def prediction_ids(n: int, seed: int) -> list[str]:
    """``req-`` and 16 hex digits: 20 characters, about a UUID's half."""
    values = np.random.default_rng(seed).integers(0, 2**63, n)
    return [f"req-{v:016x}" for v in values.tolist()]


def stub_bundles(ids: list[str], rows: int, seed: int) -> list[bytes]:
    """Prediction stubs as the ingest sends them: one bundle per model batch."""
    rng = np.random.default_rng(seed)
    times = (1.8e9 + np.arange(len(ids)) * 0.01).tolist()
    scores = rng.random(len(ids)).round(6).tolist()
    out = []
    for lo in range(0, len(ids), rows):
        model = MODELS[(lo // rows) % len(MODELS)]
        n = len(ids[lo:lo + rows])
        out.append(encode(PredictionStubs(
            ids[lo:lo + rows], [model] * n, ["7"] * n, times[lo:lo + rows],
            [int(s >= 0.5) for s in scores[lo:lo + rows]], scores[lo:lo + rows])))
    return out


def label_bundles(ids: list[str], rows: int, seed: int) -> list[bytes]:
    """Labels for every id, in a shuffled order, as the label service bundles them."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(ids)).tolist()
    out = []
    for lo in range(0, len(order), rows):
        part = order[lo:lo + rows]
        out.append(encode(LabelRows(
            [ids[i] for i in part], [MODELS[(i // rows) % len(MODELS)] for i in part],
            [1.8e9 + 3600 + i * 0.01 for i in part],
            rng.integers(0, 2, len(part)).tolist())))
    return out


def fetches(bundles: list[bytes], rows: int) -> Iterator[list[bytes]]:
    """The bundles grouped as one handle call would get them (about FETCH_ROWS rows)."""
    per_fetch = max(1, FETCH_ROWS // rows)
    for lo in range(0, len(bundles), per_fetch):
        yield bundles[lo:lo + per_fetch]


def handle(state: JoinState, records: list[bytes], now: float) -> list[bytes]:
    """``JoinService.handle``'s work on one fetch (``join_records``), without the sends."""
    by_model = join_records(state, list(enumerate(records)), now)
    return [encode(OutcomeBundle(0, len(records), offsets, rows))
            for _, (offsets, rows) in sorted(by_model.items())]


@dataclass
class Run:
    decode_s: float
    predictions_s: float
    labels_s: float
    joined: int


def one_run(stubs: list[bytes], labels: list[bytes], rows: int) -> Run:
    """Baseline decode (mean of DECODE_PASSES), predictions in, labels joined: each timed."""
    gc.collect()
    started = time.perf_counter()
    for _ in range(DECODE_PASSES):
        for value in labels:
            decode_join(value)
    decode_s = (time.perf_counter() - started) / DECODE_PASSES
    state = JoinState(TTL, HOLD)
    started = time.perf_counter()
    for records in fetches(stubs, rows):
        handle(state, records, 0.0)
    predictions_s = time.perf_counter() - started
    started = time.perf_counter()
    for records in fetches(labels, rows):
        handle(state, records, 0.0)
    labels_s = time.perf_counter() - started
    joined = sum(state.counters().joined.values())
    return Run(decode_s, predictions_s, labels_s, joined)


def _rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def memory_child(n: int, rows: int) -> dict[str, float]:
    """Fill a JoinState with n pending predictions; what it holds and its snapshot."""
    ids = prediction_ids(n, seed=1)
    bundles = stub_bundles(ids, rows, seed=2)
    del ids
    gc.collect()
    rss_before = _rss_kib()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    state = JoinState(TTL, HOLD)
    for records in fetches(bundles, rows):
        handle(state, records, 0.0)
    gc.collect()
    held = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    rss_after = _rss_kib()
    pending = sum(state.counters().pending_predictions.values())
    text = json.dumps(state.to_dict(), allow_nan=False).encode("utf-8")
    packed = zlib.compress(text, 1)
    return {"pending": pending, "traced": held, "rss": (rss_after - rss_before) * 1024,
            "json": len(text), "snapshot": len(packed)}


def measure_memory(n: int, rows: int) -> dict[str, float]:
    """``memory_child`` in a fresh interpreter (RSS of this process is not clean)."""
    done = subprocess.run([sys.executable, __file__, "--memory-child", str(n),
                           "--bundle-rows", str(rows)], capture_output=True, text=True,
                          check=True)
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def throughput_rows(runs: list[Run], n: int, rows: int) -> list[str]:
    decode = median(n / r.decode_s for r in runs)
    labels = [n / r.labels_s for r in runs]
    stubs = [n / r.predictions_s for r in runs]
    ratios = [r.decode_s / r.labels_s for r in runs]
    return [
        f"| plain `decode_join` of the label bundles (baseline) | {decode:,.0f} labels/s | "
        f"{min(n / r.decode_s for r in runs):,.0f}–{max(n / r.decode_s for r in runs):,.0f} |",
        f"| join, labels: decode + `add_labels` + outcome bundles, {n:,} pending, "
        f"{rows:,}-row bundles | {median(labels):,.0f} labels/s | "
        f"{min(labels):,.0f}–{max(labels):,.0f} |",
        f"| — join ÷ plain decode (same run) | {median(ratios):.1%} | "
        f"{min(ratios):.1%}–{max(ratios):.1%} |",
        f"| join, prediction stubs: decode + `add_predictions` | {median(stubs):,.0f} stubs/s | "
        f"{min(stubs):,.0f}–{max(stubs):,.0f} |",
    ]


def memory_rows(results: dict[int, dict[str, float]]) -> list[str]:
    out = []
    for n, m in results.items():
        per = {key: m[key] / m["pending"] for key in ("traced", "rss", "json", "snapshot")}
        mib = {key: value * 1e6 / 2**20 for key, value in per.items()}
        out += [
            f"| memory held, {n:,} pending, `tracemalloc` | {per['traced']:.0f} B per "
            f"prediction = {mib['traced']:.0f} MiB per million | one run |",
            f"| memory held, {n:,} pending, RSS delta | {per['rss']:.0f} B per prediction = "
            f"{mib['rss']:.0f} MiB per million | one run |",
            f"| checkpoint snapshot, {n:,} pending (JSON {mib['json']:.0f} MiB per million "
            f"before zlib) | {per['snapshot']:.0f} B per prediction = {mib['snapshot']:.0f} "
            f"MiB per million | one run |",
        ]
    return out


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Benchmark of the label join.")
    parser.add_argument("--pending", type=int, default=100_000,
                        help="predictions pending, and labels joined, per throughput run")
    parser.add_argument("--bundle-rows", type=int, default=2_500,
                        help="rows per bundle (a 10k fetch over 4 join partitions: 2,500)")
    parser.add_argument("--runs", type=int, default=5, help="throughput runs (>= 3)")
    parser.add_argument("--memory-sizes", default="100000,1000000",
                        help="pending predictions of the memory measurements")
    parser.add_argument("--memory-child", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.runs < 3 or args.pending < 1000 or args.bundle_rows < 1:
        parser.error("--runs must be >= 3, --pending >= 1000, --bundle-rows >= 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    if args.memory_child is not None:
        print(json.dumps(memory_child(args.memory_child, args.bundle_rows)))
        return 0
    started = time.monotonic()
    print(f"bench-join: {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC; {machine()}", flush=True)
    ids = prediction_ids(args.pending, seed=1)
    stubs = stub_bundles(ids, args.bundle_rows, seed=2)
    labels = label_bundles(ids, args.bundle_rows, seed=3)
    one_run(stubs, labels, args.bundle_rows)  # warm-up
    runs = [one_run(stubs, labels, args.bundle_rows) for _ in range(args.runs)]
    if any(r.joined != args.pending for r in runs):
        print("bench-join: error: not every label joined", file=sys.stderr)
        return 2
    sizes = [int(part) for part in args.memory_sizes.split(",")]
    memory = {n: measure_memory(n, args.bundle_rows) for n in sizes}
    print("\n| what | figure | runs (min–max) |\n|---|---|---|")
    print("\n".join(throughput_rows(runs, args.pending, args.bundle_rows)
                    + memory_rows(memory)))
    print(f"\nbench-join: done in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
