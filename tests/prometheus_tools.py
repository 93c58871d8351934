"""The Prometheus tools (Debian's prometheus and prometheus-alertmanager, installed by
``make test``): missing means skipped with the reason, except under CI=true, where it fails."""

from __future__ import annotations

import os
import shutil

import pytest


def tool(name: str) -> str:
    """The path of ``name``, or a skip (a failure under CI=true)."""
    path = shutil.which(name)
    if path is None:
        reason = f"{name} is not installed (make test installs Debian's prometheus packages)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{reason}; CI=true: these tests must run")
        pytest.skip(reason)
    return path
