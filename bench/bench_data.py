"""The benchmark's synthetic data: one reference and one window, written once as Parquet.

100,000 reference rows and 100,000 window rows, 20 numeric and 5 categorical
features, drawn from a seeded numpy generator. Five features are shifted in the
window (four numeric, one categorical); the other twenty follow the reference's
distributions. Every categorical column has about 1% nulls (missing values).

Both sides of the benchmark read the same files: ``reference.parquet`` and
``current.parquet`` under ``bench/data/`` (git-ignored), with ``meta.json``
beside them naming each column's kind and the shifted columns. The files are
written again only when ``meta.json`` describes a different spec.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from numpy.typing import NDArray

Kind = Literal["numeric", "categorical"]
Columns = dict[str, NDArray[Any]]

DATA_DIR = Path(__file__).resolve().parent / "data"
DATA_VERSION = 2
N_NUMERIC = 20
N_CATEGORICAL = 5
CATEGORY_COUNTS = (5, 12, 30, 80, 400)
NULL_SHARE = 0.01


@dataclass(frozen=True)
class Spec:
    """What the files hold; a change of any field regenerates them."""

    version: int = DATA_VERSION
    seed: int = 20_261_122
    reference_rows: int = 100_000
    current_rows: int = 100_000


@dataclass(frozen=True)
class Dataset:
    """The columns of both tables, read back from Parquet, and their kinds."""

    reference: Columns
    current: Columns
    kinds: dict[str, Kind]
    shifted: tuple[str, ...]

    @property
    def n_features(self) -> int:
        return len(self.kinds)


NUMERIC = tuple(f"num_{i:02d}" for i in range(N_NUMERIC))
CATEGORICAL = tuple(f"cat_{i}" for i in range(N_CATEGORICAL))
KINDS: dict[str, Kind] = {
    **dict.fromkeys(NUMERIC, "numeric"),
    **dict.fromkeys(CATEGORICAL, "categorical"),
}
SHIFTED = ("num_00", "num_05", "num_10", "num_15", "cat_0")

Draw = Callable[[np.random.Generator, int, bool], NDArray[np.float64]]


def _normal(g: np.random.Generator, n: int, shift: bool) -> NDArray[np.float64]:
    return g.normal(10.0 + (1.0 if shift else 0.0), 2.0, n)  # mean moves by 0.5 sd


def _lognormal(g: np.random.Generator, n: int, shift: bool) -> NDArray[np.float64]:
    return g.lognormal(3.0, 0.8 * (1.5 if shift else 1.0), n)  # spread grows 50%


def _gamma(g: np.random.Generator, n: int, shift: bool) -> NDArray[np.float64]:
    return g.gamma(2.0, 5.0 * (1.5 if shift else 1.0), n)  # scale grows 50%


def _mixture(g: np.random.Generator, n: int, shift: bool) -> NDArray[np.float64]:
    high = g.random(n) < (0.50 if shift else 0.30)  # one mode gains 20 points of mass
    return np.where(high, g.normal(5.0, 1.0, n), g.normal(0.0, 1.0, n))


DRAWS: tuple[Draw, ...] = (_normal, _lognormal, _gamma, _mixture)


def _category_probabilities(g: np.random.Generator, k: int) -> NDArray[np.float64]:
    weights = 1.0 / np.arange(1, k + 1) ** 1.1  # Zipf-like, as real categories are
    g.shuffle(weights)
    return np.asarray(weights / weights.sum(), dtype=np.float64)


def _categorical(
    g: np.random.Generator, n: int, names: NDArray[np.str_], p: NDArray[np.float64]
) -> NDArray[np.object_]:
    values = np.asarray(names[g.choice(names.size, size=n, p=p)], dtype=object)
    values[g.random(n) < NULL_SHARE] = None
    return values


def _table(spec: Spec, rows: int, stream: int, current: bool) -> Columns:
    shapes = np.random.default_rng([spec.seed, 0])  # distributions shared by both tables
    g = np.random.default_rng([spec.seed, stream])
    columns: Columns = {}
    for i, name in enumerate(NUMERIC):
        draw = DRAWS[i // (N_NUMERIC // len(DRAWS))]
        columns[name] = draw(g, rows, current and name in SHIFTED)
    for name, k in zip(CATEGORICAL, CATEGORY_COUNTS, strict=True):
        names = np.array([f"{name}_v{j:03d}" for j in range(k)])
        p = _category_probabilities(shapes, k)
        if current and name in SHIFTED:
            p = 0.6 * p + 0.4 * p[::-1]  # mass moves from the common to the rare values
        columns[name] = _categorical(g, rows, names, p)
    return columns


def _write(columns: Columns, path: Path) -> None:
    arrays = {
        name: pa.array(values, type=pa.float64() if KINDS[name] == "numeric" else pa.string())
        for name, values in columns.items()
    }
    pq.write_table(pa.table(arrays), path)


def read_columns(path: Path) -> Columns:
    """Numeric columns as float64 arrays, categorical ones as object arrays (None = null)."""
    table = pq.read_table(path)
    return {
        name: np.asarray(table.column(name).to_numpy(zero_copy_only=False),
                         dtype=np.float64 if kind == "numeric" else object)
        for name, kind in KINDS.items()
    }


def _meta(spec: Spec) -> dict[str, Any]:
    return {"spec": asdict(spec), "kinds": KINDS, "shifted": list(SHIFTED),
            "reference": "reference.parquet", "current": "current.parquet"}


def ensure_data(spec: Spec | None = None, data_dir: Path = DATA_DIR) -> Path:
    """Write the Parquet files unless ``data_dir`` already holds this spec; return its path."""
    spec = spec or Spec()
    meta_path = data_dir / "meta.json"
    meta = _meta(spec)
    if meta_path.exists() and json.loads(meta_path.read_text()) == meta:
        return data_dir
    data_dir.mkdir(parents=True, exist_ok=True)
    meta_path.unlink(missing_ok=True)
    _write(_table(spec, spec.reference_rows, 1, current=False), data_dir / meta["reference"])
    _write(_table(spec, spec.current_rows, 2, current=True), data_dir / meta["current"])
    meta_path.write_text(json.dumps(meta, indent=2) + "\n")
    return data_dir


def load(data_dir: Path = DATA_DIR) -> Dataset:
    """Read both tables back (what the Evidently side reads too)."""
    meta = json.loads((data_dir / "meta.json").read_text())
    return Dataset(
        reference=read_columns(data_dir / meta["reference"]),
        current=read_columns(data_dir / meta["current"]),
        kinds=dict(meta["kinds"]),
        shifted=tuple(meta["shifted"]),
    )
