"""driftline's verdict on a stream of windows: power within 3 windows, false flags per window.

``power.py`` judges one reference against one window. A monitor judges a run of
windows, and the default policy pools a small window with the windows before it
(``detectors.pooling``), so its power at 1,000 rows a window is the share of
trials in which a change is flagged *within* 3 windows:

* a trial draws the reference (``scenarios.draw``, 10,000 rows), then
  ``pool_windows - 1`` windows of the reference's distribution (the stream
  before the change), then 3 windows of the scenario's window distribution;
* each window is judged as the stream judges it: ``detectors.evaluate`` with the
  sketches of the windows before it against the same reference;
* the trial counts when any of the 3 changed windows is flagged.

For the null scenarios that share is the chance of a false flag in 3 windows
(about 3 times the per-window rate). ``null_rate`` measures the per-window rate
itself on long null streams at a given ``alpha``.

Usage: ``.venv/bin/python bench/power_windows.py [--trials N] [--null-windows N]
[--alpha A]`` (200 trials: a few minutes).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH / "power_peers"))

from scenarios import SCENARIOS, Scenario, category_labels, draw  # noqa: E402

from detectors import (  # noqa: E402
    DriftPolicy,
    ProfileOptions,
    WindowSketch,
    build_profile,
    evaluate,
    sketch_columns,
)
from detectors.reference import ReferenceProfile  # noqa: E402

REFERENCE_ROWS = 10_000
WINDOW_ROWS = 1_000
WITHIN = 3
OPTIONS = ProfileOptions()


def _values(data: NDArray[np.generic], kind: str) -> NDArray[Any]:
    return category_labels(data) if kind == "categorical" else np.asarray(data, np.float64)


class Stream:
    """One feature's windows judged in order against one reference, as the stream does."""

    def __init__(self, reference: NDArray[np.generic], kind: str, policy: DriftPolicy) -> None:
        self.kind, self.policy = kind, policy
        self.profile: ReferenceProfile = build_profile(
            {"x": _values(reference, kind)}, {"x": kind}, options=OPTIONS)  # type: ignore[dict-item]
        self.recent: list[WindowSketch] = []

    def judge(self, window: NDArray[np.generic]) -> bool:
        """Whether the next window is flagged."""
        sketch = sketch_columns(self.profile, {"x": _values(window, self.kind)},
                                options=OPTIONS)
        report = evaluate(self.profile, sketch, self.policy, tuple(self.recent))
        if self.policy.pool_windows > 1:
            self.recent = [*self.recent, sketch][-(self.policy.pool_windows - 1):]
        return report.features[0].drifted


def _rng(scenario: Scenario, trial: int, stream: int) -> np.random.Generator:
    index = SCENARIOS.index(scenario)
    return np.random.default_rng(np.random.SeedSequence(
        [index, REFERENCE_ROWS, WINDOW_ROWS, trial, stream]))


def flagged_within(scenario: Scenario, trial: int, policy: DriftPolicy,
                   rows: int = WINDOW_ROWS, within: int = WITHIN) -> bool:
    """Whether a change starting after ``pool_windows - 1`` healthy windows is flagged
    within ``within`` windows (module docstring)."""
    reference, first = draw(scenario.name, REFERENCE_ROWS, rows, trial)
    rng = _rng(scenario, trial, 1)
    stream = Stream(reference, scenario.kind, policy)
    for _ in range(policy.pool_windows - 1):
        stream.judge(scenario.reference(rng, rows))
    changed = [first, *(scenario.window(rng, rows) for _ in range(within - 1))]
    return any(stream.judge(window) for window in changed)


def null_rate(scenario: Scenario, policy: DriftPolicy, references: int, windows: int
              ) -> tuple[int, int]:
    """(flagged windows, windows) over ``references`` null streams of ``windows`` each."""
    flagged = 0
    for trial in range(references):
        rng = _rng(scenario, 10_000 + trial, 2)
        stream = Stream(scenario.reference(rng, REFERENCE_ROWS), scenario.kind, policy)
        flagged += sum(stream.judge(scenario.reference(rng, WINDOW_ROWS))
                       for _ in range(windows))
    return flagged, references * windows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--null-windows", type=int, default=2_000,
                        help="windows per null scenario for the per-window rate")
    parser.add_argument("--alpha", type=float, action="append",
                        help="alpha of the null-rate run (repeatable; default 0.01, 0.001)")
    parser.add_argument("--skip-null", action="store_true")
    args = parser.parse_args(argv)
    policies = {"pooled (default)": DriftPolicy(),
                "alone (pool_windows 1)": DriftPolicy(pool_windows=1)}
    print(f"Within {WITHIN} windows of {WINDOW_ROWS:,} rows, reference {REFERENCE_ROWS:,}, "
          f"{args.trials} trials\n")
    print("| scenario | expect | " + " | ".join(policies) + " |")
    print("|---|---|" + "---:|" * len(policies))
    for scenario in SCENARIOS:
        began = time.perf_counter()
        shares = [sum(flagged_within(scenario, t, p) for t in range(args.trials)) / args.trials
                  for p in policies.values()]
        print(f"| {scenario.name} | {scenario.expect} | "
              + " | ".join(f"{100 * s:.1f}%" for s in shares) + " |", flush=True)
        print(f"  ({time.perf_counter() - began:.0f} s)", file=sys.stderr, flush=True)
    if args.skip_null:
        return 0
    print("\nPer-window false-flag rate on null streams (10 references per scenario)\n")
    print("| alpha | scenario | flagged / windows | rate | rate / alpha |")
    print("|---:|---|---:|---:|---:|")
    for alpha in args.alpha or [0.01, 0.001]:
        total = [0, 0]
        for scenario in (s for s in SCENARIOS if s.expect == "null"):
            flagged, windows = null_rate(scenario, DriftPolicy(alpha=alpha), 10,
                                         args.null_windows // 10)
            total = [total[0] + flagged, total[1] + windows]
            print(f"| {alpha:g} | {scenario.name} | {flagged} / {windows} | "
                  f"{flagged / windows:.5f} | {flagged / windows / alpha:.2f} |", flush=True)
        print(f"| {alpha:g} | all | {total[0]} / {total[1]} | {total[0] / total[1]:.5f} | "
              f"{total[0] / total[1] / alpha:.2f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
