"""What the streaming benchmark reads from a worker's SQLite database (read-only).

The worker writes windows, and its window state with the offsets it covers
(``ingest_checkpoints``: zlib-compressed JSON, arrays as base64), in WAL mode,
so these reads never block it.
"""

from __future__ import annotations

import base64
import contextlib
import json
import sqlite3
import sys
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from detectors._shared_sample import SharedSample
from detectors.state import rows_from_dict


def _connect(database: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=5.0,
                           isolation_level=None)


def checkpointed(database: Path, topic: str) -> int:
    """Sum of the checkpointed next offsets of ``topic`` (events covered, read from 0).

    The label, join and outcome consumers checkpoint their own topics in the same
    table, hence the topic.
    """
    try:
        with contextlib.closing(_connect(database)) as conn:
            row = conn.execute("SELECT coalesce(sum(next_offset), 0) FROM "
                               "ingest_checkpoints WHERE topic = ?", (topic,)).fetchone()
    except sqlite3.OperationalError:  # no database or no schema yet
        return 0
    return int(row[0])


def checkpoint_arrays(database: Path, topic: str) -> dict[str, int]:
    """Bytes of the arrays in the checkpointed window state of ``topic``, by part.

    ``sketch samples``: the bounded KS samples of the open windows' sketches, as
    the worker holds them (``detectors._shared_sample``: rebuilt from the
    snapshot's values and priorities, their bytes counted); ``row sample``: a
    window's row sample, likewise rebuilt (``detectors.rowsample``: numbers,
    missing masks, priorities, text codes and tables, and one ``str`` object per
    distinct text).
    """
    sizes = {"sketch samples": 0, "row sample": 0}
    with contextlib.closing(_connect(database)) as conn:
        blobs = [row[0] for row in conn.execute(
            "SELECT state FROM ingest_checkpoints WHERE topic = ?", (topic,))]
    for blob in blobs:
        for model in json.loads(zlib.decompress(blob))["models"]:
            for window in model["windows"]:
                sketch, rows = window.get("sketch"), window.get("rows")
                if sketch:
                    sizes["sketch samples"] += _sample_bytes(sketch)
                if rows:
                    sizes["row sample"] += _row_bytes(rows)
    return sizes


def _sample_bytes(sketch: dict[str, Any]) -> int:
    samples = [(np.frombuffer(base64.b64decode(c["sample"]), "<f8"),
                np.frombuffer(base64.b64decode(c["priorities"]), "<u8"))
               for c in sketch["columns"].values() if c["kind"] == "numeric"]
    shared = SharedSample(int(sketch["sample_cap"]), len(samples))
    shared.restore(samples)
    return shared.nbytes


def _row_bytes(rows: dict[str, Any]) -> int:
    """The row sample as the worker holds it: rebuilt from the snapshot, its arrays
    (``RowSample.nbytes``: codes or float64 values, masks, priorities, text tables)
    plus one ``str`` object per text in the tables."""
    sample = rows_from_dict(rows)
    texts = {text for name in sample.names if sample.is_text(name)
             for text in sample.text_codes(name)[1] if text is not None}
    return sample.nbytes + sum(sys.getsizeof(text) for text in texts)


def windows_stored(database: Path, model_id: str) -> int:
    """Rows in the ``windows`` table for ``model_id`` (0 before the schema exists)."""
    try:
        with contextlib.closing(_connect(database)) as conn:
            row = conn.execute("SELECT count(*) FROM windows WHERE model_id = ?",
                               (model_id,)).fetchone()
    except sqlite3.OperationalError:
        return 0
    return int(row[0])
