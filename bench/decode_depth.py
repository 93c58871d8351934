"""What the Arrow fast path's depth check costs: decoding with it against without it.

``streams.fastdecode._split`` counts the opening brackets of every payload and sends a
payload with more than ``MAX_DEPTH`` to the per-event decoder (deep nesting overflows
Arrow's recursive parser). This benchmark decodes typical batches of simulated
prediction events (``decode_prediction_columns``, the worker's call) with the module
as it is and with a ``_split`` built from the same source without those lines,
alternating the two in one run, and prints the throughput of each and their ratio,
for the whole decode and for ``_split`` alone.

The variant without the check is only ever given batches without deep rows (the
check is what keeps those away from Arrow); both variants must decode them alike.

Usage: ``.venv/bin/python bench/decode_depth.py [--repeats N] [--sizes 64,500,5000]``
"""

from __future__ import annotations

import argparse
import inspect
import re
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import msgspec
from machine import machine

from streams import fastdecode
from streams.events import RawMessage
from streams.settings import IngestSettings
from streams.simulator import Simulator

# The depth check in ``_split``: its comment, the bracket count and the comparison.
DEPTH_LINES = re.compile(r"\n( +)# A row with more brackets than MAX_DEPTH.*?<= MAX_DEPTH\n",
                         re.DOTALL)
NOW = datetime.now(UTC).replace(microsecond=0)
INGEST = IngestSettings()


def split_without_depth() -> Callable[..., Any]:
    """``fastdecode._split`` compiled from its source without the depth check."""
    source = inspect.getsource(fastdecode._split)
    stripped, found = DEPTH_LINES.subn("\n", source)
    if found != 1:
        raise SystemExit("decode_depth: the depth check was not found in "
                         "streams.fastdecode._split; update DEPTH_LINES")
    namespace = dict(vars(fastdecode))
    exec(compile(stripped, fastdecode.__file__, "exec"), namespace)  # fastdecode's own source
    function: Callable[..., Any] = namespace["_split"]
    return function


@contextmanager
def patched(split: Callable[..., Any] | None) -> Iterator[None]:
    """Run the block with ``split`` as ``fastdecode._split`` (None: the module's own)."""
    original = fastdecode._split
    if split is not None:
        fastdecode._split = split
    try:
        yield
    finally:
        fastdecode._split = original


def batch(size: int) -> list[RawMessage]:
    """``size`` prediction messages of three models, as the worker fetches them."""
    per_model = [Simulator(seed=7, model_id=m, start=NOW).events(None)
                 for m in ("fraud", "churn", "ltv")]
    return [RawMessage("bench.predictions", 0, i, None,
                       msgspec.json.encode(next(per_model[i % 3])))
            for i in range(size)]


def decode(messages: list[RawMessage]) -> fastdecode.DecodedColumns:
    return fastdecode.decode_prediction_columns(messages, now=NOW, ingest=INGEST)


def timed(call: Callable[[], object]) -> float:
    began = time.perf_counter()
    call()
    return time.perf_counter() - began


def compare(messages: list[RawMessage], without: Callable[..., Any], repeats: int
            ) -> dict[str, float]:
    """Median seconds per decode and per ``_split``, with and without the check."""
    with patched(without):
        plain = decode(messages)
    checked = decode(messages)
    if not (checked.columnar and plain.columnar and checked.n_events == plain.n_events
            == len(messages) and not checked.dead_letters and not plain.dead_letters):
        raise SystemExit("decode_depth: the two variants do not decode the batch alike "
                         "on the fast path")
    values: dict[str, list[float]] = {"decode": [], "decode_without": [], "split": [],
                                      "split_without": []}
    max_bytes = INGEST.max_event_bytes
    for _ in range(repeats):  # alternated, so load on the machine falls on both alike
        values["decode"].append(timed(lambda: decode(messages)))
        with patched(without):
            values["decode_without"].append(timed(lambda: decode(messages)))
        values["split"].append(timed(lambda: fastdecode._split(messages, max_bytes)))
        values["split_without"].append(timed(lambda: without(messages, max_bytes)))
    return {name: statistics.median(times) for name, times in values.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument("--sizes", default="64,500,5000",
                        help="batch sizes, comma-separated (64,500,5000)")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    if min(sizes) < fastdecode.MIN_ROWS or args.repeats < 3:
        parser.error(f"sizes must be >= {fastdecode.MIN_ROWS} (the fast path's minimum) "
                     "and --repeats >= 3")
    without = split_without_depth()
    print(f"decode-depth: {machine()}; median of {args.repeats} alternated runs\n")
    print("| batch | decode with check (events/s) | without (events/s) | ratio with/without "
          "| _split with (µs) | without (µs) | check's share of the decode |")
    print("|---|---|---|---|---|---|---|")
    for size in sizes:
        messages = batch(size)
        m = compare(messages, without, max(20, args.repeats * 64 // size))
        share = (m["split"] - m["split_without"]) / m["decode"]
        print(f"| {size} | {size / m['decode']:,.0f} | {size / m['decode_without']:,.0f} | "
              f"{m['decode_without'] / m['decode']:.3f} | {m['split'] * 1e6:.0f} | "
              f"{m['split_without'] * 1e6:.0f} | {share:.1%} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
