"""Memory probe of the streaming benchmark's workers (``bench/stream.py --memory-breakdown``).

Loaded at interpreter start-up (this directory is put on the workers'
``PYTHONPATH``) when ``BENCH_MEMPROBE_DIR`` names a directory. On the signal
``SIGRTMIN + 5`` the process writes ``<directory>/<pid>.json``: its resident
memory (anonymous and file-backed), glibc malloc's ``mallinfo2`` (bytes in use,
free inside the heap, in mmapped blocks), Python's small-object arenas, Arrow's
memory pool, the thread count, and the resident size after a ``malloc_trim(0)``
(what the heap held free). Read-only otherwise; never loaded by the worker
itself.
"""

from __future__ import annotations

import os


def _install(directory: str) -> None:
    import ctypes
    import json
    import re
    import signal
    import sys
    import tempfile
    import threading
    from typing import Any

    class MallInfo2(ctypes.Structure):
        _fields_ = [(name, ctypes.c_size_t) for name in (
            "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks",
            "uordblks", "fordblks", "keepcost")]

    libc = ctypes.CDLL(None)
    libc.mallinfo2.restype = MallInfo2

    def status() -> dict[str, int]:
        fields = {}
        with open("/proc/self/status") as lines:
            for line in lines:
                key, _, value = line.partition(":")
                if key in ("VmRSS", "RssAnon", "RssFile", "RssShmem"):
                    fields[key] = int(value.split()[0]) * 1024
        return fields

    def small_object_arenas() -> int:
        """Bytes of pymalloc's arenas (``sys._debugmallocstats`` writes to fd 2)."""
        saved = os.dup(2)
        with tempfile.TemporaryFile() as out:
            os.dup2(out.fileno(), 2)
            try:
                sys._debugmallocstats()
            finally:
                os.dup2(saved, 2)
                os.close(saved)
            out.seek(0)
            text = out.read().decode(errors="replace")
        found = re.search(r"(\d+) arenas \* (\d+) bytes/arena", text)
        return int(found.group(1)) * int(found.group(2)) if found else -1

    def write(signum: int, frame: Any) -> None:
        info = libc.mallinfo2()
        data: dict[str, Any] = {
            **status(), "malloc_in_use": info.uordblks, "malloc_free": info.fordblks,
            "malloc_mmapped": info.hblkhd, "small_object_arenas": small_object_arenas(),
            "threads": threading.active_count()}
        pyarrow = sys.modules.get("pyarrow")
        if pyarrow is not None:
            pool = pyarrow.default_memory_pool()
            data.update(arrow_backend=pool.backend_name, arrow_allocated=pool.bytes_allocated(),
                        arrow_peak=pool.max_memory())
        libc.malloc_trim(0)
        data["rss_after_trim"] = status()["VmRSS"]
        path = os.path.join(directory, f"{os.getpid()}.json")
        with open(path + ".tmp", "w") as out:
            json.dump(data, out)
        os.replace(path + ".tmp", path)

    signal.signal(signal.SIGRTMIN + 5, write)


if os.environ.get("BENCH_MEMPROBE_DIR"):
    _install(os.environ["BENCH_MEMPROBE_DIR"])
