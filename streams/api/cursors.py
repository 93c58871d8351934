"""Page cursors: the key of a page's last row (``store.pages.After``), opaque to clients.

A cursor is URL-safe base64 of ``<ISO time>|<row id>``. It is only valid for the
list it came from; a cursor that does not decode, or whose row id is outside the
database's 64-bit ids (the query would fail), is a 422.
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime

from store.pages import After
from streams.api.problems import ProblemError

MAX_ROW_ID = 2**63 - 1


def encode(after: After | None) -> str | None:
    if after is None:
        return None
    text = f"{after.time.isoformat()}|{after.id}"
    return base64.urlsafe_b64encode(text.encode("utf-8")).decode("ascii").rstrip("=")


def decode(cursor: str | None) -> After | None:
    if cursor is None:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        time, _, row_id = base64.urlsafe_b64decode(padded.encode("ascii")).decode(
            "utf-8").partition("|")
        when = datetime.fromisoformat(time)
        if when.tzinfo is None:
            raise ValueError("naive time")
        found = int(row_id)
        if not 0 <= found <= MAX_ROW_ID:
            raise ValueError("row id out of range")
        return After(when, found)
    except (ValueError, binascii.Error, UnicodeError):
        raise ProblemError(422, "invalid cursor: pass the next_cursor of the previous page "
                              "unchanged") from None
