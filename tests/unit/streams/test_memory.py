"""malloc_trim after stores: present on glibc, a no-op elsewhere."""

from __future__ import annotations

import platform
import sys

from streams import memory


def test_trim_is_available_on_glibc_and_returns_a_bool() -> None:
    glibc = sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"
    assert memory.can_trim() == glibc
    blocks = [bytearray(64 * 1024) for _ in range(200)]  # freed below, kept by the allocator
    del blocks
    assert isinstance(memory.trim(), bool)
