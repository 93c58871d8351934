"""Benchmark of ``detectors/`` against Evidently's ``DataDriftPreset`` (``make bench``).

Same synthetic data on both sides (``bench/bench_data.py``): a 100k-row
reference and a 100k-row window, 20 numeric and 5 categorical features, 5 of
them shifted. driftline is measured in this process; Evidently in its own venv
(``bench/.venv-evidently``, made by ``bench/setup-peer.sh evidently`` when missing)
through ``bench/evidently_side.py``. Prints a markdown table with the targets.

Usage: ``.venv/bin/python bench/run.py [--runs N] [--evidently-runs N]
[--skip-evidently] [--profile] [--check]``
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from bench_data import Dataset, ensure_data, load
from bench_measure import (
    Footprint,
    Timing,
    batches,
    feed,
    one_core,
    profile_call,
    sketch_footprint,
    time_runs,
    time_updates,
)
from machine import machine

import detectors
from detectors import WindowSketch, build_profile, compare, evaluate

BENCH = Path(__file__).resolve().parent
EVIDENTLY_VENV = BENCH / ".venv-evidently"
EVIDENTLY_TIMEOUT_S = 3600

SPEEDUP_TARGET = 50.0
THROUGHPUT_TARGET = 5e6  # feature-rows per second on one core
MEMORY_BOUND = 2.0  # a full sample plus a compaction buffer of the same size
UPDATE_BATCHES = (1_000, 10_000)
MEMORY_ROWS = (100_000, 1_000_000)


@dataclass(frozen=True)
class Driftline:
    pinning: str
    finalise: Timing
    compare: Timing
    updates: dict[int, Timing]
    memory: tuple[Footprint, Footprint]
    drifted: tuple[str, ...]


def measure_driftline(data: Dataset, runs: int) -> Driftline:
    profile = build_profile(data.reference, data.kinds)
    update_parts = {rows: batches(data.current, rows) for rows in UPDATE_BATCHES}
    window = update_parts[UPDATE_BATCHES[-1]]

    def fed_sketch() -> Callable[[], object]:
        sketch = feed(WindowSketch(profile), window)
        return lambda: evaluate(profile, sketch)

    # Unpinned like the Evidently process (neither side uses more than one thread here);
    # the throughput target is per core, so the updates run pinned to one CPU.
    finalise = time_runs(fed_sketch, runs)
    whole = time_runs(lambda: lambda: compare(data.reference, data.current, data.kinds), runs)
    with one_core() as pinning:
        updates = {rows: time_updates(profile, parts, runs) for rows, parts in update_parts.items()}
    n_window = len(next(iter(data.current.values())))
    small, large = (sketch_footprint(profile, window, rows // n_window) for rows in MEMORY_ROWS)
    report = compare(data.reference, data.current, data.kinds)
    drifted = tuple(f.name for f in report.features if f.drifted)
    return Driftline(pinning, finalise, whole, updates, (small, large), drifted)


def ensure_evidently() -> str | None:
    """Make the Evidently venv if it is missing; return why it cannot be used, or None."""
    if (EVIDENTLY_VENV / ".installed").exists():
        return None
    print("bench: creating bench/.venv-evidently (bench/setup-peer.sh evidently) ...", flush=True)
    done = subprocess.run(["bash", str(BENCH / "setup-peer.sh"), "evidently"], check=False,
                          capture_output=True, text=True)
    if done.returncode != 0:
        tail = " | ".join((done.stderr or done.stdout).strip().splitlines()[-3:])
        return f"setup-peer.sh evidently failed (exit {done.returncode}): {tail or 'no output'}"
    return None


def measure_evidently(data_dir: Path, runs: int) -> dict[str, Any]:
    """Run ``evidently_side.py`` in its venv; its JSON, or ``{"error": why}``."""
    problem = ensure_evidently()
    if problem:
        return {"error": problem}
    python = EVIDENTLY_VENV / "bin" / "python"
    command = [str(python), str(BENCH / "evidently_side.py"), str(data_dir), "--runs", str(runs)]
    env = {**os.environ, "DO_NOT_TRACK": "1"}
    try:
        done = subprocess.run(command, check=False, capture_output=True, text=True, env=env,
                              timeout=EVIDENTLY_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return {"error": f"evidently_side.py ran longer than {EVIDENTLY_TIMEOUT_S} s"}
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        tail = " | ".join(done.stderr.strip().splitlines()[-3:])
        return {"error": f"evidently_side.py failed (exit {done.returncode}): "
                         f"{tail or 'no output'}"}
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def _seconds(timing: Timing) -> str:
    return f"{timing.median_s:.3f} s"


def results_table(
    ours: Driftline, theirs: dict[str, Any], n_features: int, n_rows: int
) -> tuple[str, list[bool]]:
    """The markdown table of figures, ratios and PASS/FAIL, and each target's outcome."""
    rows = ["| what | figure | runs (min–max) | target | result |", "|---|---|---|---|---|"]
    outcomes: list[bool] = []
    ev_s: float | None = theirs.get("median_total_s")
    if ev_s is not None:
        spread = f"{min(theirs['total_s']):.1f}–{max(theirs['total_s']):.1f} s"
        rows.append(f"| Evidently {theirs['evidently_version']} `DataDriftPreset`, one window "
                    f"(column mapping + report) | {ev_s:.2f} s | {spread} | | |")
        rows.append(f"| — of which `Report.run` | {theirs['median_report_s']:.2f} s | | | |")
    else:
        rows.append(f"| Evidently `DataDriftPreset` | not measured: {theirs['error']} | | | |")
    for label, timing in (("driftline finalise (`evaluate` on a fed sketch)", ours.finalise),
                          ("driftline whole compare (profile + sketch + evaluate)", ours.compare)):
        rows.append(f"| {label} | {_seconds(timing)} | {timing.spread} | | |")
        if ev_s is None:
            rows.append(f"| — Evidently ÷ this | not measured | | ≥ {SPEEDUP_TARGET:.0f}× | n/a |")
            outcomes.append(False)
            continue
        ratio = ev_s / timing.median_s
        outcomes.append(ratio >= SPEEDUP_TARGET)
        rows.append(f"| — Evidently ÷ this | {ratio:.1f}× | | ≥ {SPEEDUP_TARGET:.0f}× "
                    f"| {_verdict(outcomes[-1])} |")
    for batch, timing in ours.updates.items():
        rate = n_features * n_rows / timing.median_s
        outcomes.append(rate >= THROUGHPUT_TARGET)
        rows.append(f"| sketch updates, {batch:,}-row batches, one core | "
                    f"{rate / 1e6:.2f} M feature-rows/s ({_seconds(timing)} per window) | "
                    f"{timing.spread} | ≥ {THROUGHPUT_TARGET / 1e6:.0f} M | "
                    f"{_verdict(outcomes[-1])} |")
    small, large = ours.memory
    ratio = large.retained_bytes / small.retained_bytes
    outcomes.append(ratio <= MEMORY_BOUND)
    rows.append(f"| sketch memory after {large.rows:,} vs {small.rows:,} rows "
                f"(tracemalloc, retained) | {large.retained_bytes / 2**20:.1f} vs "
                f"{small.retained_bytes / 2**20:.1f} MiB = {ratio:.2f}× for "
                f"{large.rows // small.rows}× the rows (peak while updating "
                f"{large.peak_bytes / 2**20:.0f} vs {small.peak_bytes / 2**20:.0f} MiB) | one run "
                f"| ≤ {MEMORY_BOUND:.0f}× (bounded) | {_verdict(outcomes[-1])} |")
    return "\n".join(rows), outcomes


def print_profiles(data: Dataset, top: int = 12) -> None:
    """cProfile of finalisation, of a window of 10k-row updates and of the whole compare."""
    profile = build_profile(data.reference, data.kinds)
    window = batches(data.current, UPDATE_BATCHES[-1])
    sketch = feed(WindowSketch(profile), window)
    cases: list[tuple[str, Callable[[], object]]] = [
        ("finalise: evaluate(profile, sketch)", lambda: evaluate(profile, sketch)),
        ("sketch updates: one window in 10k-row batches",
         lambda: feed(WindowSketch(profile), window)),
        ("whole compare", lambda: compare(data.reference, data.current, data.kinds)),
    ]
    for title, work in cases:
        total, lines = profile_call(work)
        print(f"\n### cProfile — {title} ({total:.3f} s under the profiler)\n")
        print("| function | calls | own time | with callees |\n|---|---|---|---|")
        ours = [ln for ln in lines if ln.function.startswith("detectors/")]
        ours.sort(key=lambda ln: ln.cumulative_share, reverse=True)
        shown = lines[:top] + [ln for ln in ours[:top] if ln not in lines[:top]]
        for line in shown:
            print(f"| `{line.function}` | {line.calls:,} | {line.own_share:.1%} "
                  f"| {line.cumulative_share:.1%} |")


def machine_line() -> str:
    return f"{machine()}, numpy {np.__version__}"




def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Benchmark detectors/ against Evidently.")
    parser.add_argument("--runs", type=int, default=7, help="timed runs per driftline figure")
    parser.add_argument("--evidently-runs", type=int, default=5, help="timed Evidently runs")
    parser.add_argument("--skip-evidently", action="store_true", help="driftline figures only")
    parser.add_argument("--profile", action="store_true", help="print cProfile tables always")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    if args.runs < 3 or args.evidently_runs < 3:
        parser.error("medians need at least 3 runs: --runs and --evidently-runs must be >= 3")

    data_dir = ensure_data()
    data = load(data_dir)
    n_rows = len(next(iter(data.current.values())))
    print(f"bench: {dt.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}; {machine_line()}")
    print(f"bench: data {data_dir} ({n_rows:,} + {n_rows:,} rows, {data.n_features} features, "
          f"shifted {', '.join(data.shifted)}); driftline from {Path(detectors.__file__).parent}")
    ours = measure_driftline(data, args.runs)
    small, large = ours.memory
    print(f"bench: driftline measured (updates {ours.pinning}); "
          f"drifted: {', '.join(ours.drifted)}; "
          f"sketch arrays (sum of nbytes) {large.array_bytes / 2**20:.1f} MiB after "
          f"{large.rows:,} rows vs {small.array_bytes / 2**20:.1f} MiB after {small.rows:,}")
    if args.skip_evidently:
        theirs: dict[str, Any] = {"error": "skipped (--skip-evidently)"}
    else:
        print("bench: running Evidently (about 20 s a run) ...", flush=True)
        theirs = measure_evidently(data_dir, args.evidently_runs)
    if "error" in theirs:
        print(f"bench: Evidently not measured: {theirs['error']}")
    else:
        print(f"bench: Evidently {theirs['evidently_version']} (pandas "
              f"{theirs['pandas_version']}), {theirs['runs']} runs after "
              f"{theirs['warmup']} warm-up; drifted {theirs['n_drifted']}: "
              f"{', '.join(theirs['drifted_columns'])}")
    print()
    table, outcomes = results_table(ours, theirs, data.n_features, n_rows)
    print(table)
    met = all(outcomes)
    if args.profile or not met:
        print_profiles(data)
    return 1 if args.check and not met else 0


if __name__ == "__main__":
    sys.exit(main())
