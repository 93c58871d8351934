"""Pure drift statistics: reference profiles, window sketches, tests and verdicts.

No I/O, no asyncio, no logging configuration and no global random state: every
source of randomness is a ``seed`` argument. The package may import only numpy,
scipy, river and the standard library (``tests/unit/test_layering.py``).
"""

from detectors.batch import ProfileOptions, build_profile, compare, sketch_columns
from detectors.concept import error_values, run_batches
from detectors.correction import benjamini_hochberg
from detectors.estimate import (
    EstimatedClassificationMetrics,
    ScoreCalibration,
    ScoreSketch,
    estimate,
)
from detectors.latency import LatencySketch, LatencySummary
from detectors.policy import DEFAULT_THRESHOLDS, DriftPolicy
from detectors.reference import CategoricalReference, NumericReference, ReferenceProfile
from detectors.sketch import WindowSketch
from detectors.verdict import ColumnDrift, DriftReport, evaluate, ks_error_bound

__all__ = [
    "DEFAULT_THRESHOLDS",
    "CategoricalReference",
    "ColumnDrift",
    "DriftPolicy",
    "DriftReport",
    "EstimatedClassificationMetrics",
    "LatencySketch",
    "LatencySummary",
    "NumericReference",
    "ProfileOptions",
    "ReferenceProfile",
    "ScoreCalibration",
    "ScoreSketch",
    "WindowSketch",
    "benjamini_hochberg",
    "build_profile",
    "compare",
    "error_values",
    "estimate",
    "evaluate",
    "ks_error_bound",
    "run_batches",
    "sketch_columns",
]
