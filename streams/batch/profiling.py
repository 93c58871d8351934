"""A reference profile from a file of rows: what ``driftline reference set`` stores.

One function, so the CLI and the HTTP API build the same profile from the same
file: every column but the event fields and ``exclude`` is profiled, its kind
inferred (``streams.batch.files``); ``prediction`` names the model's output
columns (default: ``prediction`` and ``score`` when present). Errors are
``InputError`` or ``ValueError`` with the file and column named.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from detectors import ReferenceProfile, build_profile
from detectors.reference import Role
from streams.batch.files import InputError, infer_kinds, read_table, to_columns

EVENT_FIELDS = frozenset({"model_id", "model_version", "event_time", "event_id",
                          "prediction_id"})


def profile_file(file: Path, prediction: Iterable[str] = (),
                 exclude: Iterable[str] = ()) -> ReferenceProfile:
    """Profile FILE (CSV, Parquet or JSON Lines) as a model's reference."""
    predictions = tuple(prediction)
    table = read_table(file)
    kinds, _ = infer_kinds(table, {}, skip={*EVENT_FIELDS, *exclude})
    unknown = [n for n in predictions if n not in kinds]
    if unknown:
        raise InputError(f"{file}: no column {unknown[0]!r} "
                         f"(columns: {', '.join(table.column_names)})")
    if not kinds:
        raise InputError(f"{file}: no column to profile (columns: "
                         f"{', '.join(table.column_names)})")
    outputs = predictions or tuple(n for n in ("prediction", "score") if n in kinds)
    roles: dict[str, Role] = dict.fromkeys(outputs, "prediction")
    columns = to_columns(table, kinds, file)
    return build_profile(columns.values, kinds, roles=roles, missing=columns.missing)
