"""Seeded data for the multivariate tests (``streams.devtools.multivariate_data``): the
butterfly here always carries three irrelevant features."""

from __future__ import annotations

from functools import partial

from streams.devtools.multivariate_data import ROTATED, WEEK, mixed
from streams.devtools.multivariate_data import butterfly as _butterfly

butterfly = partial(_butterfly, noise=3)

__all__ = ["ROTATED", "WEEK", "butterfly", "mixed"]
