"""The worker's heap: malloc settings, trimming after stores, memory series (glibc)."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest
from prometheus_client import CollectorRegistry

from streams.runtime import memory

GLIBC = sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"
glibc_only = pytest.mark.skipif(not GLIBC, reason="glibc's malloc only")

# In a fresh interpreter: free a 4 MiB block (glibc then raises its mmap threshold to
# 4 MiB), optionally configure, and report whether a 1 MiB block is mapped on its own,
# and the backend of Arrow's default pool.
_MAPPED_ALONE = """
import ctypes, sys
import pyarrow
from streams.runtime import memory

class Info(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in ("arena", "ordblks", "smblks", "hblks",
                "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]

libc = ctypes.CDLL(None)
libc.mallinfo2.restype = Info
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
libc.free(libc.malloc(4 << 20))
if sys.argv[1] == "configure":
    assert memory.configure({}) == ["mmap_threshold", "arrow_jemalloc_pool"]
before = libc.mallinfo2().hblkhd
block = libc.malloc(1 << 20)
print(libc.mallinfo2().hblkhd - before >= 1 << 20, pyarrow.default_memory_pool().backend_name)
libc.free(block)
"""


def _mapped_alone(mode: str) -> tuple[bool, str]:
    done = subprocess.run([sys.executable, "-c", _MAPPED_ALONE, mode], capture_output=True,
                          text=True, check=True, timeout=60)
    mapped, backend = done.stdout.split()
    return mapped == "True", backend


def test_trim_is_available_on_glibc_and_returns_a_bool() -> None:
    assert memory.can_trim() == GLIBC
    blocks = [bytearray(64 * 1024) for _ in range(200)]  # freed below, kept by the allocator
    del blocks
    assert isinstance(memory.trim(), bool)


@glibc_only
def test_configure_fixes_the_mmap_threshold_and_arrows_pool() -> None:
    mapped, backend = _mapped_alone("default")
    assert not mapped  # glibc's moving threshold keeps the block in the heap
    assert backend == "mimalloc"
    assert _mapped_alone("configure") == (True, "jemalloc")


def test_an_operators_own_allocator_settings_win() -> None:
    arrow = {"ARROW_DEFAULT_MEMORY_POOL": "mimalloc"}
    assert memory.configure({"MALLOC_MMAP_THRESHOLD_": "65536", **arrow}) == []
    assert memory.configure({"GLIBC_TUNABLES": "glibc.malloc.mmap_threshold=65536", **arrow}) \
        == []


def test_process_and_arrow_memory_series() -> None:
    import pyarrow as pa

    registry = CollectorRegistry()
    memory.register(registry)
    if sys.platform.startswith("linux"):  # prometheus_client reads /proc
        resident = registry.get_sample_value("driftline_process_resident_memory_bytes")
        assert resident is not None
        assert resident > 10 * 2**20
    held = pa.allocate_buffer(1 << 20)
    arrow = registry.get_sample_value("driftline_arrow_allocated_bytes")
    assert arrow is not None
    assert arrow >= 1 << 20
    del held
