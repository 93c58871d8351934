"""Champion against challenger: false decisions and power of the always-valid test.

Simulates many runs of two versions serving traffic side by side, a look after
every window, and reports for ``detectors.versions.sequential.SequentialTest``
(the mSPRT, alpha 0.05):

* **A/A runs** (identical versions): the share of runs in which any decision
  ("challenger_better" or "challenger_worse") is ever made, by look 10, 100 and
  the last, with its Clopper–Pearson 95 % interval. The promise is at most
  alpha, at every horizon.
* The same runs judged as dashboards usually do: a fixed-sample two-sided test
  at alpha repeated at every look, on all the data so far (**naive cumulative**:
  a z-test of two proportions, or Welch's z for losses) or on the window alone
  (**naive per window**). Both inflate the false-decision rate with the number
  of looks: each look is another chance.
* **Power** runs (the challenger worse or better by a few accuracy points, or
  a loss shift): the share decided in the right and in the wrong direction, and
  the windows to the decision (median and 90th percentile of the decided runs).

Windows of 0/1 correctness are simulated as binomial counts per window
(``Moments.of_counts`` is exact for them); losses are drawn row by row
(lognormal, like absolute errors) and summarised per window with numpy, then
given to the test as ``Moments``: the test sees exactly what ``update`` would
compute from the rows.

Usage: ``.venv/bin/python bench/sequential.py [--runs N] [--looks N] [--quick]``
(``make bench-sequential``; the defaults take a few minutes on 2 cores).
"""

from __future__ import annotations

import argparse
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import stats as sps

from detectors.versions.moments import Moments
from detectors.versions.sequential import SequentialTest, Window

ALPHA = 0.05
ROWS = 1_000  # per side per window


@dataclass
class Outcome:
    """Per run: the decision, the look that made it (0 if none), and the naive tests' first
    rejecting looks (0 if none)."""

    decision: list[str]
    decided_at: NDArray[np.int64]
    naive_cumulative: NDArray[np.int64]
    naive_window: NDArray[np.int64]


def _first_true(hit: NDArray[np.bool_]) -> NDArray[np.int64]:
    """1-based index of the first True per row, 0 when none."""
    first = np.argmax(hit, axis=1) + 1
    return np.where(hit.any(axis=1), first, 0).astype(np.int64)


Z = float(sps.norm.ppf(1 - ALPHA / 2))


def _naive(mean_a: NDArray[np.float64], var_a: NDArray[np.float64], n_a: NDArray[np.float64],
           mean_b: NDArray[np.float64], var_b: NDArray[np.float64], n_b: NDArray[np.float64],
           ) -> NDArray[np.int64]:
    se = np.sqrt(var_a / n_a + var_b / n_b)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(se > 0, (mean_b - mean_a) / se, 0.0)
    return _first_true(np.abs(z) >= Z)


def accuracy_runs(p_champion: float, p_challenger: float, runs: int, looks: int, seed: int,
                  mde: float = 0.02, rows: int = ROWS, min_n: int = 1_000) -> Outcome:
    rng = np.random.default_rng(seed)
    ka = rng.binomial(rows, p_champion, size=(runs, looks))
    kb = rng.binomial(rows, p_challenger, size=(runs, looks))
    decisions: list[str] = []
    decided_at = np.zeros(runs, dtype=np.int64)
    for run in range(runs):
        test = SequentialTest("accuracy", mde=mde, alpha=ALPHA, min_n=min_n)
        for look in range(looks):
            test.look(Window(Moments.of_counts(int(ka[run, look]), rows),
                             Moments.of_counts(int(kb[run, look]), rows)))
            if test.stopped:
                break
        result = test.decision()
        decisions.append(result.decision)
        decided_at[run] = result.decided_at or 0
    n = rows * np.arange(1, looks + 1, dtype=np.float64)
    a, b = np.cumsum(ka, axis=1) / n, np.cumsum(kb, axis=1) / n
    wa, wb = ka / rows, kb / rows
    return Outcome(decisions, decided_at,
                   _naive(a, a * (1 - a), n, b, b * (1 - b), n),
                   _naive(wa, wa * (1 - wa), np.full_like(wa, rows), wb, wb * (1 - wb),
                          np.full_like(wb, rows)))


Draw = Callable[[np.random.Generator, tuple[int, int]], NDArray[np.float64]]


def _lognormal(rng: np.random.Generator, shape: tuple[int, int]) -> NDArray[np.float64]:
    return rng.lognormal(-1.0, 1.0, shape)


def loss_runs(runs: int, looks: int, seed: int, *, paired: bool, shift: float = 0.0,
              mde: float = 0.05, rows: int = ROWS, draw: Draw = _lognormal,
              min_n: int = 1_000) -> Outcome:
    """Per-row losses drawn a look at a time for all runs at once, summarised per window.

    Drawing stops once every run has decided (power runs); the naive tests then see the
    looks drawn so far.
    """
    rng = np.random.default_rng(seed)
    tests = [SequentialTest("loss", mde=mde, alpha=ALPHA, paired=paired, min_n=min_n)
             for _ in range(runs)]
    stats = np.zeros((6, runs, looks))  # mean, m2 per side, then of the difference
    for look in range(looks):
        a = draw(rng, (runs, rows))
        if paired:  # the same requests: shared difficulty, each version's own noise
            b = a + rng.normal(0.0, 0.3, (runs, rows)) + shift
            a = a + rng.normal(0.0, 0.3, (runs, rows))
        else:
            b = draw(rng, (runs, rows)) + shift
        d = b - a
        for index, values in enumerate((a, b, d)):
            mean = values.mean(axis=1)
            stats[2 * index, :, look] = mean
            stats[2 * index + 1, :, look] = np.square(values - mean[:, None]).sum(axis=1)
        for run, test in enumerate(tests):
            if test.stopped:
                continue
            side = [Moments(rows, float(stats[2 * i, run, look]),
                            float(stats[2 * i + 1, run, look])) for i in range(3)]
            test.look(Window(side[0], side[1], side[2] if paired else None))
        if all(test.stopped for test in tests):
            looks = look + 1
            stats = stats[:, :, :looks]
            break
    results = [test.decision() for test in tests]
    # naive tests from the cumulative moments (equal rows per window: pooled means and M2)
    n = rows * np.arange(1, looks + 1, dtype=np.float64)
    cumulative = []
    for index in range(3):
        mean_w, m2_w = stats[2 * index], stats[2 * index + 1]
        mean = np.cumsum(mean_w, axis=1) / np.arange(1, looks + 1)
        m2 = np.cumsum(m2_w + rows * np.square(mean_w), axis=1) - n * np.square(mean)
        cumulative.append((mean, m2 / (n - 1), mean_w, m2_w / (rows - 1)))
    window_n = np.full((runs, looks), float(rows))
    if paired:
        mean, var, mean_w, var_w = cumulative[2]
        zero = np.zeros_like(mean)
        naive_c = _naive(zero, zero, n, mean, var, n)
        naive_w = _naive(zero, zero, window_n, mean_w, var_w, window_n)
    else:
        (ma, va, mwa, vwa), (mb, vb, mwb, vwb) = cumulative[0], cumulative[1]
        naive_c = _naive(ma, va, n + 0 * ma, mb, vb, n + 0 * mb)
        naive_w = _naive(mwa, vwa, window_n, mwb, vwb, window_n)
    return Outcome([r.decision for r in results],
                   np.array([r.decided_at or 0 for r in results], dtype=np.int64),
                   naive_c, naive_w)


def _rate(hits: int, runs: int) -> str:
    low, high = sps.binomtest(hits, runs).proportion_ci(0.95)
    return f"{hits / runs:.4f} ({low:.4f}–{high:.4f})"


def _by(at: NDArray[np.int64], look: int) -> int:
    return int(((at > 0) & (at <= look)).sum())


def null_table(rows: list[tuple[str, Outcome]], looks: int) -> None:
    """The A/A table; scenarios named "min_n" show the sequential test alone (the naive
    tests have no min_n, and their rows would repeat)."""
    horizons = sorted({10, 100, looks} & set(range(1, looks + 1)))
    print("| A/A scenario | test | " + " | ".join(f"by look {h}" for h in horizons) + " |")
    print("|---|---|" + "---:|" * len(horizons))
    for name, outcome in rows:
        runs = len(outcome.decision)
        tests = [("mSPRT (driftline)", outcome.decided_at)]
        if "min_n" not in name:
            tests += [("naive z-test, cumulative", outcome.naive_cumulative),
                      ("naive z-test, per window", outcome.naive_window)]
        for label, at in tests:
            cells = " | ".join(_rate(_by(at, h), runs) for h in horizons)
            print(f"| {name} | {label} | {cells} |")


def power_table(rows: list[tuple[str, str, Outcome]], looks: int) -> None:
    print("| scenario | right decision | wrong decision | inconclusive after "
          f"{looks} | windows to decide, median | p90 | naive cumulative: first "
          "rejection, median |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, right, outcome in rows:
        runs = len(outcome.decision)
        decided = np.array([d != "inconclusive" for d in outcome.decision])
        good = sum(d == right for d in outcome.decision)
        wrong = int(decided.sum()) - good
        at = outcome.decided_at[decided]
        median = f"{np.median(at):.0f}" if len(at) else "-"
        p90 = f"{np.percentile(at, 90):.0f}" if len(at) else "-"
        naive = outcome.naive_cumulative[outcome.naive_cumulative > 0]
        naive_median = f"{np.median(naive):.0f}" if len(naive) else "-"
        print(f"| {name} | {_rate(good, runs)} | {wrong} | {runs - int(decided.sum())} | "
              f"{median} | {p90} | {naive_median} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=2_000, help="runs per accuracy scenario")
    parser.add_argument("--loss-runs", type=int, default=400, help="runs per loss scenario")
    parser.add_argument("--looks", type=int, default=500, help="looks (windows) per run")
    parser.add_argument("--quick", action="store_true", help="runs 200 / 50, looks 200")
    args = parser.parse_args()
    runs, loss_n, looks = args.runs, args.loss_runs, args.looks
    if args.quick:
        runs, loss_n, looks = 200, 50, 200
    start = time.perf_counter()
    print(f"{platform.processor() or platform.machine()}, Python {platform.python_version()}, "
          f"numpy {np.__version__}; alpha {ALPHA}; {ROWS} rows a side a window; "
          f"{runs} runs per accuracy scenario, {loss_n} per loss scenario; {looks} looks.\n")
    null_table([
        ("accuracy 0.80 vs 0.80, mde 0.02", accuracy_runs(0.80, 0.80, runs, looks, 1)),
        ("accuracy 0.98 vs 0.98, mde 0.02", accuracy_runs(0.98, 0.98, runs, looks, 2)),
        ("accuracy 0.80 vs 0.80, mde 0.005", accuracy_runs(0.80, 0.80, runs, looks, 3,
                                                           mde=0.005)),
        ("lognormal loss, unpaired, mde 0.05", loss_runs(loss_n, looks, 4, paired=False)),
        ("lognormal loss, paired, mde 0.05", loss_runs(loss_n, looks, 5, paired=True)),
        ("accuracy 0.50 vs 0.50, 2-row windows, mde 0.1, min_n 2",
         accuracy_runs(0.5, 0.5, runs, looks, 6, mde=0.1, rows=2, min_n=2)),
        ("accuracy 0.50 vs 0.50, 2-row windows, mde 0.1, min_n 30",
         accuracy_runs(0.5, 0.5, runs, looks, 6, mde=0.1, rows=2, min_n=30)),
        ("accuracy 0.50 vs 0.50, 2-row windows, mde 0.1, min_n 1000 (default)",
         accuracy_runs(0.5, 0.5, runs, looks, 6, mde=0.1, rows=2)),
    ], looks)
    print()
    power_table([
        ("accuracy 0.80 vs 0.78 (2 points worse), mde 0.02", "challenger_worse",
         accuracy_runs(0.80, 0.78, runs, looks, 7)),
        ("accuracy 0.78 vs 0.80 (2 points better), mde 0.02", "challenger_better",
         accuracy_runs(0.78, 0.80, runs, looks, 8)),
        ("accuracy 0.80 vs 0.79 (1 point worse), mde 0.02", "challenger_worse",
         accuracy_runs(0.80, 0.79, runs, looks, 9)),
        ("accuracy 0.80 vs 0.75 (5 points worse), mde 0.02", "challenger_worse",
         accuracy_runs(0.80, 0.75, runs, looks, 10)),
        ("accuracy 0.80 vs 0.78, mde 0.005", "challenger_worse",
         accuracy_runs(0.80, 0.78, runs, looks, 11, mde=0.005)),
        ("lognormal loss +0.02 (about 3 %), unpaired, mde 0.05", "challenger_worse",
         loss_runs(loss_n, looks, 12, paired=False, shift=0.02)),
        ("lognormal loss +0.02 (about 3 %), paired, mde 0.05", "challenger_worse",
         loss_runs(loss_n, looks, 13, paired=True, shift=0.02)),
    ], looks)
    print(f"\n{time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
