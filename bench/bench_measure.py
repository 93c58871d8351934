"""Measurements of the driftline side: timings, sketch-update throughput, sketch memory.

Every timing is ``time.perf_counter`` around the measured call only; whatever a
run needs first (a fresh sketch, the batches) is prepared outside the clock, and
one untimed warm-up run precedes the timed ones. Results keep every run so the
median and the spread can both be shown.
"""

from __future__ import annotations

import cProfile
import gc
import os
import pstats
import statistics
import time
import tracemalloc
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, fields, is_dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from detectors import ReferenceProfile, WindowSketch

Columns = Mapping[str, NDArray[Any]]
Batch = dict[str, NDArray[Any]]


@dataclass(frozen=True)
class Timing:
    """Seconds of each timed run."""

    runs_s: tuple[float, ...]

    @property
    def median_s(self) -> float:
        return statistics.median(self.runs_s)

    @property
    def spread(self) -> str:
        return f"{min(self.runs_s):.3f}–{max(self.runs_s):.3f} s"


def time_runs(prepare: Callable[[], Callable[[], object]], runs: int, warmup: int = 1) -> Timing:
    """Call ``prepare()`` untimed, then time the callable it returns; ``runs`` times."""
    for _ in range(warmup):
        prepare()()
    seconds: list[float] = []
    for _ in range(runs):
        work = prepare()
        gc.collect()
        start = time.perf_counter()
        work()
        seconds.append(time.perf_counter() - start)
    return Timing(tuple(seconds))


@contextmanager
def one_core() -> Iterator[str]:
    """Pin this process to one CPU while inside (Linux); yield a description of the pinning."""
    if not hasattr(os, "sched_setaffinity"):
        yield "not pinned (no sched_setaffinity on this platform)"
        return
    before = os.sched_getaffinity(0)
    cpu = min(before)
    os.sched_setaffinity(0, {cpu})
    try:
        yield f"pinned to CPU {cpu}"
    finally:
        os.sched_setaffinity(0, before)


def batches(columns: Columns, rows: int) -> list[Batch]:
    """The table cut into consecutive batches of ``rows`` rows (views, no copies)."""
    n = len(next(iter(columns.values())))
    return [{name: values[start:start + rows] for name, values in columns.items()}
            for start in range(0, n, rows)]


def feed(sketch: WindowSketch, parts: list[Batch], repeats: int = 1) -> WindowSketch:
    """Update ``sketch`` with every batch, ``repeats`` times over (rows keep counting up)."""
    for _ in range(repeats):
        for part in parts:
            sketch.update(part)
    return sketch


def time_updates(profile: ReferenceProfile, parts: list[Batch], runs: int) -> Timing:
    """Time feeding a whole window to a fresh sketch, batch by batch."""

    def prepare() -> Callable[[], object]:
        sketch = WindowSketch(profile)
        return lambda: feed(sketch, parts)

    return time_runs(prepare, runs)


@dataclass(frozen=True)
class Footprint:
    """Memory held by a sketch after a window of ``rows`` rows."""

    rows: int
    retained_bytes: int
    peak_bytes: int
    array_bytes: int


def array_bytes(root: object) -> int:
    """Bytes of every numpy array reachable from ``root`` (each array once)."""
    seen: set[int] = set()
    total = 0
    stack: list[object] = [root]
    while stack:
        item = stack.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, np.ndarray):
            total += item.nbytes
        elif isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list | tuple | set | frozenset):
            stack.extend(item)
        elif is_dataclass(item) and not isinstance(item, type):
            stack.extend(getattr(item, f.name) for f in fields(item))
        elif hasattr(item, "__dict__"):
            stack.extend(vars(item).values())
    return total


def sketch_footprint(profile: ReferenceProfile, parts: list[Batch], repeats: int) -> Footprint:
    """Memory of a sketch fed ``repeats`` passes over ``parts`` (tracemalloc and array bytes).

    ``retained_bytes`` is what tracemalloc still sees allocated once the updates
    are done and garbage is collected (the sketch is the only new live object);
    ``peak_bytes`` is the most it saw during the updates, batch temporaries included.
    """
    rows = repeats * sum(len(next(iter(p.values()))) for p in parts)
    gc.collect()
    tracemalloc.start()
    try:
        baseline = tracemalloc.get_traced_memory()[0]
        sketch = feed(WindowSketch(profile), parts, repeats)
        gc.collect()
        current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return Footprint(rows, current - baseline, peak - baseline, array_bytes(sketch))


@dataclass(frozen=True)
class ProfileLine:
    """One function of a cProfile run: its own time and its time with callees, as shares."""

    function: str
    calls: int
    own_share: float
    cumulative_share: float


def profile_call(work: Callable[[], object]) -> tuple[float, list[ProfileLine]]:
    """Run ``work`` under cProfile; return its total seconds and every function, by own time."""
    profiler = cProfile.Profile()
    profiler.enable()
    work()
    profiler.disable()
    stats = pstats.Stats(profiler)
    table: dict[tuple[str, int, str], tuple[Any, ...]] = stats.stats  # type: ignore[attr-defined]
    total = float(sum(entry[2] for entry in table.values())) or 1.0
    lines = [
        ProfileLine(_function_name(key), int(entry[1]), entry[2] / total, entry[3] / total)
        for key, entry in table.items()
    ]
    lines.sort(key=lambda line: line.own_share, reverse=True)
    return total, lines


def _function_name(key: tuple[str, int, str]) -> str:
    path, line, name = key
    if path == "~":  # a built-in or a C function
        return name
    parts = path.replace("\\", "/").split("/")
    for anchor in ("detectors", "numpy", "scipy", "bench"):
        if anchor in parts:
            parts = parts[parts.index(anchor):]
            break
    else:
        parts = parts[-1:]
    return f"{'/'.join(parts)}:{line}({name})"
