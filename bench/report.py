"""How long ``driftline report`` takes for 100 features, from two files and from the store.

- files: a 20,000-row reference and a 20,000-row current CSV of 100 features (75
  numeric, 25 categorical with 10 values), four of them shifted. Timed: the whole
  command in a fresh process (``driftline report --reference --current``, interpreter
  start and imports included) beside ``driftline compare`` of the same files
  (median of ``--command-runs`` each, alternated; the ratio is what the page adds:
  target at most 1.2×), and in this process the comparison
  (``run_compare``: read, profile, sketch, evaluate) and the page alone
  (``from_compare`` + ``render``, target under 1 s), median of ``--runs``.
- store: one model version with 100 features and ``--windows`` 5-minute windows of
  500 events in SQLite (``streams.devtools.report_data``). Timed: reading the
  range and writing the page (``from_store`` + ``render``, target under 1 s), median
  of ``--runs``.

Prints a markdown table with the page sizes. Run:
``.venv/bin/python bench/report.py [--runs N] [--command-runs N] [--windows N]``
(``make bench-report``).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
from machine import machine

from store import make_engine
from streams.batch.compare import CompareRequest, run_compare
from streams.devtools.report_data import fill
from streams.report.files import from_compare
from streams.report.page import render
from streams.report.stored import from_store

FEATURES = 100
T = TypeVar("T")
ROWS = 20_000
TARGET_SECONDS = 1.0
TARGET_RATIO = 1.2


def _table(seed: int, shift: float) -> pa.Table:
    rng = np.random.default_rng(seed)
    columns: dict[str, object] = {}
    for i in range(FEATURES):
        moved = shift if i % 25 == 0 else 0.0
        if i % 4 == 3:
            p = np.linspace(2.0, 1.0, 10) + moved * np.arange(10) / 10
            columns[f"c{i:03d}"] = rng.choice(list("abcdefghij"), ROWS, p=p / p.sum())
        else:
            columns[f"x{i:03d}"] = rng.normal(moved, 1.0, ROWS)
    return pa.table(columns)


def _median(runs: int, work: Callable[[], T]) -> tuple[float, T]:
    """The median seconds of ``runs`` calls, and the last call's result."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        result = work()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def _command(args: list[str]) -> float:
    """Seconds of one ``driftline`` command in a fresh process (output thrown away)."""
    started = time.perf_counter()
    subprocess.run([str(Path(sys.executable).parent / "driftline"), *args], check=True,
                   stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--command-runs", type=int, default=3)
    parser.add_argument("--windows", type=int, default=96)
    args = parser.parse_args()
    print(machine())
    with tempfile.TemporaryDirectory(prefix="driftline-bench-report-") as name:
        tmp = Path(name)
        pacsv.write_csv(_table(1, 0.0), tmp / "reference.csv")
        pacsv.write_csv(_table(2, 0.5), tmp / "current.csv")
        files = [str(tmp / "reference.csv"), str(tmp / "current.csv")]
        commands: dict[str, list[float]] = {"report": [], "compare": []}
        for _ in range(args.command_runs):  # alternated, so both see the same load
            commands["report"].append(_command([
                "report", "--reference", files[0], "--current", files[1], "--out",
                str(tmp / "cli.html")]))
            commands["compare"].append(_command(["compare", *files, "--format", "json"]))
        command, plain = (statistics.median(commands[k]) for k in ("report", "compare"))
        request = CompareRequest(tmp / "reference.csv", tmp / "current.csv")
        compared, result = _median(args.runs, lambda: run_compare(request))
        drawn, page = _median(args.runs, lambda: render(from_compare(result)))
        engine = make_engine(f"sqlite:///{tmp / 'store.db'}")
        fill(engine, n_features=FEATURES - 1, n_windows=args.windows, rows=500,
             reference_rows=10_000)

        def stored() -> str:
            with engine.connect() as conn:
                return render(from_store(conn, "fraud", "1"))

        read_drawn, stored_page = _median(args.runs, stored)
        engine.dispose()
    runs = f"median of {args.runs}"
    whole = f"median of {args.command_runs}"
    rows = [
        ("`driftline report`, two files, whole command (fresh process)", f"{command:.3f} s",
         whole, "", ""),
        ("`driftline compare --format json`, the same files (fresh process)",
         f"{plain:.3f} s", whole, "", ""),
        ("— report ÷ compare", f"{command / plain:.2f}×", "", f"≤ {TARGET_RATIO}×",
         _verdict(command / plain <= TARGET_RATIO)),
        ("in process: the comparison (read, profile, sketch, evaluate)", f"{compared:.3f} s",
         runs, "", ""),
        ("in process: the page (`from_compare` + `render`)", f"{drawn:.3f} s", runs,
         f"< {TARGET_SECONDS:.0f} s", _verdict(drawn < TARGET_SECONDS)),
        (f"in process: stored windows ({args.windows}), the range read + the page",
         f"{read_drawn:.3f} s", runs, f"< {TARGET_SECONDS:.0f} s",
         _verdict(read_drawn < TARGET_SECONDS)),
    ]
    print(f"\n{FEATURES} features, {ROWS:,} rows a file; pages of "
          f"{len(page) / 1e6:.2f} MB (files) and {len(stored_page) / 1e6:.2f} MB "
          f"(store)\n")
    print("| what | figure | runs | target | result |\n|---|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


def _verdict(passed: bool) -> str:
    return "PASS" if passed else "FAIL"


if __name__ == "__main__":
    main()
