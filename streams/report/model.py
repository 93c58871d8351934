"""What a report page shows, gathered from either source before any HTML is written.

Decisions:

- Columns are the verdict's JSON form (``ColumnDrift.to_dict()``, as ``compare
  --format json`` prints and as the store keeps per window), so both sources feed
  the page the same shape.
- A numeric column is drawn over the reference's quantile bins, equal widths on the
  page: each reference bin holds about the same share, and a drifted current side
  shows as bars that leave that level. The edges label the bins. A categorical
  column is drawn over the reference's top categories, "other known" and "unseen";
  beyond ``MAX_CATEGORIES`` bars the smallest reference categories join "other known".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

import numpy as np

from detectors.reference import CategoricalReference, ColumnReference, NumericReference

MAX_CATEGORIES = 20
OTHER = "other known"
UNSEEN = "unseen"


@dataclass(frozen=True)
class Distribution:
    """Shares per bin or category of the reference and, when known, the current side."""

    labels: tuple[str, ...]
    reference: tuple[float, ...]
    current: tuple[float, ...] | None


@dataclass(frozen=True)
class Timeline:
    """The windows of a time range: their starts and per-window values to draw."""

    times: tuple[str, ...]
    drift_share: tuple[float | None, ...]
    n_events: tuple[int, ...]
    effects: dict[str, tuple[float | None, ...]]
    performance: dict[str, tuple[float | None, ...]]
    estimate: dict[str, tuple[float | None, ...]]
    detections: tuple[dict[str, Any], ...]
    detection_windows: tuple[int, ...]
    statuses: tuple[str, ...]


@dataclass(frozen=True)
class ReportData:
    """Everything the page shows (``streams.report.page.render`` writes it)."""

    title: str
    verdict: dict[str, Any]
    columns: tuple[dict[str, Any], ...]
    distributions: dict[str, Distribution]
    facts: tuple[tuple[str, str], ...]
    settings: dict[str, Any]
    performance: dict[str, dict[str, Any] | None] | None = None
    timeline: Timeline | None = None
    notes: tuple[str, ...] = field(default=())


def _shares(counts: np.ndarray[Any, Any] | list[int] | tuple[int, ...]) -> tuple[float, ...]:
    values = np.asarray(counts, dtype=np.float64)
    total = float(values.sum())
    return tuple(float(v) for v in (values / total if total else values))


def _edge(value: float) -> str:
    return f"{value:.3g}"


def bin_labels(edges: tuple[float, ...]) -> tuple[str, ...]:
    """Labels of right-closed bins with open extremes: ``≤a``, ``a–b``, ``>z``."""
    if not edges:
        return ("all",)
    inner = [f"{_edge(a)}–{_edge(b)}" for a, b in pairwise(edges)]
    return (f"≤{_edge(edges[0])}", *inner, f">{_edge(edges[-1])}")


def expected_counts(reference: ColumnReference) -> int:
    """How many counts a window of this reference column has (``ColumnDrift.counts``)."""
    if isinstance(reference, NumericReference):
        return len(reference.edges) + 1
    return len(reference.categories) + 2


def distribution(reference: ColumnReference, counts: Sequence[int] | None) -> Distribution:
    """The drawing of one column: reference bins or categories, and the current side's
    counts in them (a sketch's ``counts`` or a stored window's), when known.

    Counts of another length than the reference's bins (a window of another reference)
    are not drawn."""
    current = None if counts is None or len(counts) != expected_counts(reference) \
        else [int(c) for c in counts]
    if isinstance(reference, NumericReference):
        return Distribution(bin_labels(reference.edges), _shares(reference.counts),
                            None if current is None else _shares(current))
    return _categories(reference, current)


def _categories(reference: CategoricalReference, counts: list[int] | None) -> Distribution:
    keep = MAX_CATEGORIES - 2
    labels = [*reference.categories[:keep], OTHER, UNSEEN]
    ref_counts = [*reference.counts[:keep],
                  sum(reference.counts[keep:]) + reference.other_count, 0]
    current = None
    if counts is not None:
        top, rest = counts[: len(reference.categories)], counts[len(reference.categories):]
        current = _shares([*top[:keep], sum(top[keep:]) + rest[0], rest[1]])
    return Distribution(tuple(labels), _shares(ref_counts), current)
