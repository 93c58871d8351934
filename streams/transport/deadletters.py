"""Dead-letter records as ``driftline deadletter`` reads, filters and shows them.

A dead letter is the JSON object ``streams.decoding.events.DeadLetter.to_json`` writes to
``driftline.deadletter`` (keyed by the invalid message's key)::

    {"reason": "bad_json", "error": "...", "topic": "driftline.predictions",
     "partition": 3, "offset": 1234,
     "key": {"encoding": "utf-8", "data": "fraud", "size": 5, "truncated": false},
     "value": {"encoding": "base64", "data": "...", "size": 17, "truncated": false}}

``key`` and ``value`` are null when the message had none. The time shown is
the dead-letter record's own Kafka timestamp: when the worker wrote it. A
record of the topic that is not such an object is kept as ``unreadable``, with
what is wrong, and never dropped silently.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

UNREADABLE = "unreadable"
FIELDS = ("reason", "error", "topic", "partition", "offset")
DETAIL_CHARS = 60
KEY_CHARS = 24


@dataclass(frozen=True)
class Letter:
    """One record of the dead-letter topic: where it is, when it was written, what it says."""

    partition: int  # of the dead-letter topic
    offset: int
    timestamp_ms: int | None
    value: bytes | None  # as stored
    record: dict[str, Any] | None  # the dead letter; None when unreadable
    problem: str | None = None  # why it is unreadable

    @property
    def reason(self) -> str:
        return str(self.record["reason"]) if self.record is not None else UNREADABLE

    @property
    def order(self) -> tuple[int, int, int]:
        """Oldest first: by write time, then partition and offset."""
        return (self.timestamp_ms if self.timestamp_ms is not None else -1,
                self.partition, self.offset)


def read_letter(partition: int, offset: int, timestamp_ms: int | None,
                value: bytes | None) -> Letter:
    """A record of the dead-letter topic as a ``Letter`` (``unreadable`` if not a dead letter).

    >>> read_letter(0, 7, 1000, b'{"reason": "bad_json", "error": "x", "topic": "t",'
    ...             b' "partition": 1, "offset": 2, "key": null, "value": null}').reason
    'bad_json'
    >>> read_letter(0, 8, 1000, b"[1]").problem
    'not a JSON object'
    """
    stamp = timestamp_ms if timestamp_ms is not None and timestamp_ms >= 0 else None
    if not value:
        return Letter(partition, offset, stamp, value, None, "empty record")
    try:
        record = json.loads(value)
    except (UnicodeDecodeError, ValueError) as exc:
        return Letter(partition, offset, stamp, value, None, f"not JSON ({exc})")
    if not isinstance(record, dict):
        return Letter(partition, offset, stamp, value, None, "not a JSON object")
    missing = [name for name in FIELDS if name not in record]
    if missing:
        return Letter(partition, offset, stamp, value, None, f"no {', '.join(missing)}")
    return Letter(partition, offset, stamp, value, record)


def selected(letter: Letter, reasons: Collection[str], since_ms: int | None) -> bool:
    """Whether ``letter`` has one of ``reasons`` (all when empty) and is not older than since."""
    if reasons and letter.reason not in reasons:
        return False
    return since_ms is None or (letter.timestamp_ms is not None
                                and letter.timestamp_ms >= since_ms)


def newest(letters: Iterable[Letter], limit: int) -> list[Letter]:
    """The ``limit`` newest letters, newest last."""
    return sorted(letters, key=lambda letter: letter.order)[-limit:] if limit > 0 else []


def truncate(text: str, width: int) -> str:
    """``text`` on one line, cut to ``width`` characters with an ellipsis.

    >>> truncate("expected `int`,\\n got `str`", 20)
    'expected `int`, got…'
    """
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[:width - 1] + "…"


def payload_text(payload: object) -> str:
    """A stored key (or value) as text: its UTF-8 text, ``base64:...``, or ``-`` for none."""
    if not isinstance(payload, dict):
        return "-"
    data = str(payload.get("data", ""))
    return data if payload.get("encoding") == "utf-8" else f"base64:{data}"


def time_text(timestamp_ms: int | None) -> str:
    """A Kafka timestamp as UTC RFC 3339 with milliseconds (``-`` for none).

    >>> time_text(1_700_000_000_123)
    '2023-11-14T22:13:20.123Z'
    """
    if timestamp_ms is None:
        return "-"
    moment = datetime.fromtimestamp(timestamp_ms / 1000, UTC)
    return moment.replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"


HEADER = ("TIME", "REASON", "TOPIC", "PARTITION", "OFFSET", "KEY", "DETAIL")


def table_row(letter: Letter, detail_chars: int = DETAIL_CHARS) -> tuple[str, ...]:
    """One letter's cells: time, reason, source topic, partition and offset, key, detail."""
    if letter.record is None:
        where = f"dead-letter record {letter.partition}/{letter.offset}"
        return (time_text(letter.timestamp_ms), UNREADABLE, "-", "-", "-", "-",
                truncate(f"{where}: {letter.problem}", detail_chars))
    record = letter.record
    return (time_text(letter.timestamp_ms), letter.reason, str(record["topic"]),
            str(record["partition"]), str(record["offset"]),
            truncate(payload_text(record.get("key")), KEY_CHARS),
            truncate(str(record["error"]), detail_chars))


def render_table(letters: list[Letter], detail_chars: int = DETAIL_CHARS) -> str:
    """An aligned text table, one line per letter in the given order (numbers right-aligned)."""
    rows = [HEADER, *(table_row(letter, detail_chars) for letter in letters)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADER))]
    right = {HEADER.index("PARTITION"), HEADER.index("OFFSET")}
    lines = []
    for row in rows:
        cells = [cell.rjust(widths[i]) if i in right else cell.ljust(widths[i])
                 for i, cell in enumerate(row)]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def json_line(letter: Letter) -> str:
    """The dead letter as stored: its JSON text, unchanged when it is on one line.

    Only for readable letters (their value is a JSON object).
    """
    assert letter.value is not None
    assert letter.record is not None
    text = letter.value.decode("utf-8")
    return text if "\n" not in text else json.dumps(letter.record, ensure_ascii=False)
