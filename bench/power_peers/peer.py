"""The loop every side of the power benchmark runs, peers and driftline alike.

A side gives a ``Flagger``: a function taking the references and the windows of
a batch of trials of one scenario (one feature each) and returning, per trial,
whether the method flags the feature as drifted. ``run_cells`` draws the trials
(``scenarios.draw``), hands them over in batches that keep about ``max_values``
values in memory, and yields one result per cell: trials, flagged, the checksum
of the first trial, the seconds spent in the method (wall clock and this
process's CPU time, which a busy machine inflates less; drawing excluded) and the
``note``s the method left (which test it chose, what threshold it learnt).

A peer script runs ``main(flagger, about)`` in its own venv: it reads the cells
as JSON on stdin and prints one JSON line per cell (and first one line saying
which versions run), so ``power.py`` reads them as they come.
"""

from __future__ import annotations

import json
import sys
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scenarios import BY_NAME, Kind, checksum, draw

Arrays = Sequence[NDArray[np.generic]]
Flagger = Callable[[Arrays, Arrays, Kind], Sequence[bool]]
MAX_VALUES = 4_000_000
_NOTES: Counter[str] = Counter()


def note(text: str) -> None:
    """Count ``text`` for the current cell (which test a peer chose, its threshold...)."""
    _NOTES[text] += 1


def batch_size(reference_rows: int, window_rows: int, max_values: int) -> int:
    """How many trials fit in ``max_values`` values (at least one)."""
    return max(1, max_values // (reference_rows + window_rows))


def run_cell(flagger: Flagger, cell: dict[str, Any], max_values: int) -> dict[str, Any]:
    """Draw and judge every trial of one cell."""
    scenario = BY_NAME[cell["scenario"]]
    n_ref, n_win = int(cell["reference_rows"]), int(cell["window_rows"])
    trials = int(cell["trials"])
    result: dict[str, Any] = {"scenario": scenario.name, "reference_rows": n_ref,
                              "window_rows": n_win, "trials": trials}
    step = batch_size(n_ref, n_win, max_values)
    flagged, seconds, cpu, first = 0, 0.0, 0.0, None
    _NOTES.clear()
    try:
        for start in range(0, trials, step):
            pairs = [draw(scenario.name, n_ref, n_win, t)
                     for t in range(start, min(trials, start + step))]
            if first is None:
                first = checksum(*pairs[0])
            began, began_cpu = time.perf_counter(), time.process_time()
            verdicts = list(flagger([p[0] for p in pairs], [p[1] for p in pairs], scenario.kind))
            seconds += time.perf_counter() - began
            cpu += time.process_time() - began_cpu
            if len(verdicts) != len(pairs):
                raise RuntimeError(f"{len(verdicts)} verdicts for {len(pairs)} trials")
            flagged += sum(bool(v) for v in verdicts)
    except Exception as error:  # one cell failing must not lose the others
        last = traceback.format_exception_only(error)[-1].strip()
        result["error"] = last[:300]
        return result
    result.update(flagged=flagged, checksum=first, seconds=seconds, cpu_seconds=cpu,
                  notes=dict(_NOTES))
    return result


def run_cells(
    flagger: Flagger, cells: Sequence[dict[str, Any]], max_values: int = MAX_VALUES
) -> Iterator[dict[str, Any]]:
    for cell in cells:
        yield run_cell(flagger, cell, max_values)


def main(flagger: Flagger, about: dict[str, Any]) -> int:
    """Cells (a JSON list) on stdin; an ``about`` line, then one JSON line per cell."""
    job = json.loads(sys.stdin.read())
    print(json.dumps({"about": about}), flush=True)
    for result in run_cells(flagger, job["cells"], int(job.get("max_values", MAX_VALUES))):
        print(json.dumps(result), flush=True)
    return 0
