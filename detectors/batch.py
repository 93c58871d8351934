"""The batch path: a reference table and a current table in, a ``DriftReport`` out.

It runs the very code the stream runs: a ``ReferenceProfile`` is built from the
reference columns, one ``WindowSketch`` takes the current columns in batches,
and ``evaluate`` gives the verdict.

>>> import numpy as np
>>> rng = np.random.default_rng(7)
>>> ref = {"x": rng.normal(size=10_000), "c": rng.choice(["a", "b"], 10_000).astype(object)}
>>> cur = {"x": rng.normal(1.0, size=5000), "c": rng.choice(["a", "b"], 5000).astype(object)}
>>> report = compare(ref, cur, {"x": "numeric", "c": "categorical"})
>>> [(f.name, f.severity) for f in report.features], report.drift_share
([('x', 'critical'), ('c', 'none')], 0.5)
>>> small = compare({"x": ref["x"][:5000]}, {"x": cur["x"]}, {"x": "numeric"})
>>> small.status, small.features[0].severity  # the reference is below min_reference_rows
('insufficient_data', 'insufficient_data')
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from detectors._checks import check_choice, check_int
from detectors.policy import DriftPolicy
from detectors.reference import (
    DEFAULT_BINS,
    DEFAULT_MAX_KNOWN,
    DEFAULT_SAMPLE_CAP,
    DEFAULT_TOP_K,
    CategoricalReference,
    ColumnReference,
    NumericReference,
    ReferenceProfile,
    Role,
)
from detectors.sketch import DEFAULT_MAX_UNSEEN, WindowSketch
from detectors.verdict import DriftReport, evaluate

Kind = Literal["numeric", "categorical"]
BATCH_ROWS = 65_536


@dataclass(frozen=True)
class ProfileOptions:
    """How references are profiled and windows sketched (defaults in ``reference``)."""

    bins: int = DEFAULT_BINS
    sample_cap: int = DEFAULT_SAMPLE_CAP
    top_k: int = DEFAULT_TOP_K
    max_known: int = DEFAULT_MAX_KNOWN
    max_unseen: int = DEFAULT_MAX_UNSEEN
    seed: int = 0

    def __post_init__(self) -> None:
        check_int("bins", self.bins, low=2, high=1000)
        check_int("sample_cap", self.sample_cap, low=10)
        check_int("top_k", self.top_k, low=1)
        check_int("max_known", self.max_known, low=0)
        check_int("max_unseen", self.max_unseen, low=0)


def build_profile(
    columns: Mapping[str, NDArray[Any]],
    kinds: Mapping[str, Kind],
    *,
    roles: Mapping[str, Role] | None = None,
    missing: Mapping[str, NDArray[np.bool_]] | None = None,
    options: ProfileOptions | None = None,
) -> ReferenceProfile:
    """Profile every column named in ``kinds`` (in that order)."""
    options = options or ProfileOptions()
    roles, missing = roles or {}, missing or {}
    n_rows = len(next(iter(columns.values()))) if columns else 0
    profiles: list[ColumnReference] = []
    for name, kind in kinds.items():
        check_choice(f"kind of column {name!r}", kind, ("numeric", "categorical"))
        if name not in columns:
            raise ValueError(f"column {name!r} is not in the reference data")
        role = roles.get(name, "feature")
        if kind == "numeric":
            profiles.append(NumericReference.build(
                name, columns[name], missing.get(name), bins=options.bins,
                sample_cap=options.sample_cap, role=role))
        else:
            profiles.append(CategoricalReference.build(
                name, columns[name], missing.get(name), top_k=options.top_k,
                max_known=options.max_known, role=role))
    return ReferenceProfile(columns=tuple(profiles), n_rows=n_rows)


def sketch_columns(
    reference: ReferenceProfile,
    columns: Mapping[str, NDArray[Any]],
    *,
    missing: Mapping[str, NDArray[np.bool_]] | None = None,
    options: ProfileOptions | None = None,
) -> WindowSketch:
    """Feed whole columns to a new window sketch, ``BATCH_ROWS`` rows at a time."""
    options = options or ProfileOptions()
    sketch = WindowSketch(reference, sample_cap=options.sample_cap,
                          max_unseen=options.max_unseen, seed=options.seed)
    wanted = {name: columns[name] for name in reference.names if name in columns}
    n_rows = len(next(iter(columns.values()))) if columns else 0
    masks = missing or {}
    for start in range(0, n_rows, BATCH_ROWS):
        part = slice(start, start + BATCH_ROWS)
        sketch.update(
            {name: values[part] for name, values in wanted.items()},
            missing={name: mask[part] for name, mask in masks.items() if name in wanted},
        )
    return sketch


def compare(
    reference: Mapping[str, NDArray[Any]],
    current: Mapping[str, NDArray[Any]],
    kinds: Mapping[str, Kind],
    *,
    roles: Mapping[str, Role] | None = None,
    reference_missing: Mapping[str, NDArray[np.bool_]] | None = None,
    current_missing: Mapping[str, NDArray[np.bool_]] | None = None,
    policy: DriftPolicy | None = None,
    options: ProfileOptions | None = None,
) -> DriftReport:
    """Profile ``reference``, sketch ``current`` and evaluate the drift between them."""
    profile = build_profile(reference, kinds, roles=roles, missing=reference_missing,
                            options=options)
    sketch = sketch_columns(profile, current, missing=current_missing, options=options)
    return evaluate(profile, sketch, policy)
