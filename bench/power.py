"""Power and false-alarm benchmark of per-feature drift verdicts (``make bench-power``).

One feature at a time, a reference against one window, many seeded trials per
scenario and size (``power_peers/scenarios.py``): the share of trials each
method flags. For the null scenarios that share is the false-flag rate per
window; for the shifts that should be flagged it is the power; for the small
shifts that should stay calm it is how often the method bothers anyone.

Methods, each with its default settings: driftline's verdict with the default
``DriftPolicy`` (``power_driftline.py``, in this process), and as subprocesses
in venvs of their own (made by ``bench/setup-peer.sh <peer>`` when missing):
Evidently's ``DataDriftPreset``, NannyML's ``UnivariateDriftCalculator`` and
Alibi Detect's ``TabularDrift`` (``power_peers/<peer>_power.py``). A peer that
cannot be installed or fails is reported as such and the others go on.

A last driftline column judges a stream rather than one window: the share of
trials whose change is flagged within 3 windows of 1,000 rows by the default
policy, which pools small windows (``power_windows.py``); ``--no-within``
leaves it out.

``--verdict NAME=package.module:attribute`` adds a driftline column for another
verdict: the attribute is a ``DriftPolicy`` or a callable
``(reference, window, kind) -> bool``.

Usage: ``.venv/bin/python bench/power.py [--quick] [--trials N] [--only M ...]
[--verdict NAME=mod:attr] [--json FILE]``
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.metadata
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH / "power_peers"))

from machine import machine  # noqa: E402
from peer import run_cells  # noqa: E402
from power_driftline import Verdict, as_flagger, load_verdict, verdict_for  # noqa: E402
from power_windows import WINDOW_ROWS, WITHIN, flagged_within  # noqa: E402
from scenarios import SCENARIOS, Scenario, checksum, draw  # noqa: E402

from detectors import DriftPolicy  # noqa: E402

PEER_TIMEOUT_S = 4 * 3600  # a peer still running then is stopped; its finished cells count
REFERENCE_ROWS = 10_000
LARGE_REFERENCE_ROWS = 100_000
WINDOWS = (100, 1_000, 10_000, 100_000, 1_000_000)
LARGE_WINDOWS = (100_000, 1_000_000)  # also judged against the 100,000-row reference
# Trials per window size: the default run, and --quick (which leaves out 1,000,000 rows).
TRIALS = {100: 100, 1_000: 100, 10_000: 50, 100_000: 20, 1_000_000: 6}
QUICK_TRIALS = {100: 30, 1_000: 30, 10_000: 20, 100_000: 6}
STARTED: list[subprocess.Popen[str]] = []  # the peer processes, stopped on SIGTERM or Ctrl-C


@dataclass(frozen=True)
class Peer:
    """A method run as a subprocess in ``bench/.venv-<name>``."""

    name: str
    label: str

    @property
    def venv(self) -> Path:
        return BENCH / f".venv-{self.name}"

    @property
    def script(self) -> Path:
        return BENCH / "power_peers" / f"{self.name}_power.py"


PEERS = (
    Peer("evidently", "Evidently"),
    Peer("nannyml", "NannyML"),
    Peer("alibi", "Alibi Detect"),
)


@dataclass
class Column:
    """One method's results: per cell key, the result line; or why it has none."""

    label: str
    about: dict[str, Any] = field(default_factory=dict)
    cells: dict[tuple[str, int, int], dict[str, Any]] = field(default_factory=dict)
    error: str | None = None
    seconds: float = 0.0
    partial: bool = False  # a column of some cells only: the others show "—"


def plan(trials: dict[int, int], fixed: int | None,
         windows: Sequence[int] | None = None) -> list[dict[str, Any]]:
    """Every (scenario, reference rows, window rows, trials) cell of the run."""
    wanted = [w for w in (windows or WINDOWS) if fixed or w in trials]
    sizes = [(REFERENCE_ROWS, w) for w in WINDOWS if w in wanted]
    sizes += [(LARGE_REFERENCE_ROWS, w) for w in LARGE_WINDOWS if w in wanted]
    return [{"scenario": s.name, "reference_rows": r, "window_rows": w,
             "trials": fixed or trials.get(w) or TRIALS[w]} for s in SCENARIOS for r, w in sizes]


def key(cell: dict[str, Any]) -> tuple[str, int, int]:
    return str(cell["scenario"]), int(cell["reference_rows"]), int(cell["window_rows"])


def run_driftline(label: str, verdict: Verdict, cells: list[dict[str, Any]]) -> Column:
    column = Column(label, about={"method": label, "python": sys.version.split()[0],
                                  "versions": {name: importlib.metadata.version(name)
                                               for name in ("numpy", "scipy")}})
    began = time.perf_counter()
    for result in run_cells(as_flagger(verdict), cells):
        column.cells[key(result)] = result
        _progress(label, result)
    column.seconds = time.perf_counter() - began
    return column


def run_within(cells: list[dict[str, Any]]) -> Column:
    """driftline's default verdict on a stream: flagged within 3 windows of 1,000 rows
    (``power_windows.py``), for the cells of that size against the 10,000-row reference."""
    column = Column(f"driftline budget, within {WITHIN} windows", partial=True)
    began = time.perf_counter()
    policy = DriftPolicy()
    for cell in cells:
        if cell["window_rows"] != WINDOW_ROWS or cell["reference_rows"] != REFERENCE_ROWS:
            continue
        scenario: Scenario = next(s for s in SCENARIOS if s.name == cell["scenario"])
        cpu = time.process_time()
        flagged = sum(flagged_within(scenario, t, policy) for t in range(cell["trials"]))
        result = {**cell, "flagged": flagged, "seconds": time.perf_counter() - began,
                  "cpu_seconds": time.process_time() - cpu}
        column.cells[key(result)] = result
        _progress(column.label, result)
    column.seconds = time.perf_counter() - began
    return column


def ensure_venv(peer: Peer) -> str | None:
    """Make the peer's venv if it is missing; why it cannot be used, or None."""
    if (peer.venv / ".installed").exists():
        return None
    print(f"power: creating bench/.venv-{peer.name} (bench/setup-peer.sh {peer.name}) ...",
          flush=True)
    done = subprocess.run(["bash", str(BENCH / "setup-peer.sh"), peer.name], check=False,
                          capture_output=True, text=True)
    if done.returncode != 0:
        lines = [line for line in (done.stderr or done.stdout).strip().splitlines()
                 if not line.startswith("WARNING: Location")]
        return f"setup-peer.sh {peer.name} failed (exit {done.returncode}): " + (
            " | ".join(lines[-3:]) or "no output")
    return None


def _lines(process: subprocess.Popen[str]) -> Iterator[dict[str, Any]]:
    assert process.stdout is not None
    for line in process.stdout:
        if line.startswith("{"):
            yield json.loads(line)


def run_peer(peer: Peer, cells: list[dict[str, Any]]) -> Column:
    column = Column(peer.label)
    problem = ensure_venv(peer)
    if problem:
        column.error = problem
        return column
    env = {**os.environ, "DO_NOT_TRACK": "1", "NML_DISABLE_USAGE_LOGGING": "1"}
    began = time.perf_counter()
    # stderr goes to a file: a pipe nobody reads until the end could fill and block the peer.
    with tempfile.TemporaryFile("w+") as errors, subprocess.Popen(
        [str(peer.venv / "bin" / "python"), str(peer.script)], stdin=subprocess.PIPE,
        stdout=subprocess.PIPE, stderr=errors, text=True, env=env,
    ) as process:
        STARTED.append(process)
        assert process.stdin is not None
        process.stdin.write(json.dumps({"cells": cells}))
        process.stdin.close()
        for result in _lines(process):
            if "about" in result:
                column.about = result["about"]
                continue
            column.cells[key(result)] = result
            _progress(peer.label, result)
            if time.perf_counter() - began > PEER_TIMEOUT_S:
                process.kill()
                column.error = f"stopped after {PEER_TIMEOUT_S} s"
                break
        code = process.wait()
        errors.seek(0)
        stderr = errors.read()
    column.seconds = time.perf_counter() - began
    if code != 0 and column.error is None:
        tail = " | ".join(stderr.strip().splitlines()[-3:])
        column.error = f"{peer.script.name} failed (exit {code}): {tail or 'no output'}"
    return column


def _progress(label: str, result: dict[str, Any]) -> None:
    what = (f"{result['flagged']}/{result['trials']} flagged in {result['seconds']:.1f} s "
            f"({result['cpu_seconds']:.1f} s CPU)"
            if "error" not in result else f"error: {result['error']}")
    print(f"power: {label:<24} {result['scenario']:<15} ref {result['reference_rows']:>7,} "
          f"window {result['window_rows']:>9,}: {what}", file=sys.stderr, flush=True)


def check_data(columns: Sequence[Column], cells: list[dict[str, Any]]) -> list[str]:
    """Cells where a side drew other data than this process (other numpy streams)."""
    problems = []
    for cell in cells:
        expected = checksum(*draw(cell["scenario"], cell["reference_rows"],
                                  cell["window_rows"], 0))
        for column in columns:
            got = column.cells.get(key(cell), {}).get("checksum")
            if got is not None and abs(got - expected) > 1e-6 * max(1.0, abs(expected)):
                problems.append(f"{column.label}: {key(cell)} drew other data")
    return problems


EXPECT_TITLES = {
    "null": "No change: false-flag rate per window (lower is better)",
    "flag": "Shifts that should be flagged: power (higher is better)",
    "calm": "Shifts too small to matter: flag rate (lower is better)",
}


def _share(column: Column, cell: dict[str, Any]) -> str:
    result = column.cells.get(key(cell))
    if result is None:
        return "—" if column.partial else "not run"
    if "error" in result:
        return "error"
    share = f"{100.0 * result['flagged'] / result['trials']:.0f}%"
    return share + ("‡" if _degenerate(result) else "")


def _degenerate(result: dict[str, Any]) -> bool:
    """NannyML's threshold learnt from a single reference chunk (marked ‡)."""
    return any(" 1 reference chunk" in note or " 0 reference chunk" in note
               for note in result.get("notes", {}))


def tables(columns: Sequence[Column], cells: list[dict[str, Any]]) -> str:
    header = ("| scenario | reference | window | trials | "
              + " | ".join(c.label for c in columns) + " |")
    rule = "|---|---:|---:|---:|" + "---:|" * len(columns)
    out = []
    for expect, title in EXPECT_TITLES.items():
        out += [f"**{title}**", "", header, rule]
        for scenario in (s for s in SCENARIOS if s.expect == expect):
            for cell in (c for c in cells if c["scenario"] == scenario.name):
                out.append(f"| {scenario.name} | {cell['reference_rows']:,} | "
                           f"{cell['window_rows']:,} | {cell['trials']} | "
                           + " | ".join(_share(c, cell) for c in columns) + " |")
        out.append("")
    return "\n".join(out)


def notes(columns: Sequence[Column]) -> str:
    """Versions, run time, errors and what each peer chose (its notes), per method."""
    out = []
    for column in columns:
        versions = ", ".join(f"{k} {v}" for k, v in column.about.get("versions", {}).items())
        cpu = sum(r.get("cpu_seconds", 0.0) for r in column.cells.values())
        line = f"- {column.label}: {column.seconds:.0f} s ({cpu:.0f} s CPU in the method)"
        if versions:
            line += f"; {versions}; Python {column.about.get('python', '?')}"
        if column.error:
            line += f"; NOT RUN: {column.error}"
        out.append(line)
        failed = [f"{k}: {r['error']}" for k, r in column.cells.items() if "error" in r]
        out += [f"  - error in {f}" for f in failed[:5]]
        chosen: dict[str, set[str]] = {}
        for (scenario, ref, win), result in column.cells.items():
            for text in result.get("notes", {}):
                chosen.setdefault(text, set()).add(f"{scenario}@{ref:,}/{win:,}")
        for text, where in sorted(chosen.items()):
            windows = sorted({w.split("/")[1] for w in where},
                             key=lambda size: int(size.replace(",", "")))
            out.append(f"  - {text}: windows of {', '.join(windows)} rows ({len(where)} cells)")
    return "\n".join(out)


def _stop_peers(signum: int, _frame: object) -> None:
    for process in STARTED:
        if process.poll() is None:
            process.kill()
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true",
                        help="fewer trials, no 1,000,000-row windows (a few minutes)")
    parser.add_argument("--trials", type=int, help="the same number of trials for every cell")
    parser.add_argument("--windows", type=int, nargs="+", choices=WINDOWS, metavar="ROWS",
                        help=f"only these window sizes (of {', '.join(map(str, WINDOWS))})")
    parser.add_argument("--only", nargs="+", metavar="METHOD",
                        help="run only these: driftline and/or evidently, nannyml, alibi")
    parser.add_argument("--verdict", action="append", default=[], metavar="NAME=MOD:ATTR",
                        help="another driftline verdict as a column (a DriftPolicy or a "
                             "callable (reference, window, kind) -> bool)")
    parser.add_argument("--no-within", action="store_true",
                        help="leave out the column of flags within 3 windows of 1,000 rows")
    parser.add_argument("--json", type=Path, help="also write every result to this file")
    parser.add_argument("--serial", action="store_true",
                        help="run the peers one after the other instead of side by side")
    args = parser.parse_args(argv)
    if args.trials is not None and args.trials < 1:
        parser.error("--trials must be at least 1")
    known = {"driftline", *(p.name for p in PEERS)}
    if args.only and not set(args.only) <= known:
        parser.error(f"--only takes {', '.join(sorted(known))}")
    verdicts: list[tuple[str, Verdict]] = [("driftline (default policy)",
                                            verdict_for(DriftPolicy()))]
    for spec in args.verdict:
        name, _, target = spec.partition("=")
        if not name or not target:
            parser.error(f"--verdict {spec!r}: expected NAME=package.module:attribute")
        verdicts.append((name, load_verdict(target)))
    signal.signal(signal.SIGTERM, _stop_peers)
    signal.signal(signal.SIGINT, _stop_peers)
    cells = plan(QUICK_TRIALS if args.quick else TRIALS, args.trials, args.windows)
    started = dt.datetime.now(dt.UTC)
    peers = [p for p in PEERS if not args.only or p.name in args.only]
    # Each peer is a process of its own: they run at the same time as driftline's
    # columns (here), each on one core at a time; --serial runs one after the other.
    with ThreadPoolExecutor(max_workers=1 if args.serial else max(1, len(peers))) as pool:
        running = [pool.submit(run_peer, peer, cells) for peer in peers]
        columns: list[Column] = []
        if not args.only or "driftline" in args.only:
            columns += [run_driftline(label, verdict, cells) for label, verdict in verdicts]
            if not args.no_within:
                columns.append(run_within(cells))
        columns += [future.result() for future in running]
    problems = check_data(columns, cells)
    command = " ".join([".venv/bin/python bench/power.py",
                        *(argv if argv is not None else sys.argv[1:])])
    print(f"\nMachine: {machine()}. Run of {started:%Y-%m-%d %H:%M} UTC, command `{command}`.\n")
    print(tables(columns, cells))
    print(notes(columns))
    for problem in problems:
        print(f"DATA MISMATCH: {problem}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(
            [{"label": c.label, "about": c.about, "error": c.error, "seconds": c.seconds,
              "cells": list(c.cells.values())} for c in columns], indent=1))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
