"""Champion against challenger: two versions of a model compared on live traffic.

- ``moments``: ``Moments``, the mergeable count / mean / M2 of per-row values;
- ``rows``: the per-row values compared (correctness, absolute error, log loss);
- ``sequential``: ``SequentialTest``, the always-valid mSPRT, looked at every window;
- ``intervals``: one window's differences of metrics with fixed-sample intervals
  (Newcombe's hybrid score interval for proportions, Welch's for means);
- ``agreement``: how often two versions predict the same class, and Cohen's kappa.

Pure functions and small state objects, as the rest of ``detectors``: no I/O.
"""

from detectors.versions.agreement import Agreement, agreement
from detectors.versions.intervals import (
    Difference,
    compare_classification,
    newcombe_interval,
    paired_interval,
    welch_interval,
    wilson_interval,
)
from detectors.versions.moments import Moments
from detectors.versions.rows import absolute_error, correct, log_loss
from detectors.versions.sequential import (
    Decision,
    Metric,
    SequentialResult,
    SequentialTest,
    StoppedError,
    Window,
)

__all__ = [
    "Agreement",
    "Decision",
    "Difference",
    "Metric",
    "Moments",
    "SequentialResult",
    "SequentialTest",
    "StoppedError",
    "Window",
    "absolute_error",
    "agreement",
    "compare_classification",
    "correct",
    "log_loss",
    "newcombe_interval",
    "paired_interval",
    "welch_interval",
    "wilson_interval",
]
