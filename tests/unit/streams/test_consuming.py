"""Offsets applied in sequence (``streams.consuming.in_sequence``), shared by every consumer."""

from __future__ import annotations

from dataclasses import dataclass

from streams.consuming import in_sequence


@dataclass
class Record:
    offset: int


def offsets(records: list[Record]) -> list[int]:
    return [r.offset for r in records]


def test_a_fresh_partition_takes_what_comes() -> None:
    records, rewind = in_sequence([Record(5), Record(6)], None, None)
    assert (offsets(records), rewind) == ([5, 6], False)


def test_repeated_offsets_are_dropped() -> None:
    records, rewind = in_sequence([Record(3), Record(4), Record(5)], 4, None)
    assert (offsets(records), rewind) == ([4, 5], False)


def test_a_gap_is_refetched_once_then_accepted() -> None:
    assert in_sequence([Record(7), Record(8)], 5, None) == ([], True)
    assert in_sequence([Record(7), Record(8)], 5, 3) == ([], True)
    records, rewind = in_sequence([Record(7), Record(8)], 5, 5)  # seen again after a rewind
    assert (offsets(records), rewind) == ([7, 8], False)
