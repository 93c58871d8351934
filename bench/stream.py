"""Streaming benchmark: the worker on the embedded broker with SQLite, in one run.

Measures (details in ``bench/README.md``, section "Streaming"):

1. raw consume rate: a raw aiokafka consumer group reading pre-produced events;
2. end-to-end worker rate on the same events, and its ratio to the raw rate;
3. window-close latency: the worker's close-duration histogram, and, measured
   from outside, trigger event produced -> window row in SQLite;
4. worker RSS with windows of 10k, 100k and 1M events, without and with a
   reference stored beforehand.

Prints a markdown table with PASS/FAIL per target; when a target is missed (or
with ``--profile``) the ingest pipeline is also run in this process stage by
stage (``bench/stream_profile.py``) to show where the time goes.

Usage: ``.venv/bin/python bench/stream.py [--runs N] [--events N] [--profile] [--check]``
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import sys
import time
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from machine import machine
from stream_measure import Rate, add_histograms, histogram_quantile, median, run_bench
from stream_phases import (
    E2E_WINDOW_S,
    GRACE_S,
    PARTITIONS,
    Footprint,
    Latency,
    Throughput,
    live_latency,
    memory,
    throughput,
)
from stream_profile import close_functions, profile_stages, stages_table

from streams.devtools.broker import EmbeddedBroker, free_port

RATIO_TARGET = 0.70
LATENCY_TARGET_S = 1.0
MEMORY_TARGET = 1.10


_STARTED = time.monotonic()


def _say(message: str) -> None:
    print(f"bench-stream [{time.monotonic() - _STARTED:4.0f} s]: {message}", flush=True)


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def _spread(rates: Iterable[Rate]) -> str:
    values = [r.per_second for r in rates]
    return f"{len(values)} runs: {min(values):,.0f}–{max(values):,.0f}"


def _who(workers: int) -> str:
    return "worker" if workers == 1 else f"{workers} worker processes in one group"


def _cpu_pair(rates: list[Rate]) -> str:
    consumer, broker = (median(r.cpu_per_event(who) for r in rates)
                        for who in ("consumer", "broker"))
    return f"{consumer:.1f} / {broker:.1f} µs"


def _cpu_spread(rates: list[Rate]) -> str:
    values = [r.cpu_per_event("consumer") for r in rates]
    return f"{len(values)} runs: {min(values):.1f}–{max(values):.1f} µs"


def _quantiles(buckets: dict[float, float]) -> tuple[str, float | None]:
    """'p50 / p99' of a histogram (linear inside buckets) and the p99 in seconds."""
    p50, p99 = (histogram_quantile(q, buckets) for q in (0.5, 0.99))
    if p50 is None or p99 is None:
        return "no window closed", None
    top = max(b for b in buckets if b != float("inf"))
    shown = [f"> {top:g} s" if v >= top and buckets[float("inf")] > buckets[top]
             else f"{v:.2f} s" for v in (p50, p99)]
    return " / ".join(shown), p99


def throughput_rows(result: Throughput) -> tuple[list[str], list[bool]]:
    raw = median(r.per_second for r in result.raw)
    e2e = median(r.per_second for r in result.e2e)
    ratio = e2e / raw
    closed = median(result.windows_closed)
    checkpoints = median(result.checkpoints)
    rows = [
        f"| raw aiokafka consumer group, `getmany(max_records=10000)`, {result.events:,} "
        f"events of about {result.event_bytes:.0f} bytes | {raw:,.0f} events/s | "
        f"{_spread(result.raw)} | | |",
        f"| driftline {_who(result.workers)} end to end ({PARTITIONS} models, "
        f"{E2E_WINDOW_S} s windows of "
        f"{result.events_per_window:,} events per model; {closed:.0f} windows closed and "
        f"{checkpoints:.0f} partition checkpoints per run) | {e2e:,.0f} events/s | "
        f"{_spread(result.e2e)} | | |",
        f"| — worker ÷ raw | {ratio:.0%} | | ≥ {RATIO_TARGET:.0%} | "
        f"{_verdict(ratio >= RATIO_TARGET)} |",
        f"| CPU per event over the timed span, raw run: consumer (the bench process) / "
        f"broker | {_cpu_pair(result.raw)} | {_cpu_spread(result.raw)} | | |",
        f"| CPU per event over the timed span, worker run: {_who(result.workers)} (all "
        f"threads) / broker | {_cpu_pair(result.e2e)} | {_cpu_spread(result.e2e)} | | |",
    ]
    return rows, [ratio >= RATIO_TARGET]


def latency_rows(result: Latency, e2e_closes: dict[float, float]
                 ) -> tuple[list[str], list[bool]]:
    rows: list[str] = []
    outcomes: list[bool] = []
    for label, buckets in (("live phase", result.closes), ("throughput runs", e2e_closes)):
        if not buckets:  # the throughput phase did not run
            continue
        shown, p99 = _quantiles(buckets)
        n = buckets.get(float("inf"), 0.0)
        ok = p99 is not None and p99 <= LATENCY_TARGET_S
        outcomes.append(ok)
        rows.append(f"| window close, worker histogram `driftline_window_close_duration_"
                    f"seconds`, {label} ({n:.0f} windows): p50 / p99 | {shown} | | "
                    f"p99 ≤ {LATENCY_TARGET_S:g} s | {_verdict(ok)} |")
    p50, p99 = (float(v) for v in np.percentile(result.seconds, [50, 99]))
    ok = p99 <= LATENCY_TARGET_S
    outcomes.append(ok)
    rows.append(f"| window close, due-making event produced → window row in SQLite "
                f"({result.windows} windows of {result.events_per_window:,} events): "
                f"p50 / p99 | {p50:.2f} s / {p99:.2f} s | min {min(result.seconds):.2f} s, "
                f"max {max(result.seconds):.2f} s | p99 ≤ {LATENCY_TARGET_S:g} s | "
                f"{_verdict(ok)} |")
    return rows, outcomes


def memory_rows(footprints: list[Footprint]) -> tuple[list[str], list[bool]]:
    rows: list[str] = []
    outcomes: list[bool] = []
    for with_reference in (False, True):
        case = [f for f in footprints if f.reference == with_reference]
        if not case:
            continue
        base = case[0]
        what = ("reference set beforehand" if with_reference
                else "no reference (the window keeps a row sample)")
        for f in case:
            ratio = f.rss_kib / base.rss_kib
            target, verdict = "", ""
            if f is not base:
                outcomes.append(ratio <= MEMORY_TARGET)
                target = f"≤ {MEMORY_TARGET:.2f}× of {base.window:,}"
                verdict = _verdict(outcomes[-1])
            state = "" if f.open_windows == 1 and f.closed == 0 else (
                f" (open {f.open_windows:.0f}, closed {f.closed:.0f})")
            arrays = ", ".join(f"{part} {size / 2**20:.0f}"
                               for part, size in f.state_bytes.items() if size)
            rows.append(f"| worker RSS, {f.window:,}-event window, {what}{state} | "
                        f"{f.rss_kib / 1024:.0f} MiB ({ratio:.2f}×) | peak "
                        f"{f.hwm_kib / 1024:.0f} MiB; window arrays (MiB): {arrays} "
                        f"| {target} | {verdict} |")
    return rows, outcomes




def breakdown_table(footprints: list[Footprint]) -> str:
    """The memory probe's readings (``bench/memprobe``), one row per worker."""
    rows = ["| window | reference | RSS | anonymous | file-backed | malloc in use | malloc free "
            "in the heap | malloc mmapped blocks | Python small-object arenas | Arrow pool "
            "(peak) | threads | RSS after `malloc_trim` |", "|---" * 12 + "|"]
    for f in footprints:
        b = f.breakdown
        if b is None:
            continue
        mib = {k: v / 2**20 for k, v in b.items() if isinstance(v, int)}
        rows.append(f"| {f.window:,} | {'set' if f.reference else 'none'} | {mib['VmRSS']:.0f} | "
                    f"{mib['RssAnon']:.0f} | {mib['RssFile']:.0f} | {mib['malloc_in_use']:.0f} | "
                    f"{mib['malloc_free']:.0f} | {mib['malloc_mmapped']:.0f} | "
                    f"{mib['small_object_arenas']:.0f} | {mib.get('arrow_allocated', 0):.0f} "
                    f"({mib.get('arrow_peak', 0):.0f}) | {b['threads']} | "
                    f"{mib['rss_after_trim']:.0f} |")
    return "\n".join(rows)


def _sizes(text: str) -> tuple[int, ...]:
    sizes = tuple(int(part) for part in text.split(","))
    if not sizes or min(sizes) < 2:
        raise argparse.ArgumentTypeError(f"sizes must be integers >= 2, got {text!r}")
    return sizes


PHASES = ("throughput", "latency", "memory")


def _phases(text: str) -> tuple[str, ...]:
    phases = tuple(part.strip() for part in text.split(",") if part.strip())
    unknown = sorted(set(phases) - set(PHASES))
    if not phases or unknown:
        raise argparse.ArgumentTypeError(f"phases must be among {', '.join(PHASES)}, "
                                         f"got {text!r}")
    return phases


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Streaming benchmark of the driftline worker.")
    parser.add_argument("--events", type=int, default=300_000,
                        help="events pre-produced for the raw and end-to-end runs")
    parser.add_argument("--events-per-window", type=int, default=25_000,
                        help="events per model in each 60 s window of the end-to-end runs")
    parser.add_argument("--runs", type=int, default=3, help="raw and end-to-end runs (>= 3)")
    parser.add_argument("--workers", type=int, default=1,
                        help="worker processes sharing the group in the throughput phase "
                             "(the target is for one)")
    parser.add_argument("--live-windows", type=int, default=20,
                        help="windows timed from trigger to SQL row")
    parser.add_argument("--live-window-events", type=int, default=20_000,
                        help="events per window in the live phase (a multiple of 1000)")
    parser.add_argument("--memory-sizes", type=_sizes, default=(10_000, 100_000, 1_000_000),
                        help="window sizes (events) of the memory phase, comma-separated")
    parser.add_argument("--phases", type=_phases, default=PHASES,
                        help="phases to run, comma-separated, of: " + ", ".join(PHASES))
    parser.add_argument("--memory-breakdown", action="store_true",
                        help="load bench/memprobe in the memory phase's workers and show where "
                             "their resident memory is (malloc, Python arenas, Arrow)")
    parser.add_argument("--profile", action="store_true",
                        help="run the in-process stage profile even when every target passes")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    if args.runs < 3:
        parser.error("medians need at least 3 runs: --runs must be >= 3")
    if args.workers < 1:
        parser.error(f"--workers must be >= 1, got {args.workers}")
    if args.events < 10_000 * PARTITIONS or args.live_windows < 1:
        parser.error("--events must be >= 40000 and --live-windows >= 1")
    return args


def run(args: argparse.Namespace, workdir: Path) -> bool:
    phases = set(args.phases)
    with EmbeddedBroker(port=free_port()) as broker:
        _say(f"embedded broker at {broker.bootstrap}; work directory {workdir}")
        flow = latency = None
        rows = ["| what | figure | runs / spread | target | result |", "|---|---|---|---|---|"]
        outcomes: list[bool] = []
        if "throughput" in phases:
            flow = throughput(broker, workdir, args.events, args.events_per_window, args.runs,
                              _say, args.workers)
            part, met = throughput_rows(flow)
            rows, outcomes = rows + part, outcomes + met
        if "latency" in phases:
            latency = live_latency(broker, workdir, args.live_windows,
                                   args.live_window_events, _say)
            part, met = latency_rows(latency, add_histograms(flow.closes) if flow else {})
            rows, outcomes = rows + part, outcomes + met
        if "memory" in phases:
            footprints = memory(broker, workdir, args.memory_sizes, _say,
                                args.memory_breakdown)
            part, met = memory_rows(footprints)
            rows, outcomes = rows + part, outcomes + met
            if args.memory_breakdown:
                print("\n### Where the memory phase's workers hold memory (MiB)\n")
                print(breakdown_table(footprints))
        if latency is not None:
            print(f"\nidle worker RSS (live phase, before any event): "
                  f"{latency.idle_rss_kib / 1024:.0f} MiB; producing the trigger event took "
                  f"{median(latency.acks) * 1000:.1f} ms (median, to the broker's ack)\n")
        print("\n".join(rows))
        if flow is not None and (args.profile or not all(outcomes)):
            assert flow.layout is not None
            _say("profiling the ingest pipeline in this process (same records) ...")
            window = f"{{size: {E2E_WINDOW_S}s, grace: {GRACE_S}s, idle_timeout: 10m}}"
            stages = asyncio.run(profile_stages(
                broker.bootstrap, broker.url, workdir, flow.topic, window, flow.events,
                PARTITIONS))
            print(f"\n### Where the worker's time goes ({stages.events:,} events, "
                  f"{stages.windows_closed} windows closed in {stages.close_stores} stores, "
                  f"{stages.checkpoint_stores} checkpoint-only stores)\n")
            print(stages_table(stages))
            print("\nWindow finalisation (the extra calls above) under cProfile, by own time:\n")
            print(close_functions(stages))
        return all(outcomes)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    started = time.monotonic()
    _say(f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC; {machine()}")
    return run_bench("bench-stream", lambda workdir: run(args, workdir), check=args.check,
                     stopped="workers and broker", say=_say, started=started)


if __name__ == "__main__":
    sys.exit(main())
