"""Reading tables from CSV, Parquet and JSON Lines into numpy columns.

Kinds are inferred from the *reference* file: integer, floating and decimal
columns are numeric; strings, booleans and dictionary columns are categorical;
a column that is null throughout is numeric (and gives "insufficient data").
Dates, times and nested columns are not profiled and are reported as skipped.
A file whose header names a column twice, or a name that is not UTF-8 text, is an
error: columns are read by name.
``--numeric`` and ``--categorical`` override the inference; the current file's
columns are then read as the reference's kind, and a value that cannot be read
that way is an error naming the column, the file and the value.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

Kind = Literal["numeric", "categorical"]
FORMATS = {
    ".csv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
}


class InputError(Exception):
    """A problem with an input file, told in one line."""


@dataclass
class Columns:
    """Columns of one table as numpy arrays, with their null masks."""

    values: dict[str, NDArray[Any]] = field(default_factory=dict)
    missing: dict[str, NDArray[np.bool_]] = field(default_factory=dict)
    n_rows: int = 0


def read_table(path: Path) -> pa.Table:
    """Read a CSV, Parquet or JSONL file; raise InputError with one clear line."""
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if path.is_dir():
        raise InputError(f"{path}: is a directory, expected a file")
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        allowed = ", ".join(sorted(FORMATS))
        raise InputError(f"{path}: unknown file type {path.suffix!r}; expected one of {allowed}")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: file is empty")
    try:
        table = _read(path, fmt)
        # pyarrow decodes the names of a CSV header only when they are asked for.
        table.column_names  # noqa: B018
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, OSError) as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"{path}: cannot read as {fmt}: {first_line}") from exc
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: cannot read as {fmt}: a column name is not UTF-8 text "
                         f"(byte {exc.start} of the name)") from exc
    names = table.column_names
    repeated = [name for index, name in enumerate(names) if name in names[:index]]
    if repeated:
        # A column is read by its name: which of the two would be a guess.
        raise InputError(f"{path}: column {repeated[0]!r} appears more than once")
    if table.num_rows == 0:
        raise InputError(f"{path}: file has a header but no rows")
    return table


def _read(path: Path, fmt: str) -> pa.Table:
    if fmt == "csv":
        from pyarrow import csv

        return csv.read_csv(path)
    if fmt == "parquet":
        from pyarrow import parquet

        return parquet.read_table(path)
    from pyarrow import json

    return json.read_json(path)


def infer_kind(column_type: pa.DataType) -> Kind | None:
    """The kind of an arrow column type, or None when it is not profiled."""
    if (pa.types.is_integer(column_type) or pa.types.is_floating(column_type)
            or pa.types.is_decimal(column_type) or pa.types.is_null(column_type)):
        return "numeric"
    if (pa.types.is_string(column_type) or pa.types.is_large_string(column_type)
            or pa.types.is_boolean(column_type) or pa.types.is_dictionary(column_type)):
        return "categorical"
    return None


def infer_kinds(
    table: pa.Table, overrides: Mapping[str, Kind], skip: Iterable[str] = ()
) -> tuple[dict[str, Kind], list[str]]:
    """Kinds of the table's columns and the names left unprofiled (with their type)."""
    kinds: dict[str, Kind] = {}
    skipped: list[str] = []
    excluded = set(skip)
    for name, column_type in zip(table.column_names, table.schema.types, strict=True):
        if name in excluded:
            continue
        kind = overrides.get(name) or infer_kind(column_type)
        if kind is None:
            skipped.append(f"{name} ({column_type})")
        else:
            kinds[name] = kind
    return kinds, skipped


def to_columns(table: pa.Table, kinds: Mapping[str, Kind], path: Path) -> Columns:
    """Convert the named columns to numpy, raising InputError for an unreadable one."""
    out = Columns(n_rows=table.num_rows)
    for name, kind in kinds.items():
        if name not in table.column_names:
            continue
        column = table.column(name).combine_chunks()
        if pa.types.is_dictionary(column.type):
            column = column.cast(column.type.value_type)
        out.missing[name] = column.is_null().to_numpy(zero_copy_only=False)
        try:
            out.values[name] = _numeric(column) if kind == "numeric" else _categorical(column)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            first_line = str(exc).strip().splitlines()[0]
            raise InputError(f"{path}: column {name!r} cannot be read as {kind}: "
                             f"{first_line}") from exc
    return out


def _numeric(column: pa.Array) -> NDArray[np.float64]:
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        column = pc.cast(column, pa.float64(), safe=True)
    floats = column.cast(pa.float64()).fill_null(float("nan"))
    return np.asarray(floats.to_numpy(zero_copy_only=False), dtype=np.float64)


def _categorical(column: pa.Array) -> NDArray[np.object_]:
    if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
        column = column.cast(pa.string())
    return np.asarray(column.to_numpy(zero_copy_only=False), dtype=object)
