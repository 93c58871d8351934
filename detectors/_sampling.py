"""Deterministic, mergeable bounded samples (bottom-k by a hashed priority).

Every row carries a 64-bit priority derived from a stable row key by the
SplitMix64 finaliser. A sample of capacity ``k`` keeps the ``k`` rows with the
smallest priorities. Because "the k smallest of a union" equals "the k smallest
of the k smallest of each part", merging the samples of two halves gives exactly
the sample of the whole, in any order and any grouping. While a window holds at
most ``k`` values, the sample *is* the window, so statistics computed from it are
exact. Beyond ``k`` it is a uniform sample without replacement of the window's
rows (as uniform as the hash), which is what the KS error bound relies on.
"""

from __future__ import annotations

import hashlib

import numpy as np
from numpy.typing import NDArray

_MASK = (1 << 64) - 1
_GOLDEN_INT = 0x9E3779B97F4A7C15
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def row_priorities(keys: NDArray[np.uint64], seed: int = 0) -> NDArray[np.uint64]:
    """SplitMix64 of ``keys + (seed + 1) * golden``: stable 64-bit priorities for row keys.

    >>> int(row_priorities(np.array([0, 1], dtype=np.uint64))[1]) != 0
    True
    """
    z = keys.astype(np.uint64, copy=True)
    z += np.uint64(((seed + 1) * _GOLDEN_INT) & _MASK)  # wraps modulo 2**64
    z ^= z >> np.uint64(30)
    z *= _M1
    z ^= z >> np.uint64(27)
    z *= _M2
    z ^= z >> np.uint64(31)
    return z


def text_priority(text: str) -> int:
    """A stable 64-bit priority for a category name (independent of PYTHONHASHSEED)."""
    digest = hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "little")
