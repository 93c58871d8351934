"""The values the repository takes and gives back, validated where they enter.

Errors name the parameter, what is allowed and the value received (house rule 3).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from detectors import DriftReport, ReferenceProfile
from store.tables import REFERENCE_SOURCES, WINDOW_REFERENCE_SOURCES

MAX_BIGINT = 2**63 - 1


def check_text(name: str, value: Any) -> str:
    """A non-empty string."""
    if not isinstance(value, str) or not value:
        raise ValueError(f"{name} must be a non-empty string, got {value!r}")
    return value


def check_version(name: str, value: Any) -> str:
    """A model version: a string, ``''`` meaning any version; None reads as ``''``."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValueError(f"{name} must be a string or None, got {value!r}")
    return value


def check_count(name: str, value: Any, high: int = MAX_BIGINT) -> int:
    """An int in [0, high] (bool is refused)."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= high:
        raise ValueError(f"{name} must be an int in [0, {high}], got {value!r}")
    return value


def check_aware(name: str, value: Any) -> datetime:
    """A timezone-aware datetime."""
    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, got {value!r}")
    return value


def check_source(name: str, value: Any, allowed: tuple[str, ...] = REFERENCE_SOURCES) -> str:
    """Where a reference came from: one of ``REFERENCE_SOURCES`` (or ``allowed``)."""
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(allowed)}, got {value!r}")
    return str(value)


@dataclass(frozen=True)
class WindowRecord:
    """One closed window and its verdict, as ``save_window`` writes it.

    ``closed_at`` is when the window was finalised; None means "now" at save
    time. Giving it makes a replay write byte-identical rows.
    """

    model_id: str
    model_version: str
    window_start: datetime
    window_end: datetime
    n_events: int
    n_late: int
    reference_id: int | None
    reference_source: str
    report: DriftReport
    closed_at: datetime | None = None

    def __post_init__(self) -> None:
        check_text("model_id", self.model_id)
        check_version("model_version", self.model_version)
        if self.model_version is None:
            object.__setattr__(self, "model_version", "")
        check_aware("window_start", self.window_start)
        check_aware("window_end", self.window_end)
        if self.window_end <= self.window_start:
            raise ValueError(
                f"window_end must be after window_start ({self.window_start.isoformat()}), "
                f"got {self.window_end.isoformat()}"
            )
        check_count("n_events", self.n_events)
        check_count("n_late", self.n_late)
        if self.reference_id is not None:
            check_count("reference_id", self.reference_id)
        check_source("reference_source", self.reference_source, WINDOW_REFERENCE_SOURCES)
        if not isinstance(self.report, DriftReport):
            raise ValueError(f"report must be a DriftReport, got {type(self.report).__name__}")
        if self.closed_at is not None:
            check_aware("closed_at", self.closed_at)


@dataclass(frozen=True)
class StoredReference:
    """A reference profile as stored: ``model_version`` is ``''`` for any version."""

    id: int
    model_id: str
    model_version: str
    source: str
    profile: ReferenceProfile
    created_at: datetime


@dataclass(frozen=True)
class Checkpoint:
    """Where a consumer resumes on one partition, and its opaque saved state."""

    next_offset: int
    state: bytes
    updated_at: datetime


class NotFoundError(LookupError):
    """The target of a write does not exist (an HTTP API answers 404)."""
