"""The type of the ``make_window`` fixture (``tests/unit/store/conftest.py``)."""

from __future__ import annotations

from collections.abc import Callable

from store import WindowRecord

MakeWindow = Callable[..., WindowRecord]
