"""Framework log floods thinned out: the first line of each kind, then one per interval.

A broker outage makes aiokafka log hundreds of ERROR and WARNING lines a second
(every consumer and producer of the worker reconnecting, "Unable to update
metadata", coordinator lookups failing...), all saying the same few things. The
worker's own lines about the outage (``broker_unreachable``, ``store_retry``) are
already rate-limited where they are logged; ``FloodFilter`` does the same for the
libraries' records, on the worker's log handler (``streams.runtime.logs``):

- it looks only at records of the loggers under ``FLOOD_LOGGERS`` (aiokafka,
  kafka, faust, mode) at WARNING and above; everything else passes untouched;
- a record's **kind** is its logger, level and message template (``record.msg``,
  before the arguments are put in), digits masked, so "node 1" and "node 2", or
  f-string messages differing by a port or an id, are one kind;
- the first record of a kind passes; later ones within ``interval`` seconds of the
  last that passed are counted, not written; the first after the interval passes
  with `` [N similar lines suppressed in the last S s]`` added to its message (and
  ``suppressed`` to its fields);
- ``take_suppressed`` hands out (and forgets) the counts not reported yet, so the
  worker's ``broker_reachable`` line says what the outage's flood held.

A kind not seen for ``interval`` seconds is forgotten (the table stays small), so
the next outage's first lines are written in full.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

FLOOD_LOGGERS = ("aiokafka", "kafka", "faust", "mode")
FLOOD_INTERVAL = 30.0  # seconds: at most one line per kind per interval after the first
_DIGITS = re.compile(r"\d+")


@dataclass
class _Kind:
    passed_at: float  # when a line of this kind was last written
    seen_at: float  # when one was last logged (written or not)
    suppressed: int = 0  # lines since passed_at not written


def kind_of(record: logging.LogRecord) -> tuple[str, int, str]:
    """What makes two records "the same line": logger, level, template with digits masked."""
    return record.name, record.levelno, _DIGITS.sub("#", str(record.msg))


def _flooding(name: str) -> bool:
    return any(name == prefix or name.startswith(prefix + ".") for prefix in FLOOD_LOGGERS)


class FloodFilter(logging.Filter):
    """Thins out repeated framework WARNING/ERROR lines (module docstring)."""

    def __init__(self, interval: float = FLOOD_INTERVAL,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.interval = interval
        self._clock = clock
        self._kinds: dict[tuple[str, int, str], _Kind] = {}
        self._unreported = 0  # suppressed lines not yet handed out by take_suppressed

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING or not _flooding(record.name):
            return True
        now = self._clock()
        self._forget(now)
        key = kind_of(record)
        kind = self._kinds.get(key)
        if kind is None:
            self._kinds[key] = _Kind(passed_at=now, seen_at=now)
            return True
        kind.seen_at = now
        if now - kind.passed_at < self.interval:
            kind.suppressed += 1
            self._unreported += 1
            return False
        if kind.suppressed:
            note = (f" [{kind.suppressed} similar lines suppressed in the last "
                    f"{now - kind.passed_at:.0f} s]")
            record.msg = f"{record.msg}{note.replace('%', '%%') if record.args else note}"
            record.suppressed = kind.suppressed
        kind.passed_at, kind.suppressed = now, 0
        return True

    def _forget(self, now: float) -> None:
        """Drop the kinds not seen for an interval (their suppressed lines stay counted)."""
        stale = [key for key, kind in self._kinds.items() if now - kind.seen_at >= self.interval]
        for key in stale:
            del self._kinds[key]

    def take_suppressed(self) -> int:
        """Lines suppressed since the last call."""
        count, self._unreported = self._unreported, 0
        return count


FLOODS = FloodFilter()  # the one on the worker's log handler (``streams.runtime.logs``)
