"""Reading the windows a worker stored back from the database."""

from __future__ import annotations

from typing import Any

from store import repository
from store.engine import make_engine


def stored_windows(database_url: str) -> list[dict[str, Any]]:
    """The stored windows of model ``fraud``, oldest first."""
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            return repository.list_windows(conn, "fraud")
    finally:
        engine.dispose()


def stored_counts(database_url: str, model: str) -> list[int]:
    """The event counts of ``model``'s stored windows, oldest first."""
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            return [w["n_events"] for w in repository.list_windows(conn, model)]
    finally:
        engine.dispose()


def stored_total(database_url: str, model: str) -> int:
    return sum(stored_counts(database_url, model))
