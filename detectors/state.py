"""JSON-safe snapshots of window sketches and row samples, for checkpoints.

A worker checkpoints its open windows together with the Kafka offsets they
cover, so a restarted worker resumes exactly where the snapshot stood. Floats
travel as base64 of little-endian float64 (exact), priorities as base64 of
uint64; a snapshot names its format version and is refused if it differs.

>>> import numpy as np
>>> from detectors.batch import build_profile
>>> profile = build_profile({"x": np.arange(50.0)}, {"x": "numeric"})
>>> sketch = WindowSketch(profile).update({"x": np.array([1.0, 2.0, np.nan])})
>>> restored = sketch_from_dict(profile, sketch_to_dict(sketch))
>>> restored.columns["x"].counts.tolist() == sketch.columns["x"].counts.tolist()
True
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

from detectors.reference import ReferenceProfile
from detectors.rowsample import RowSample
from detectors.sketch import CategoricalSketch, Moments, NumericSketch, WindowSketch

STATE_VERSION = 1
ROWS_VERSION = 2  # row samples (``rows_to_dict``); sketches stay at STATE_VERSION


def _pack(array: NDArray[Any], dtype: str) -> str:
    return base64.b64encode(np.ascontiguousarray(array, dtype=dtype).tobytes()).decode("ascii")


def _unpack(text: str, dtype: str) -> NDArray[Any]:
    return np.frombuffer(base64.b64decode(text), dtype=dtype).copy()


def _numeric_to_dict(sketch: NumericSketch) -> dict[str, Any]:
    values, priorities = sketch.sample.shared.column(sketch.sample.index)
    m = sketch.moments
    return {
        "counts": sketch.counts.tolist(),
        "moments": [m.n, m.mean, m.m2, m.min if m.n else None, m.max if m.n else None],
        "missing": [sketch.n_missing, sketch.n_nan, sketch.n_inf],
        "sample": _pack(values, "<f8"),
        "priorities": _pack(priorities, "<u8"),
    }


def _numeric_from_dict(sketch: NumericSketch, data: Mapping[str, Any]
                       ) -> tuple[NDArray[np.float64], NDArray[np.uint64]]:
    """Restore the counts; return the sample (restored for all columns at once)."""
    counts = np.asarray(data["counts"], dtype=np.int64)
    if counts.size != sketch.counts.size:
        raise ValueError("snapshot bins do not match the reference's bins")
    sketch.counts = counts
    n, mean, m2, low, high = data["moments"]
    sketch.moments = Moments(int(n), float(mean), float(m2),
                             float(low) if n else np.inf, float(high) if n else -np.inf)
    sketch.n_missing, sketch.n_nan, sketch.n_inf = (int(v) for v in data["missing"])
    return _unpack(data["sample"], "<f8"), _unpack(data["priorities"], "<u8")


def _categorical_to_dict(sketch: CategoricalSketch) -> dict[str, Any]:
    return {"counts": sketch.counts.tolist(), "missing": sketch.n_missing,
            "unseen": dict(sorted(sketch.unseen.items()))}


def _categorical_from_dict(sketch: CategoricalSketch, data: Mapping[str, Any]) -> None:
    counts = np.asarray(data["counts"], dtype=np.int64)
    if counts.size != sketch.counts.size:
        raise ValueError("snapshot categories do not match the reference's categories")
    sketch.counts = counts
    sketch.n_missing = int(data["missing"])
    sketch.unseen = {str(k): int(v) for k, v in data["unseen"].items()}


def sketch_to_dict(sketch: WindowSketch) -> dict[str, Any]:
    """A JSON-safe snapshot of ``sketch`` (its reference is stored apart)."""
    columns: dict[str, Any] = {}
    for name, column in sketch.columns.items():
        if isinstance(column, NumericSketch):
            columns[name] = {"kind": "numeric", **_numeric_to_dict(column)}
        else:
            columns[name] = {"kind": "categorical", **_categorical_to_dict(column)}
    return {"version": STATE_VERSION, "n_rows": sketch.n_rows, "seed": sketch.seed,
            "sample_cap": sketch.sample_cap, "max_unseen": sketch.max_unseen,
            "columns": columns}


def sketch_from_dict(reference: ReferenceProfile, data: Mapping[str, Any]) -> WindowSketch:
    """Rebuild a sketch of ``reference`` from ``sketch_to_dict`` output."""
    if data.get("version") != STATE_VERSION:
        raise ValueError(f"sketch snapshot version must be {STATE_VERSION}, "
                         f"got {data.get('version')!r}")
    sketch = WindowSketch(reference, sample_cap=int(data["sample_cap"]),
                          max_unseen=int(data["max_unseen"]), seed=int(data["seed"]))
    if set(data["columns"]) != set(sketch.columns):
        raise ValueError("snapshot columns do not match the reference's columns")
    sketch.n_rows = int(data["n_rows"])
    samples: dict[int, tuple[NDArray[np.float64], NDArray[np.uint64]]] = {}
    for name, column in sketch.columns.items():
        if isinstance(column, NumericSketch):
            samples[column.sample.index] = _numeric_from_dict(column, data["columns"][name])
        else:
            _categorical_from_dict(column, data["columns"][name])
    sketch.samples.restore([samples[i] for i in sorted(samples)])
    return sketch


def rows_to_dict(sample: RowSample) -> dict[str, Any]:
    """A JSON-safe snapshot of a row sample.

    Format 2: a text column is its table of distinct texts (``None`` first) and
    a code per row (``code_type``: unsigned, little-endian); a column's missing
    mask is saved only when the sample keeps one. ``rows_from_dict`` also reads
    format 1 (text as one value per row, every column with a mask).
    """
    columns: dict[str, Any] = {}
    masks = sample.masks
    for name in sample.names:
        if sample.is_text(name):
            codes, table = sample.text_codes(name)
            code_type = codes.dtype.newbyteorder("<").str
            columns[name] = {"kind": "text", "table": [None if v is None else str(v)
                                                       for v in table],
                             "code_type": code_type, "codes": _pack(codes, code_type)}
        else:
            columns[name] = {"kind": "float", "values": _pack(sample.values(name), "<f8")}
        mask = masks[name]
        if mask is not None:
            columns[name]["missing"] = _pack(mask, "u1")
    return {"version": ROWS_VERSION, "capacity": sample.capacity, "n_seen": sample.n_seen,
            "priorities": _pack(sample.priorities, "<u8"), "columns": columns}


def rows_from_dict(data: Mapping[str, Any]) -> RowSample:
    """Rebuild a row sample from ``rows_to_dict`` output (format 2, or 1 of older workers)."""
    version = data.get("version")
    if version not in (STATE_VERSION, ROWS_VERSION):
        raise ValueError(f"row sample snapshot version must be {STATE_VERSION} or "
                         f"{ROWS_VERSION}, got {version!r}")
    sample = RowSample(int(data["capacity"]))
    priorities = _unpack(data["priorities"], "<u8")
    columns: dict[str, NDArray[Any]] = {}
    masks: dict[str, NDArray[np.bool_]] = {}
    for name, column in data["columns"].items():
        if column["kind"] == "text" and "table" in column:
            table = np.empty(len(column["table"]), dtype=object)
            table[:] = column["table"]
            columns[name] = table[_unpack(column["codes"], column["code_type"])]
        elif column["kind"] == "text":  # format 1: equal texts become one ``str``
            canonical: dict[str, str] = {}
            columns[name] = np.empty(len(column["values"]), dtype=object)
            columns[name][:] = [None if v is None else canonical.setdefault(v, v)
                                for v in column["values"]]
        else:
            columns[name] = _unpack(column["values"], "<f8")
        masks[name] = _unpack(column["missing"], "u1").astype(bool) if "missing" in column \
            else np.zeros(priorities.size, dtype=bool)
    sample.add(columns, priorities, masks)
    sample.n_seen = int(data["n_seen"])
    return sample
