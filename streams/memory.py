"""Handing freed heap memory back to the operating system after a store (glibc only).

The worker frees most of what a batch allocates (fetched records, decoded
columns, checkpoint snapshots), but glibc's allocator keeps freed pages of its
arenas, so the resident size tracks the largest batches seen rather than what
is live. ``malloc_trim(0)`` returns those pages; it is called after each store
transaction, off the event loop. Elsewhere (musl, macOS) it is a no-op.
"""

from __future__ import annotations

import ctypes
import sys
from collections.abc import Callable


def _malloc_trim() -> Callable[[int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        function = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_size_t]
    function.restype = ctypes.c_int
    return function


_TRIM = _malloc_trim()


def can_trim() -> bool:
    """Whether this process's C library has ``malloc_trim``."""
    return _TRIM is not None


def trim() -> bool:
    """Return freed heap pages to the OS; True when memory was released."""
    return _TRIM is not None and bool(_TRIM(0))
