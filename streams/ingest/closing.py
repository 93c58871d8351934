"""Finalising a closed window: the statistics of ``detectors`` and, when due, a new reference.

Under the default ``first_window`` policy the reference is gathered from the
first windows' rows until they hold ``thresholds.min_reference_rows`` events
(``streams.ingest.windows``). A window closed while that is under way is evaluated
against a profile of its own rows, below the minimum, so it is stored as
``insufficient_data`` with ``reference_source = "gathering"`` and no reference;
the window that completes the gathering carries the gathered rows: they are
profiled and stored as the reference, and the window is evaluated against it
(``reference_source = "first_window"``). Under ``previous_window`` every window
is judged against the window before it and then becomes the reference of the
next.

Column kinds of a stream-built reference follow the data (numbers are numeric,
text and booleans categorical) unless the model's settings name them; the
model's ``prediction`` and ``score`` are judged as prediction drift.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from detectors import DriftPolicy, DriftReport, ProfileOptions, ReferenceProfile, evaluate
from detectors.batch import build_profile, sketch_columns
from detectors.reference import Role
from detectors.rowsample import RowSample
from streams.ingest.windows import ClosedWindow

Kind = Literal["numeric", "categorical"]
PREDICTION_COLUMNS = ("prediction", "score")


def profile_from_rows(rows: RowSample, options: ProfileOptions,
                      kinds: Mapping[str, Kind] | None = None) -> ReferenceProfile:
    """Profile a window's row sample (features first, then the model's outputs)."""
    columns, missing = rows.columns(), rows.missing()
    overrides = kinds or {}
    order = [n for n in columns if n not in PREDICTION_COLUMNS]
    order += [n for n in PREDICTION_COLUMNS if n in columns and not bool(missing[n].all())]
    inferred: dict[str, Kind] = {
        name: overrides.get(name) or ("categorical" if columns[name].dtype == object else "numeric")
        for name in order
    }
    roles: dict[str, Role] = {n: "prediction" for n in PREDICTION_COLUMNS if n in inferred}
    profile = build_profile(columns, inferred, roles=roles, missing=missing, options=options)
    return ReferenceProfile(profile.columns, rows.n_seen)


@dataclass(frozen=True)
class Finalised:
    """What a closed window produces; ``next_reference`` is to be stored and adopted."""

    closed: ClosedWindow
    report: DriftReport
    reference_source: str
    next_reference: ReferenceProfile | None
    next_reference_source: str | None


def finalise(closed: ClosedWindow, policy: DriftPolicy, options: ProfileOptions,
             kinds: Mapping[str, Kind] | None = None, keep_rows: bool = False) -> Finalised:
    """Evaluate a closed window, building a reference from it when one is due."""
    window = closed.window
    if window.reference is None or window.sketch is None:
        if window.rows is None:
            raise ValueError(f"window {window.start} of {closed.model_id!r} has neither a "
                             "reference nor rows")
        gathered = closed.gathered
        profile = profile_from_rows(gathered or window.rows, options, kinds)
        sketch = sketch_columns(profile, window.rows.columns(), missing=window.rows.missing(),
                                options=options)
        sketch.n_rows = window.n_events
        report = evaluate(profile, sketch, policy)
        if gathered is None and keep_rows is False \
                and profile.n_rows < policy.min_reference_rows:
            return Finalised(closed, report, "gathering", None, None)
        return Finalised(closed, report, "first_window", profile, "first_window")
    report = evaluate(window.reference.profile, window.sketch, policy,
                      closed.previous_for(window.reference))
    if keep_rows and window.rows is not None:
        return Finalised(closed, report, window.reference.source,
                         profile_from_rows(window.rows, options, kinds), "previous_window")
    return Finalised(closed, report, window.reference.source, None, None)
