"""Evidence pooled across consecutive windows of one reference (the pooled test).

At 1,000 events a window one window's test cannot be both within the
false-alarm budget and quick: σ ×1.25 moves the KS statistic by about 0.054,
which a 1,000-row window against a 10,000-row reference sees at the budget's
level in about a third of the windows. Three such windows together see it
nearly always. So a window of fewer than ``policy.pool_below_rows`` events is
tested twice (``detectors.verdict.evaluate``):

* alone, as every window is, and
* pooled: its sketch merged with the sketches of the ``pool_windows - 1``
  windows closed before it against the same reference, as one sample of all
  their rows.

Each test gets half of ``alpha`` (Bonferroni over the two tests; since the
pooled sample contains the window, they are positively correlated and the
split is conservative), so a healthy window is still flagged with probability
at most ``alpha``. The effect floor applies to the pooled sample too, so a
change too small to matter stays calm pooled as alone. A flagged pooled test
flags the *current* window (the newest of the pool): the one whose closing
completed the evidence.

Windows of ``pool_below_rows`` events or more are tested alone with the whole
``alpha``: they are already powerful enough (bench/README.md). Chosen over
combining the windows' p-values (Fisher, Stouffer): the KS and chi-square
statistics of the merged sample use the rows themselves, and merging sketches
is exact (the samples merge by row priority), so the pooled test is the test
of one window three times as large, with the reference's sampling error
counted once instead of three times.
"""

from __future__ import annotations

from collections.abc import Sequence

from detectors.policy import DriftPolicy
from detectors.reference import ReferenceProfile
from detectors.sketch import WindowSketch

TESTS_PER_WINDOW = 2  # alone and pooled: each gets alpha / 2


def pools(policy: DriftPolicy, sketch: WindowSketch, previous: Sequence[WindowSketch]) -> bool:
    """Whether a window with ``sketch`` is also tested pooled with ``previous``."""
    return policy.pool_windows > 1 and len(previous) > 0 \
        and sketch.n_rows < policy.pool_below_rows


def pooled_sketch(reference: ReferenceProfile, sketch: WindowSketch,
                  previous: Sequence[WindowSketch], windows: int) -> WindowSketch:
    """A new sketch of the last ``windows - 1`` of ``previous`` and ``sketch``;
    none of them changes."""
    pooled = WindowSketch(reference, sample_cap=sketch.sample_cap,
                          max_unseen=sketch.max_unseen, seed=sketch.seed)
    for part in [*previous[max(0, len(previous) - (windows - 1)):], sketch]:
        pooled.merge(part)
    return pooled
