"""Committed generated files: write them, or with ``--check`` compare and name the stale.

``client.schema`` (the event schemas), ``dashboards.build`` (the dashboards' JSON) and
``streams.config.schema`` (the configuration's schema) each render text that is committed;
``make event-schema``, ``make dashboards`` and ``make config-schema`` write it and tests
run the ``--check`` form. Only the standard library is imported here, so the light
``client`` package can use it too.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path


def write_or_check(files: Mapping[Path, str], *, check: bool, stale_message: str) -> int:
    """Write each file's text (creating its folder), or with ``check`` only compare.

    A file that is missing or differs is stale: ``stale_message`` is printed to stderr
    with ``{files}`` replaced by the stale paths (comma-separated) and the exit status
    is 1. Otherwise (and always when writing) it is 0.
    """
    if not check:
        for path, text in files.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        return 0
    stale = [str(path) for path, text in files.items()
             if not path.exists() or path.read_text(encoding="utf-8") != text]
    if stale:
        print(stale_message.format(files=", ".join(stale)), file=sys.stderr)
        return 1
    return 0
