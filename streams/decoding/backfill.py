"""Backfill: replaying history through the live pipeline, marked by a Kafka header.

A record with the header ``driftline-backfill: 1`` (``driftline backfill`` and
``driftline replay --backfill`` set it) is an event of the past sent on purpose.
The worker validates its ``event_time`` against ``ingest.backfill_max_past``
(730 days by default) instead of ``ingest.max_past`` (7 days); everything else
is as for live events:

- ``ingest.max_future`` still applies (a backfill of the future is a clock bug);
- its windows are the model's windows: event time, the model's watermark and
  grace, closed by the watermark as the history advances and, after the last
  event, by ``window.idle_timeout`` of processing time;
- an event older than a window the model has already closed is *late*, as any
  late event: counted in ``driftline_late_events_total`` and the window's
  ``n_late``, never stored in a window. So a backfill of a model version whose
  live windows are newer than the backfill is counted late, and the worker
  says so in a WARNING line (``LateBackfillLog``): backfill under a model
  version (or model id) of its own, or before the live traffic starts.

Alert rules judge live windows only: a drift or performance window that ended
before ``ingest.max_past`` (it can only hold backfill events) is stored, with its
performance and detections, but notifies no one and asks for no retrain
(``is_live``); last month's drift is history, not a page.

Only the header is read, not the payload, so a malformed line of a backfill is
dead-lettered like any other. A header the worker does not know, or a value
other than ``1``, means a live event.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Sequence
from operator import attrgetter
from typing import Any, TypeVar

import msgspec

from streams.config.settings import IngestSettings
from streams.decoding.events import DeadLetter

log = logging.getLogger(__name__)
HEADER = "driftline-backfill"
HEADERS: list[tuple[str, bytes]] = [(HEADER, b"1")]
M = TypeVar("M")
_HEADERS_OF = attrgetter("headers")  # RawMessage and aiokafka's ConsumerRecord both have them


def is_backfill(message: Any) -> bool:
    """Whether a consumed record (anything with ``headers``) carries the backfill header."""
    headers: Sequence[tuple[str, bytes]] | None = getattr(message, "headers", None)
    if not headers:
        return False
    return any(key == HEADER and value == b"1" for key, value in headers)


def split(messages: Sequence[M]) -> tuple[Sequence[M], list[M]]:
    """(live records, backfill records), each in the order given; the first is
    ``messages`` itself when none is a backfill (the common case costs one pass)."""
    if not any(map(_HEADERS_OF, messages)):  # one pass, in C (bench/README.md)
        return messages, []
    live: list[M] = []
    backfill: list[M] = []
    for message in messages:
        (backfill if is_backfill(message) else live).append(message)
    return live, backfill


def backfill_ingest(ingest: IngestSettings) -> IngestSettings:
    """The ingest limits of backfill events: ``backfill_max_past`` in place of ``max_past``."""
    return dataclasses.replace(ingest, max_past=ingest.backfill_max_past)


def named(dead_letters: list[DeadLetter]) -> list[DeadLetter]:
    """A backfill's dead letters, their bound named ``ingest.backfill_max_past``."""
    return [msgspec.structs.replace(d, detail=d.detail.replace("ingest.max_past",
                                                               "ingest.backfill_max_past"))
            if d.reason == "past_timestamp" else d for d in dead_letters]


def is_live(window_end: float, ingest: IngestSettings, now: float | None = None) -> bool:
    """Whether a window ending at ``window_end`` (epoch seconds) may hold live events, so
    alert rules judge it: it ended within ``ingest.max_past`` of ``now``."""
    return window_end >= (time.time() if now is None else now) - ingest.max_past


class LateBackfillLog:
    """A WARNING at most once a minute per model version whose backfill events are late."""

    def __init__(self, interval: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = interval
        self._clock = clock
        self._last: dict[tuple[str, str], float] = {}
        self._counts: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()

    def note(self, model_id: str, version: str, late: int, closed_until: float) -> bool:
        """Count ``late`` backfill events of a model version; True when a line was logged."""
        if late <= 0:
            return False
        key = (model_id, version)
        with self._lock:
            self._counts[key] = self._counts.get(key, 0) + late
            now = self._clock()
            if now - self._last.get(key, -float("inf")) < self.interval:
                return False
            self._last[key] = now
            count = self._counts.pop(key)
        log.warning(
            "backfill: %d event(s) of model %r version %r are older than its windows "
            "already closed (up to %s): counted as late, not stored; backfill a model "
            "version without newer windows (see docs/backfill.md)", count, model_id, version,
            time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(closed_until)))
        return True

