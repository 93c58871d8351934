"""The worker's heap: glibc malloc settings, trimming after stores, memory gauges.

Decisions (measured with the worker's memory bench; the figures are in
bench/README.md, "Streaming" and "Figures behind decisions in the code"):

- ``configure()`` runs once when the worker starts, before its threads exist. It
  fixes glibc's mmap threshold at ``MMAP_THRESHOLD`` (256 KiB). By default glibc
  raises the threshold each time a large mmapped block is freed (up to 32 MiB),
  and from then on blocks below it come from the heap, where freeing them keeps
  the pages: the checkpoint snapshots and sample compactions of a 100,000-row
  window then left memory resident that nothing used. With a fixed threshold
  every block of 256 KiB or more is its own mapping and goes back to the OS when
  freed; a fixed threshold also keeps the trim threshold at glibc's 128 KiB. An
  operator's own ``MALLOC_MMAP_THRESHOLD_`` (or ``GLIBC_TUNABLES`` setting it)
  wins.
- ``configure()`` also makes Arrow allocate from its bundled jemalloc instead
  of its default mimalloc, which kept more of the decode threads' freed pages
  resident. Not the C library's malloc (Arrow's system pool): with
  the fixed mmap threshold every large buffer of the JSON parse would be a fresh
  mapping, faulted in page by page, and the decode took longer; with
  jemalloc it is as fast as with mimalloc. (A pyarrow built without jemalloc
  gets the system pool.) ``ARROW_DEFAULT_MEMORY_POOL`` set by an operator wins.
- ``trim()``: ``malloc_trim(0)`` after each store transaction, off the event
  loop, and once when a fetch comes back empty after work (the worker has
  caught up), returns the free pages left inside the heap by smaller blocks.
- ``register(registry)``: ``driftline_process_*`` (resident and virtual memory,
  CPU, open files, from ``prometheus_client``) and ``driftline_arrow_allocated_bytes``
  (what Arrow's default memory pool holds: the JSON parse of batches in flight).

Elsewhere (musl, macOS) the malloc settings and ``trim`` do nothing.
"""

from __future__ import annotations

import ctypes
import sys
from collections.abc import Callable, Mapping

from prometheus_client import CollectorRegistry, Gauge, ProcessCollector

MMAP_THRESHOLD = 256 * 1024
_M_MMAP_THRESHOLD = -3  # mallopt parameter numbers of glibc's malloc.h


def _libc_function(name: str, argtypes: list[type]) -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        function = getattr(ctypes.CDLL(None), name)
    except (OSError, AttributeError):
        return None
    function.argtypes = argtypes
    function.restype = ctypes.c_int
    return function  # type: ignore[no-any-return]


_TRIM = _libc_function("malloc_trim", [ctypes.c_size_t])
_MALLOPT = _libc_function("mallopt", [ctypes.c_int, ctypes.c_int])


def can_trim() -> bool:
    """Whether this process's C library has ``malloc_trim``."""
    return _TRIM is not None


def trim() -> bool:
    """Return freed heap pages to the OS; True when memory was released."""
    return _TRIM is not None and bool(_TRIM(0))


def configure(environ: Mapping[str, str]) -> list[str]:
    """Apply the allocator settings of the module docstring; the ones applied, by name.

    ``environ`` is the process environment, where an operator's own setting wins.
    """
    applied = []
    if _MALLOPT is not None and "MALLOC_MMAP_THRESHOLD_" not in environ \
            and "mmap_threshold" not in environ.get("GLIBC_TUNABLES", "") \
            and _MALLOPT(_M_MMAP_THRESHOLD, MMAP_THRESHOLD):
        applied.append("mmap_threshold")
    if "ARROW_DEFAULT_MEMORY_POOL" not in environ:
        import pyarrow

        try:
            pool, name = pyarrow.jemalloc_memory_pool(), "arrow_jemalloc_pool"
        except NotImplementedError:  # a pyarrow built without jemalloc
            pool, name = pyarrow.system_memory_pool(), "arrow_system_pool"
        pyarrow.set_memory_pool(pool)
        applied.append(name)
    return applied


def register(registry: CollectorRegistry) -> None:
    """The process and Arrow memory series on ``registry``."""
    ProcessCollector(namespace="driftline", registry=registry)
    arrow = Gauge("driftline_arrow_allocated_bytes", "Bytes held by Arrow's default memory "
                  "pool (decoded batches in flight)", registry=registry)
    arrow.set_function(_arrow_allocated)


def _arrow_allocated() -> float:
    pyarrow = sys.modules.get("pyarrow")  # not imported: nothing allocated
    return float(pyarrow.total_allocated_bytes()) if pyarrow is not None else 0.0
