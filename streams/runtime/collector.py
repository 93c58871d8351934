"""Python's cyclic garbage collector, set for the worker's batches.

A fetch hands the worker up to ``ingest.max_batch`` records (10,000 by default),
each a Python object the collector tracks, alive until the batch is applied.
With the default thresholds (700, 10, 10) a batch's records outlive several
young collections, are promoted, and soon trigger full collections of the whole
heap (the worker's libraries' objects included; bench/README.md, "Figures behind
decisions in the code"), for
records that die a moment later anyway. A first generation of 50,000
allocations lets a batch die young; the older generations are collected 20 and
100 times less often than the one below them. Only reference cycles wait for
the collector (everything else is freed by reference counting), and the worker
makes few. In the bench's throughput run the collector's pauses almost vanished
(bench/README.md, "Streaming").
"""

from __future__ import annotations

import gc

THRESHOLDS = (50_000, 20, 100)


def tune_collector() -> None:
    """Set the thresholds above for this process."""
    gc.set_threshold(*THRESHOLDS)
