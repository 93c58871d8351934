"""Finalising a window: every column's statistics and the verdict of the policy.

``evaluate(reference, sketch, policy)`` is the one function that turns a window
sketch into results, for the stream at window close and for ``driftline compare``
alike. Results are frozen dataclasses; ``DriftReport.to_dict()`` is the
documented JSON contract (``docs/compare-json.md``).

KS and Wasserstein use the bounded samples. While the window and the reference
fit in their samples (``ks_exact`` is true) they equal scipy's on the full data.
Beyond that, D is computed between the samples, which are uniform row samples of
the window (and evenly spaced order statistics of the reference): with
probability at least ``1 - delta`` the sampled D is within
``ks_error_bound(k_ref, k_cur, delta)`` of the full-data D, and the p-value is
the KS test of the samples themselves (valid, and conservative, since a smaller
sample has less power). PSI, JS and Hellinger use the full bin counts and are
always exact.

Given the sketches of the windows before it (``previous``), a small window is
also tested pooled with them, each test at half the level (``detectors.pooling``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from detectors.catalogue import Kind, names, only_for, statistics
from detectors.correction import correct
from detectors.policy import DriftPolicy, Severity
from detectors.pooling import TESTS_PER_WINDOW, pooled_sketch, pools
from detectors.reference import (
    CategoricalReference,
    NumericReference,
    ReferenceProfile,
    Role,
)
from detectors.sketch import CategoricalSketch, NumericSketch, WindowSketch
from detectors.stats import chi2_homogeneity, ecdf_distances, ks_2samp_sorted

REPORT_SCHEMA_VERSION = 1
MIN_EXPECTED = 5.0  # the budget verdict's chi-square pools buckets expected below this


def ks_error_bound(k_reference: int, k_current: int, delta: float = 1e-6) -> float:
    """Bound on |D(samples) - D(full data)| holding with probability >= 1 - delta.

    The current sample is a uniform sample without replacement of ``k_current``
    rows, so by the Dvoretzky–Kiefer–Wolfowitz inequality (which sampling without
    replacement only tightens) its ECDF is within ``sqrt(ln(2/delta) / (2k))`` of
    the window's everywhere. The reference sample's ECDF is within
    ``1/k_reference`` of the reference's by construction. A full sample adds 0.
    """
    current = math.sqrt(math.log(2.0 / delta) / (2.0 * k_current)) if k_current else 0.0
    return current + (1.0 / k_reference if k_reference else 0.0)


@dataclass(frozen=True)
class ColumnDrift:
    """One column's statistics and verdict. Statistics that do not apply are None."""

    name: str
    kind: Literal["numeric", "categorical"]
    role: Role
    n_reference: int
    n_current: int
    n_missing: int
    missing_rate: float | None
    reference_missing_rate: float | None
    psi: float | None = None
    js_distance: float | None = None
    hellinger: float | None = None
    n_nan: int = 0
    n_inf: int = 0
    ks_statistic: float | None = None
    ks_pvalue: float | None = None
    ks_exact: bool | None = None
    wasserstein: float | None = None
    chi2_statistic: float | None = None
    chi2_pvalue: float | None = None
    unseen_rate: float | None = None
    unseen_categories: tuple[str, ...] | None = None
    effect_statistic: str = "psi"
    effect_value: float | None = None
    warn_threshold: float = 0.0
    critical_threshold: float = 0.0
    pvalue: float | None = None
    pvalue_adjusted: float | None = None
    alpha: float = 0.05
    drifted: bool = False
    severity: Severity = "none"
    # The test of the window pooled with the ones before it (``detectors.pooling``):
    # how many windows it pooled (1: none), its effect and its adjusted p-value.
    pooled_windows: int = 1
    pooled_effect_value: float | None = None
    pooled_pvalue_adjusted: float | None = None
    # The window's counts in the reference's bins (numeric: one per bin; categorical: one
    # per reference top category, then "other known", then "unseen"), so a stored window
    # can be drawn beside its reference. None when the window had no value.
    counts: tuple[int, ...] | None = None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        if data.get("counts") is not None:
            data["counts"] = list(data["counts"])
        skip = _NUMERIC_ONLY if self.kind == "categorical" else _CATEGORICAL_ONLY
        for key in skip:
            data.pop(key)
        if data.get("unseen_categories") is not None:
            data["unseen_categories"] = list(data["unseen_categories"])
        return data


_NUMERIC_ONLY = (*only_for("numeric"), "ks_exact", "n_nan", "n_inf")
_CATEGORICAL_ONLY = (*only_for("categorical"), "unseen_rate", "unseen_categories")


def _binned(kind: Kind, ref_counts: NDArray[np.int64], counts: NDArray[np.int64],
            policy: DriftPolicy) -> dict[str, float]:
    """The catalogue's statistics of the bin counts that apply to ``kind``."""
    return {s.name: s.from_counts(ref_counts, counts, policy.psi_epsilon)
            for s in statistics(kind=kind, binned=True) if s.from_counts is not None}


@dataclass(frozen=True)
class DriftReport:
    """The verdict of one window: its columns and the model-level result."""

    features: tuple[ColumnDrift, ...]
    predictions: tuple[ColumnDrift, ...]
    targets: tuple[ColumnDrift, ...]
    n_reference_rows: int
    n_current_rows: int
    n_evaluated: int
    n_drifted: int
    drift_share: float | None
    dataset_drift: bool
    prediction_drift: bool | None
    status: Literal["drift", "no_drift", "insufficient_data"]
    policy: DriftPolicy

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": REPORT_SCHEMA_VERSION,
            "status": self.status,
            "dataset_drift": self.dataset_drift,
            "drift_share": self.drift_share,
            "n_evaluated": self.n_evaluated,
            "n_drifted": self.n_drifted,
            "prediction_drift": self.prediction_drift,
            "n_reference_rows": self.n_reference_rows,
            "n_current_rows": self.n_current_rows,
            "features": [c.to_dict() for c in self.features],
            "predictions": [c.to_dict() for c in self.predictions],
            "targets": [c.to_dict() for c in self.targets],
            "policy": self.policy.to_dict(),
        }


def _numeric_stats(ref: NumericReference, sk: NumericSketch, policy: DriftPolicy) -> dict[str, Any]:
    stats: dict[str, Any] = {"n_nan": sk.n_nan, "n_inf": sk.n_inf}
    if ref.n == 0 or sk.n == 0:
        return stats
    ref_counts = np.asarray(ref.counts, dtype=np.int64)
    current = sk.sample.sorted_values()
    distances = ecdf_distances(ref.sample, current)
    ks = ks_2samp_sorted(ref.sample, current, policy.ks_method, distances.ks_statistic)
    scale = ref.std if ref.std else 1.0
    stats.update(
        _binned("numeric", ref_counts, sk.counts, policy),
        ks_statistic=ks.statistic,
        ks_pvalue=ks.pvalue,
        ks_exact=current.size == sk.n and ref.sample.size == ref.n,
        wasserstein=distances.wasserstein / scale,
        pvalue=ks.pvalue,
    )
    return stats


def _categorical_stats(
    ref: CategoricalReference, sk: CategoricalSketch, policy: DriftPolicy
) -> dict[str, Any]:
    stats: dict[str, Any] = {}
    if ref.n == 0 or sk.n == 0:
        return stats
    ref_counts = np.array([*ref.counts, ref.other_count, 0], dtype=np.int64)
    chi2 = chi2_homogeneity(ref_counts, sk.counts)
    # The budget verdict tests at small levels, where the approximation needs pooling.
    tested = chi2_homogeneity(ref_counts, sk.counts, MIN_EXPECTED) \
        if policy.verdict == "budget" else chi2
    stats.update(
        _binned("categorical", ref_counts, sk.counts, policy),
        chi2_statistic=chi2.statistic,
        chi2_pvalue=chi2.pvalue,
        unseen_rate=sk.n_unseen / sk.n,
        unseen_categories=tuple(sorted(sk.unseen)),
        pvalue=tested.pvalue,
    )
    return stats


def _raw_stats(
    ref: NumericReference | CategoricalReference,
    sk: NumericSketch | CategoricalSketch,
    policy: DriftPolicy,
) -> dict[str, Any]:
    if isinstance(ref, NumericReference) and isinstance(sk, NumericSketch):
        stats = _numeric_stats(ref, sk, policy)
    elif isinstance(ref, CategoricalReference) and isinstance(sk, CategoricalSketch):
        stats = _categorical_stats(ref, sk, policy)
    else:
        raise TypeError(f"column {ref.name!r}: sketch does not match the reference kind")
    total = sk.n + sk.n_missing + stats.get("n_nan", 0) + stats.get("n_inf", 0)
    stats.update(
        name=ref.name,
        kind=ref.kind,
        role=ref.role,
        n_reference=ref.n,
        n_current=sk.n,
        n_missing=sk.n_missing,
        missing_rate=sk.n_missing / total if total else None,
        reference_missing_rate=ref.missing_rate,
        counts=tuple(int(c) for c in sk.counts) if sk.n else None,
    )
    return stats


_RANK = {"insufficient_data": -1, "none": 0, "warn": 1, "critical": 2}


@dataclass(frozen=True)
class _Pooled:
    """The pooled test of one column: windows pooled, effect, adjusted p-value."""

    windows: int
    effect_value: float | None
    adjusted: float | None


def _judge(stats: dict[str, Any], adjusted: float | None, policy: DriftPolicy,
           pooled: _Pooled | None = None) -> ColumnDrift:
    effect = policy.effect_for(stats["kind"])
    warn, critical = policy.thresholds[effect]
    value = stats.get(effect)
    if adjusted is None or value is None:
        severity = policy.severity(effect, 0.0, 1.0, sufficient=False)
    else:
        severity = policy.severity(effect, value, adjusted, sufficient=True)
    extra: dict[str, Any] = {}
    if pooled is not None and severity != "insufficient_data":
        extra = {"pooled_windows": pooled.windows, "pooled_effect_value": pooled.effect_value,
                 "pooled_pvalue_adjusted": pooled.adjusted}
        if pooled.adjusted is not None and pooled.effect_value is not None:
            joint = policy.severity(effect, pooled.effect_value, pooled.adjusted, True)
            severity = max(severity, joint, key=_RANK.__getitem__)
    for key in names(statistics()):
        stats.setdefault(key, None)
    return ColumnDrift(
        **stats,
        effect_statistic=effect,
        effect_value=value,
        warn_threshold=warn,
        critical_threshold=critical,
        pvalue_adjusted=adjusted,
        alpha=policy.alpha,
        drifted=severity in ("warn", "critical"),
        severity=severity,
        **extra,
    )


def _pooled_tests(reference: ReferenceProfile, sketch: WindowSketch,
                  previous: Sequence[WindowSketch], policy: DriftPolicy, tested: list[int]
                  ) -> dict[int, _Pooled]:
    """The tested columns' pooled tests, corrected like the window's and halved."""
    windows = min(policy.pool_windows, len(previous) + 1)
    merged = pooled_sketch(reference, sketch, previous, windows)
    raw = [_raw_stats(reference.columns[i], merged.columns[reference.columns[i].name], policy)
           for i in tested]
    corrected = correct([s["pvalue"] for s in raw], policy.correction)
    return {
        i: _Pooled(windows, s.get(policy.effect_for(s["kind"])),
                   min(1.0, TESTS_PER_WINDOW * p))
        for i, s, p in zip(tested, raw, corrected, strict=True)
    }


def evaluate(
    reference: ReferenceProfile, sketch: WindowSketch, policy: DriftPolicy | None = None,
    previous: Sequence[WindowSketch] = (),
) -> DriftReport:
    """Compute every column's statistics and the window's verdict (module docstring).

    ``previous``: the sketches of the windows closed before this one against the
    same reference, oldest first; a small window is also tested pooled with them
    (``detectors.pooling``).
    """
    policy = policy or DriftPolicy()
    raw = [_raw_stats(ref, sketch.columns[ref.name], policy) for ref in reference.columns]
    enough_reference = reference.n_rows >= policy.min_reference_rows
    tested = [
        i for i, s in enumerate(raw)
        if enough_reference and "pvalue" in s
        and min(s["n_reference"], s["n_current"]) >= policy.min_samples
    ]
    pvalues = [raw[i]["pvalue"] for i in tested]
    corrected = correct(pvalues, policy.correction)
    adjusted: dict[int, float] = dict(zip(tested, corrected, strict=True))
    pooled: dict[int, _Pooled] = {}
    if tested and pools(policy, sketch, previous):
        adjusted = {i: min(1.0, TESTS_PER_WINDOW * p) for i, p in adjusted.items()}
        pooled = _pooled_tests(reference, sketch, previous, policy, tested)
    columns = [_judge(s, adjusted.get(i), policy, pooled.get(i)) for i, s in enumerate(raw)]
    features = tuple(c for c in columns if c.role == "feature")
    predictions = tuple(c for c in columns if c.role == "prediction")
    evaluated = [c for c in features if c.severity != "insufficient_data"]
    n_drifted = sum(c.drifted for c in evaluated)
    share = n_drifted / len(evaluated) if evaluated else None
    dataset_drift = share is not None and share >= policy.drift_share_threshold
    judged = [c for c in predictions if c.severity != "insufficient_data"]
    prediction_drift = any(c.drifted for c in judged) if judged else None
    status: Literal["drift", "no_drift", "insufficient_data"] = (
        "insufficient_data" if share is None else "drift" if dataset_drift else "no_drift"
    )
    return DriftReport(
        features=features,
        predictions=predictions,
        targets=tuple(c for c in columns if c.role == "target"),
        n_reference_rows=reference.n_rows,
        n_current_rows=sketch.n_rows,
        n_evaluated=len(evaluated),
        n_drifted=n_drifted,
        drift_share=share,
        dataset_drift=dataset_drift,
        prediction_drift=prediction_drift,
        status=status,
        policy=policy,
    )
