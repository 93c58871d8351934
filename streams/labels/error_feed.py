"""The error stream of one (model, version), put in event-time order for its detector.

Outcomes reach the performance consumer in the order their labels were joined,
which is not the order of the predictions: labels come late by varying amounts,
through several partitions, and a label that arrives before its prediction is
joined when the prediction comes. A River detector is order-sensitive, so feeding
it in arrival order made its detections (positions and event times) depend on
the machine's timing, and a detection could name a prediction older than the
outcomes whose change it detected.

``ErrorFeed`` holds each outcome's error until its span of event time is final
and releases errors in a deterministic order:

* **Order.** Released errors are sorted by the prediction's event time, then by
  ``prediction_id`` (ties), whatever order and batches they came in.
* **Final.** A span is final once every source has shown a labelled prediction
  ``delay`` seconds of event time later: everything older than
  ``min(newest of each source) - delay`` is released. A source is the join
  partition the outcomes came from; each runs through event time at its own
  pace (in a backfill one can be hours of event time ahead of another), so the
  feed waits for the slowest one seen instead of leaving the others' outcomes
  out as late. Until then errors wait, so the detector trails the labels by
  ``delay``.
* **Silent sources.** A source that has sent nothing for ``idle_after`` seconds
  of processing time (default ``IDLE_AFTER``, 5 minutes) is not waited for while
  it stays silent, the way stream processors mark an input idle (Flink's
  ``withIdleness``): otherwise one partition that stops carrying a model's
  outcomes (its traffic moved, or it was that model's only outcome long ago)
  would hold every later error back, and memory would grow with them, for as
  long as it is silent. Its outcomes that come back older than the release
  point count as late. A backfill keeps every source busy, so this does not
  cut in there; it is the one place processing time enters the order.
* **Sources known in advance.** ``sources`` (the join topic's partitions) are
  waited for from the start, before they have sent anything, so the first
  release does not leave out a partition whose first outcomes come a little
  after the others'. One that never speaks is not waited for after
  ``idle_after``.
* **Late.** An outcome whose prediction is older than the release point when it
  arrives (its span was already fed), or ``delay`` behind an earlier outcome of
  its own source, is left out of the detector and counted in ``late``; the
  performance windows still count it. Within a source, whether an outcome is
  late depends only on the outcomes before it, never on how they were cut into
  batches: the mark in front of each row is the running maximum of its source's
  rows before it, as if every outcome came alone.

So for the same outcomes the detector sees the same values in the same order,
however they were batched, and however their arrival was shuffled as long as no
outcome comes ``delay`` (event time) behind the newest one of its source and
every source has been seen before the first release. A detection's event
time is then the latest prediction time among the values it rests on. Memory is
the outcomes of ``delay`` seconds of event time (time, id and error each); the
pending errors are part of the snapshot.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

Floats = NDArray[np.float64]

IDLE_AFTER = 300.0  # seconds of processing time: a source silent this long is not waited for


class _Chunk:
    """Pending errors of one batch (kept apart so a release skips the newer batches)."""

    __slots__ = ("errors", "ids", "low", "times")

    def __init__(self, times: Floats, ids: NDArray[Any], errors: Floats) -> None:
        self.times, self.ids, self.errors = times, ids, errors
        self.low = float(times.min())


class ErrorFeed:
    """Errors waiting for their span to be final; see the module docstring."""

    def __init__(self, delay: float, idle_after: float = IDLE_AFTER,
                 clock: Callable[[], float] = time.monotonic,
                 sources: Iterable[int] = ()) -> None:
        if isinstance(delay, bool) or not isinstance(delay, int | float) \
                or not math.isfinite(delay) or delay < 0:
            raise ValueError(f"delay must be a finite number of seconds >= 0, got {delay!r}")
        if not idle_after > 0:
            raise ValueError(f"idle_after must be > 0 seconds, got {idle_after!r}")
        self.delay = float(delay)
        self.idle_after = float(idle_after)
        self.sources: dict[int, float] = {}  # the latest one of each source
        self._clock = clock
        self._heard: dict[int, float] = {}  # processing time of each source's latest batch
        for source in sources:  # known before they speak: waited for from the start
            self.sources[source] = -math.inf
            self._heard[source] = clock()
        self.newest = -math.inf  # the latest prediction event time seen
        self.released = -math.inf  # every error before this event time has been released
        self.late = 0  # outcomes that came after their span was released
        self._chunks: list[_Chunk] = []

    @property
    def pending(self) -> int:
        """How many errors wait for their span to be final."""
        return sum(chunk.times.size for chunk in self._chunks)

    def add(self, times: Floats, ids: Sequence[str], errors: Floats, source: int = 0) -> int:
        """Hold one batch of one ``source`` (in arrival order); return how many were late."""
        times = np.asarray(times, np.float64)
        errors = np.asarray(errors, np.float64)
        if not times.size == len(ids) == errors.size:
            raise ValueError(f"times, ids and errors must have equal lengths, got "
                             f"{times.size}, {len(ids)} and {errors.size}")
        if not times.size:
            return 0
        self._heard[source] = self._clock()
        own = self.sources.get(source, -math.inf)
        before = np.maximum.accumulate(np.concatenate(([own], times[:-1])))
        late = times < np.maximum(before - self.delay, self.released)
        self.newest = max(self.newest, float(times.max()))
        self.sources[source] = max(own, float(times.max()))
        kept = np.flatnonzero(~late)
        if kept.size:
            self._chunks.append(_Chunk(times[kept], np.asarray(ids, object)[kept],
                                       errors[kept]))
        count = int(late.sum())
        self.late += count
        return count

    def release(self) -> tuple[Floats, Floats]:
        """The errors now final, in order, and their prediction event times."""
        point = min(self._waited_for(), default=-math.inf) - self.delay
        if point <= self.released:
            return np.empty(0, np.float64), np.empty(0, np.float64)
        self.released = point
        times: list[Floats] = []
        ids: list[NDArray[Any]] = []
        errors: list[Floats] = []
        kept: list[_Chunk] = []
        for chunk in self._chunks:
            if chunk.low >= point:
                kept.append(chunk)
                continue
            due = chunk.times < point
            times.append(chunk.times[due])
            ids.append(chunk.ids[due])
            errors.append(chunk.errors[due])
            if not due.all():
                kept.append(_Chunk(chunk.times[~due], chunk.ids[~due], chunk.errors[~due]))
        self._chunks = kept
        if not times:
            return np.empty(0, np.float64), np.empty(0, np.float64)
        all_times = np.concatenate(times)
        order = np.lexsort((np.concatenate(ids).astype(str), all_times))
        return all_times[order], np.concatenate(errors)[order]

    def _waited_for(self) -> list[float]:
        """The marks of the sources heard from within ``idle_after`` (all, if none was)."""
        now = self._clock()
        heard = [mark for source, mark in self.sources.items()
                 if now - self._heard.get(source, now) <= self.idle_after]
        return heard or list(self.sources.values())

    # ----- snapshots -------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """JSON-safe: the pending errors in arrival order and the marks."""
        chunks = self._chunks
        return {"newest": None if math.isinf(self.newest) else self.newest,
                "released": None if math.isinf(self.released) else self.released,
                "late": self.late,
                "sources": [[k, v] for k, v in sorted(self.sources.items())],
                "times": [t for c in chunks for t in c.times.tolist()],
                "ids": [i for c in chunks for i in c.ids.tolist()],
                "errors": [e for c in chunks for e in c.errors.tolist()]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], delay: float, idle_after: float = IDLE_AFTER,
                  clock: Callable[[], float] = time.monotonic) -> ErrorFeed:
        """Rebuild from ``to_dict`` under the current ``delay``; every source counts as
        heard from now (silence is measured from the restore)."""
        feed = cls(delay, idle_after, clock)
        feed.newest = -math.inf if data["newest"] is None else float(data["newest"])
        feed.sources.clear()
        feed.released = -math.inf if data["released"] is None else float(data["released"])
        feed.late = int(data["late"])
        if "sources" in data:
            feed.sources = {int(k): float(v) for k, v in data["sources"]}
        elif not math.isinf(feed.newest):  # written before sources were told apart
            feed.sources = {0: feed.newest}
        feed._heard = dict.fromkeys(feed.sources, clock())
        times = np.array(data["times"], np.float64)
        if times.size:
            feed._chunks = [_Chunk(times, np.array(data["ids"], object),
                                   np.array(data["errors"], np.float64))]
        return feed
