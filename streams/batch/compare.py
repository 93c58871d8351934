"""``driftline compare``: two files through the batch path of ``detectors``."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from detectors import (
    DriftPolicy,
    DriftReport,
    ProfileOptions,
    ReferenceProfile,
    WindowSketch,
    build_profile,
    evaluate,
    sketch_columns,
)
from detectors.reference import Role
from streams.batch.files import InputError, Kind, infer_kinds, read_table, to_columns
from streams.batch.performance_report import performance

JSON_CONTRACT_VERSION = 1


@dataclass(frozen=True)
class CompareRequest:
    reference: Path
    current: Path
    targets: tuple[str, ...] = ()
    predictions: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    numeric: tuple[str, ...] = ()
    categorical: tuple[str, ...] = ()
    policy: DriftPolicy = field(default_factory=DriftPolicy)
    options: ProfileOptions = field(default_factory=ProfileOptions)


@dataclass(frozen=True)
class CompareResult:
    reference: Path
    current: Path
    report: DriftReport
    skipped: tuple[str, ...]
    missing_in_current: tuple[str, ...]
    performance: dict[str, Any] | None = None
    # The reference's bins and the current side's counts, for drawing (``driftline report``).
    profile: ReferenceProfile | None = field(default=None, compare=False, repr=False)
    sketch: WindowSketch | None = field(default=None, compare=False, repr=False)

    def to_dict(self) -> dict[str, Any]:
        data = self.report.to_dict()
        data.update(
            reference_file=str(self.reference),
            current_file=str(self.current),
            skipped_columns=list(self.skipped),
            missing_in_current=list(self.missing_in_current),
            performance=self.performance,
        )
        return data


def _overrides(request: CompareRequest) -> dict[str, Kind]:
    both = set(request.numeric) & set(request.categorical)
    if both:
        raise InputError(f"column {sorted(both)[0]!r} is given as both --numeric and "
                         "--categorical")
    overrides: dict[str, Kind] = dict.fromkeys(request.numeric, "numeric")
    overrides.update(dict.fromkeys(request.categorical, "categorical"))
    return overrides


def _roles(request: CompareRequest) -> dict[str, Role]:
    roles: dict[str, Role] = dict.fromkeys(request.predictions, "prediction")
    for name in request.targets:
        if name in roles:
            raise InputError(f"column {name!r} is given as both --target and --prediction")
        roles[name] = "target"
    return roles


def run_compare(request: CompareRequest) -> CompareResult:
    """Read both files, check their columns and evaluate the drift between them."""
    ref_table = read_table(request.reference)
    cur_table = read_table(request.current)
    overrides, roles = _overrides(request), _roles(request)
    for name in [*overrides, *roles, *request.exclude]:
        if name not in ref_table.column_names:
            raise InputError(f"{request.reference}: no column {name!r} "
                             f"(columns: {', '.join(ref_table.column_names)})")
    kinds, skipped = infer_kinds(ref_table, overrides, skip=request.exclude)
    shared = {n: k for n, k in kinds.items() if n in cur_table.column_names}
    if not set(shared) - set(roles):
        raise InputError(f"{request.reference} and {request.current} share no feature columns")
    missing_in_current = tuple(n for n in kinds if n not in shared)
    reference = to_columns(ref_table, shared, request.reference)
    current = to_columns(cur_table, shared, request.current)
    profile = build_profile(reference.values, shared,
                            roles={n: r for n, r in roles.items() if n in shared},
                            missing=reference.missing, options=request.options)
    sketch = sketch_columns(profile, current.values, missing=current.missing,
                            options=request.options)
    report = evaluate(profile, sketch, request.policy)
    metrics = None
    if len(request.targets) == 1 and request.predictions:
        target = request.targets[0]
        sides = {"reference": performance(reference, target, request.predictions),
                 "current": performance(current, target, request.predictions)}
        metrics = sides if any(sides.values()) else None
    return CompareResult(request.reference, request.current, report, tuple(skipped),
                         missing_in_current, metrics, profile, sketch)
