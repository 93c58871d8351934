"""What the Arrow fast path's depth check costs: decoding with it against without it.

``streams.decoding.fastdecode._split`` counts the opening brackets of every payload and sends a
payload with more than ``MAX_DEPTH`` to the per-event decoder (deep nesting overflows
Arrow's recursive parser). This benchmark decodes typical batches of simulated
prediction events (``decode_prediction_columns``, the worker's call) with the module
as it is and with a ``_split`` built from the same source without those lines,
alternating the two in one run, and prints the throughput of each and their ratio,
and the time of ``_split`` alone. A third variant counts the same brackets through
their positions (``np.flatnonzero``, then two ``searchsorted`` per batch) instead of
summing a 64-bit count over every byte of the batch (``np.add.reduceat``); it must
cut a batch with deep, empty and bracketed rows exactly as the module does.

The process's malloc and Arrow's memory pool are set as the worker sets them
(``streams.runtime.memory.configure``): with glibc's mmap threshold fixed at 256 KiB, every
array of a batch that size or larger is a fresh mapping, faulted in page by page.

The variant without the check is only ever given batches without deep rows (the
check is what keeps those away from Arrow); all variants must decode them alike.

Usage: ``.venv/bin/python bench/decode_depth.py [--repeats N] [--sizes 64,500,5000]``
"""

from __future__ import annotations

import argparse
import inspect
import os
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

from streams.config.settings import IngestSettings
from streams.decoding import fastdecode
from streams.decoding.events import RawMessage
from streams.devtools.simulator import Simulator
from streams.runtime import memory

# The depth check in ``_split``: its comment, the bracket count and the comparison.
DEPTH_LINES = re.compile(r"\n( +)# A row with more brackets than MAX_DEPTH.*?<= MAX_DEPTH\n",
                         re.DOTALL)
# The same check counting through the brackets' positions, not a sum over every byte.
BY_POSITIONS = """
{indent}at = np.flatnonzero((buffer == 0x7B) | (buffer == 0x5B))
{indent}plain &= np.searchsorted(at, ends) - np.searchsorted(at, starts) <= MAX_DEPTH
"""
NOW = datetime.now(UTC).replace(microsecond=0)
INGEST = IngestSettings()
Split = Callable[..., Any]


def split_variant(replace: Callable[[re.Match[str]], str]) -> Split:
    """``fastdecode._split`` compiled from its source with the depth check replaced."""
    source = inspect.getsource(fastdecode._split)
    changed, found = DEPTH_LINES.subn(replace, source)
    if found != 1:
        raise SystemExit("decode_depth: the depth check was not found in "
                         "streams.decoding.fastdecode._split; update DEPTH_LINES")
    namespace = dict(vars(fastdecode))
    exec(compile(changed, fastdecode.__file__, "exec"), namespace)  # fastdecode's own source
    function: Split = namespace["_split"]
    return function


def variants() -> dict[str, Split | None]:
    """The module as it is (None), without the check, and counting by positions."""
    return {"as is": None,
            "without": split_variant(lambda m: "\n"),
            "positions": split_variant(lambda m: BY_POSITIONS.format(indent=m.group(1)))}


@contextmanager
def patched(split: Split | None) -> Iterator[None]:
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


def same_split(messages: list[RawMessage], split: Split) -> bool:
    """Whether ``split`` cuts ``messages`` as ``fastdecode._split`` does."""
    return bool(split(messages, INGEST.max_event_bytes)
                == fastdecode._split(messages, INGEST.max_event_bytes))


def deep_batch(size: int) -> list[RawMessage]:
    """``batch(size)`` with a deep, an empty and a shallow-but-bracketed row in every ten."""
    messages = batch(size)
    for i in range(0, size, 10):
        value = [b"[" * 40 + b"1" + b"]" * 40, b"", b'{"a": [[], [], []]}'][i // 10 % 3]
        messages[i] = RawMessage("bench.predictions", 0, i, None, value)
    return messages


def compare(messages: list[RawMessage], splits: dict[str, Split | None], repeats: int
            ) -> dict[tuple[str, str], float]:
    """Median seconds per decode and per ``_split`` of each variant, alternated."""
    reference = decode(messages)
    for name, split in splits.items():
        with patched(split):
            decoded = decode(messages)
        if not (decoded.columnar and decoded.n_events == reference.n_events == len(messages)
                and not decoded.dead_letters):
            raise SystemExit(f"decode_depth: {name} does not decode the batch on the fast "
                             "path as the module does")
    times: dict[tuple[str, str], list[float]] = {}
    max_bytes = INGEST.max_event_bytes
    for _ in range(repeats):  # alternated, so load on the machine falls on all alike
        for name, split in splits.items():
            with patched(split):
                times.setdefault((name, "decode"), []).append(timed(lambda: decode(messages)))
                times.setdefault((name, "split"), []).append(
                    timed(lambda: fastdecode._split(messages, max_bytes)))
    return {key: statistics.median(values) for key, values in times.items()}


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
    memory.configure(os.environ)  # the worker's malloc and Arrow pool, as in its process
    splits = variants()
    positions = splits["positions"]
    assert positions is not None
    if not all(same_split(m, positions) for m in (batch(500), deep_batch(500))):
        raise SystemExit("decode_depth: counting by positions cuts a batch differently")
    print(f"decode-depth: {machine()}; medians of alternated runs ({args.repeats} for 64 "
          "messages, fewer for larger batches, at least 20)\n")
    print("| batch | decode with check (events/s) | without (events/s) | ratio with/without "
          "| `_split` with / without (µs) | check's cost: share of the decode "
          "| counting by positions: `_split` (µs), decode ratio to without |")
    print("|---|---|---|---|---|---|---|")
    for size in sizes:
        m = compare(batch(size), splits, max(20, args.repeats * 64 // size))
        print(f"| {size} | {size / m['as is', 'decode']:,.0f} | "
              f"{size / m['without', 'decode']:,.0f} | "
              f"{m['without', 'decode'] / m['as is', 'decode']:.3f} | "
              f"{m['as is', 'split'] * 1e6:,.0f} / {m['without', 'split'] * 1e6:,.0f} | "
              f"{(m['as is', 'split'] - m['without', 'split']) / m['as is', 'decode']:.1%} | "
              f"{m['positions', 'split'] * 1e6:,.0f}, "
              f"{m['without', 'decode'] / m['positions', 'decode']:.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
