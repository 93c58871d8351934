"""The columns as numbers: missing values imputed, categories frequency-encoded.

Shared by the multivariate statistics. A numeric column's missing values (NaN,
infinite) become its reference mean; a categorical column's (None, NaN) its
most frequent category; a category becomes its share of the reference rows,
the ``top`` most frequent their own, every other category (and any the
reference never had) the pooled share of the rest.

>>> encoding = categorical_encoding(np.array(["a", "a", "b", None], dtype=object), top=1)
>>> encoding
CategoricalEncoding(shares={'a': 0.75}, other=0.25, mode='a')
>>> encoding.encode(np.array(["b", None, "new"], dtype=object)).tolist()
[0.25, 0.75, 0.25]
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

Columns = Mapping[str, NDArray[Any]]


@dataclass(frozen=True)
class CategoricalEncoding:
    """A categorical column's frequency encoding: each kept category's share of the reference."""

    shares: dict[str, float]  # the top categories, by text
    other: float  # the pooled share of every other category (0 when there were none)
    mode: str  # the most frequent category: what a missing value becomes

    def encode(self, values: NDArray[Any]) -> NDArray[np.float64]:
        keys = np.asarray([self.mode if is_missing(v) else str(v) for v in values.tolist()],
                          dtype=object)
        if keys.size == 0:
            return np.empty(0, dtype=np.float64)
        texts, inverse = np.unique(keys, return_inverse=True)
        shares = np.asarray([self.shares.get(text, self.other) for text in texts.tolist()],
                            dtype=np.float64)
        return np.asarray(shares[inverse.reshape(-1)], dtype=np.float64)


def categorical_encoding(values: NDArray[Any], top: int) -> CategoricalEncoding | None:
    """The encoding of a reference column; None when every value is missing."""
    keys = [None if is_missing(v) else str(v) for v in values.tolist()]
    seen = [key for key in keys if key is not None]
    if not seen:
        return None
    texts, counts = np.unique(np.asarray(seen, dtype=object), return_counts=True)
    order = np.argsort(-counts, kind="stable")  # ties: by text
    counts[order[0]] += len(keys) - len(seen)  # missing values take the mode
    shares = {str(texts[i]): float(counts[i] / len(keys)) for i in order[:top]}
    other = float(counts[order[top:]].sum() / len(keys))
    return CategoricalEncoding(shares, other, str(texts[order[0]]))


def encode(columns: Columns, numeric: Mapping[str, float],
            categorical: Mapping[str, CategoricalEncoding]) -> NDArray[np.float64]:
    """The n x d matrix: ``numeric`` columns (name -> imputed mean), then ``categorical``."""
    n = rows(columns)
    out = np.empty((n, len(numeric) + len(categorical)), dtype=np.float64)
    for j, (name, mean) in enumerate(numeric.items()):
        values = column(columns, name)
        if is_categorical(values):
            raise ValueError(f"column {name!r} is numeric in the reference but not in the window")
        x = np.asarray(values, dtype=np.float64)
        out[:, j] = np.where(np.isfinite(x), x, mean)
    for j, (name, encoding) in enumerate(categorical.items(), start=len(numeric)):
        out[:, j] = encoding.encode(column(columns, name))
    return out


def column(columns: Columns, name: str) -> NDArray[Any]:
    values = columns.get(name)
    if values is None:
        raise ValueError(f"the window has no column {name!r}")
    return values


def rows(columns: Columns) -> int:
    sizes = {values.shape[0] for values in columns.values()}
    if len(sizes) > 1:
        raise ValueError(f"columns must have one length, got {sorted(sizes)}")
    return sizes.pop() if sizes else 0


def is_categorical(values: NDArray[Any]) -> bool:
    """Object and string arrays hold categories; every other dtype holds numbers."""
    return values.dtype.kind in "OUS"


def is_missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))
