"""Tumbling event-time windows per (model, version), with a watermark and a grace period.

Rules (the same for every model):

* An event belongs to the window ``[k*size, (k+1)*size)`` holding its event time
  (seconds since the epoch, UTC). With ``count`` set instead, a window closes
  after that many events, in the order they arrive (see "Count windows").
* The model's watermark is the largest event time seen. A window closes when the
  watermark passes its end plus the grace period, or when the model has seen no
  event for ``idle_timeout`` seconds of processing time. Windows close in order.
* An event whose window has already closed is *late*: it is counted, per model,
  and never mixed into a closed window.
* A window sketches its rows against the model's current reference. While the
  model has no reference (or under the ``previous_window`` policy, always), it
  also keeps a row sample from which a reference can be built when it closes;
  windows still open then are re-sketched from their rows against the new one.
* Gathering a reference (``first_window``): the rows of the windows that close
  while the model has no reference are gathered, in the order the windows
  close, until they hold ``reference_rows`` events (``thresholds.min_reference_rows``,
  10,000 by default); the window that completes them carries the gathered rows
  (``ClosedWindow.gathered``) and its reference is built from them. The windows
  before it have no verdict (``insufficient_data``). The gathered rows are part
  of the snapshot, so a restart goes on gathering where it was.

Count windows: a window holds ``count`` consecutive events of its (model, version)
in arrival order, so its event times may interleave with its neighbours' when
events come out of order. Its bounds are bookkeeping that name it, not a rule of
membership: ``start`` is its first event's time, or the previous window's ``end``
when that is later, and ``end`` is its latest event time, at least ``MIN_SPAN``
after ``start``. So starts strictly increase and ``end > start`` always holds, and
``start`` identifies the window in the store as it does a time window. Which
window each event of a batch went to is left in ``row_windows`` (its start, per
row) for the label join: a label joins its prediction, which carries that start,
however late it comes (``streams.labels.join``). All of it is deterministic, so a batch
replayed after a restart lands in the same windows.

Evidence across windows: while the policy pools (``pool_windows`` > 1), a closed
window's sketch is kept for the windows after it when it holds fewer than
``pool_below_rows`` events and was sketched against a reference when it closed
(never under ``previous_window``, whose every window has a reference of its own);
the last ``pool_windows - 1`` are kept, and any other window (a larger one, one
without a sketch at closing) or a new reference clears them. Each closing window
carries the kept sketches of its reference (``ClosedWindow.previous``), which
``detectors.evaluate`` pools with it (``detectors.pooling``). They are part of
the snapshot, so a restart pools as an uninterrupted run does.

Everything here is in memory and deterministic; the ingest service persists it
(``to_dict``/``from_dict``) with the offsets it covers.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from detectors import ProfileOptions, ReferenceProfile, WindowSketch
from detectors._sampling import row_priorities
from detectors.estimate import ScoreSketch
from detectors.rowsample import RowSample
from detectors.state import rows_from_dict, rows_to_dict, sketch_from_dict, sketch_to_dict
from streams.config.settings import MIN_SPAN, WindowSettings


class BatchLike(Protocol):
    """The columns of one model's events in one batch (``streams.decoding.events.ModelBatch``)."""

    event_times: NDArray[np.float64]
    row_keys: NDArray[np.uint64]
    columns: dict[str, NDArray[Any]]
    missing: dict[str, NDArray[np.bool_]]


@dataclass(frozen=True)
class ReferenceHandle:
    """A stored reference: its id in SQL, where it came from, and the profile."""

    id: int
    source: str
    profile: ReferenceProfile


@dataclass(frozen=True)
class WindowRules(WindowSettings):
    """A model's window settings, plus whether closed windows keep their row sample."""

    keep_rows: bool = False  # the previous_window policy: every window may become a reference
    reference_rows: int = 0  # first_window: events gathered before a reference is built
    # Evidence across windows: the policy's pool_windows and pool_below_rows.
    pool_windows: int = 1
    pool_below_rows: int = 0


@dataclass
class Window:
    start: float
    end: float
    n_events: int = 0
    sketch: WindowSketch | None = None
    rows: RowSample | None = None
    reference: ReferenceHandle | None = None
    scores: ScoreSketch = field(default_factory=ScoreSketch)


@dataclass
class ClosedWindow:
    model_id: str
    model_version: str
    window: Window
    n_late: int
    # The rows gathered for a reference, when this window completes them (module docstring).
    gathered: RowSample | None = None
    # The sketches of the windows closed before it against its reference, oldest first,
    # with that reference, for the pooled test (module docstring, "Evidence across
    # windows"); ``previous_for`` picks those of the reference it is judged against.
    previous: tuple[tuple[ReferenceHandle, WindowSketch], ...] = ()

    def previous_for(self, reference: ReferenceHandle) -> tuple[WindowSketch, ...]:
        """The previous sketches made against ``reference`` (the handle itself: a stored
        reference replaced in place keeps its id): a window re-sketched against another
        reference after closing pools with none."""
        return tuple(sketch for ref, sketch in self.previous if ref is reference)


def _slice(batch: Mapping[str, NDArray[Any]], rows: NDArray[Any] | slice
           ) -> dict[str, NDArray[Any]]:
    return {name: values[rows] for name, values in batch.items()}


@dataclass
class ModelWindows:
    """The open windows of one (model, version) and its watermark."""

    model_id: str
    model_version: str
    rules: WindowRules
    options: ProfileOptions
    reference: ReferenceHandle | None = None
    watermark: float = -math.inf
    closed_until: float = -math.inf
    last_event_at: float = 0.0
    n_late: int = 0
    windows: dict[float, Window] = field(default_factory=dict)
    # Rows of closed windows gathered for a reference, and whether they were completed
    # (a reference is being stored: the windows closing until it is adopted wait for it).
    gathering: RowSample | None = None
    gathered: bool = False
    # The end of the last closed window known stored (``closed_until`` once every closed
    # window is): the ingest drops the state of a silent version only then.
    stored_until: float = field(default=-math.inf, compare=False)
    # Count windows: the start of the window each row of the last batch went to.
    row_windows: NDArray[np.float64] | None = field(default=None, compare=False, repr=False)
    # The sketches of the last closed windows, with their reference's id, for pooling.
    recent: list[tuple[ReferenceHandle, WindowSketch]] = field(default_factory=list, compare=False,
                                                    repr=False)

    def _new_window(self, start: float, end: float) -> Window:
        window = Window(start, end, reference=self.reference)
        if self.reference is not None:
            window.sketch = self._sketch(self.reference)
        if self.reference is None or self.rules.keep_rows:
            window.rows = RowSample(self.options.sample_cap)
        return window

    def _sketch(self, reference: ReferenceHandle) -> WindowSketch:
        return WindowSketch(reference.profile, sample_cap=self.options.sample_cap,
                            max_unseen=self.options.max_unseen, seed=self.options.seed)

    def _feed(self, window: Window, batch: BatchLike, rows: NDArray[Any] | slice) -> None:
        columns, missing = _slice(batch.columns, rows), _slice(batch.missing, rows)
        keys = batch.row_keys[rows]
        window.n_events += len(keys)
        if window.sketch is not None:
            window.sketch.update(columns, missing=missing, row_keys=keys)
        if window.rows is not None:
            window.rows.add(columns, row_priorities(keys, self.options.seed), missing)
        _feed_scores(window.scores, columns)

    def add(self, batch: BatchLike, now: float) -> list[ClosedWindow]:
        """Route a batch to its windows; return the windows it closes, oldest first."""
        self.row_windows = None
        if len(batch.row_keys) == 0:
            return []
        self.last_event_at = now
        if self.rules.count is not None:
            return self._add_counted(batch, self.rules.count)
        times = batch.event_times
        late = times < self.closed_until
        self.n_late += int(late.sum())
        starts = np.floor(times / self.rules.size) * self.rules.size
        for start in np.unique(starts[~late]).tolist():
            window = self.windows.get(start)
            if window is None:
                window = self.windows[start] = self._new_window(start, start + self.rules.size)
            self._feed(window, batch, np.flatnonzero((starts == start) & ~late))
        self.watermark = max(self.watermark, float(times.max()))
        return self._close(lambda w: w.end + self.rules.grace <= self.watermark)

    def _add_counted(self, batch: BatchLike, count: int) -> list[ClosedWindow]:
        closed: list[ClosedWindow] = []
        position, times = 0, batch.event_times
        assigned = np.empty(len(times), np.float64)
        while position < len(times):
            if not self.windows:
                start = max(float(times[position]), self.closed_until)
                self.windows[start] = self._new_window(start, start + MIN_SPAN)
            window = next(iter(self.windows.values()))
            take = slice(position, position + min(count - window.n_events, len(times) - position))
            self._feed(window, batch, take)
            assigned[take] = window.start
            window.end = max(window.end, float(times[take].max()))
            position = take.stop
            if window.n_events >= count:
                closed += self._close(lambda w: True)
        self.row_windows = assigned
        return closed

    def tick(self, now: float) -> list[ClosedWindow]:
        """Close every open window when the model has been idle for ``idle_timeout``."""
        if self.windows and now - self.last_event_at >= self.rules.idle_timeout:
            return self._close(lambda w: True)
        return []

    def _close(self, due: Callable[[Window], bool]) -> list[ClosedWindow]:
        closed = []
        for start in sorted(self.windows):
            window = self.windows[start]
            if not due(window):
                break
            del self.windows[start]
            self.closed_until = max(self.closed_until, window.end)
            closed.append(ClosedWindow(self.model_id, self.model_version, window, self.n_late,
                                       self._gather(window), self._previous(window)))
            self._remember(window)
        return closed

    def _previous(self, window: Window) -> tuple[tuple[ReferenceHandle, WindowSketch], ...]:
        """The recent sketches ``window`` may be pooled with: those of its reference."""
        if window.reference is None or window.sketch is None:
            return ()
        return tuple(item for item in self.recent if item[0] is window.reference)

    def _remember(self, window: Window) -> None:
        """Keep a closed window's sketch for the windows after it, while it may pool:
        at most ``pool_windows - 1``, each of fewer than ``pool_below_rows`` events.
        Any other window ends the run of pooled windows."""
        if self.rules.pool_windows <= 1 or self.rules.keep_rows:
            return  # previous_window: each window has a reference of its own
        if window.reference is None or window.sketch is None \
                or window.n_events >= self.rules.pool_below_rows:
            self.recent.clear()
            return
        window.sketch.samples.compact()  # read-only from now on, by any thread
        self.recent.append((window.reference, window.sketch))
        del self.recent[:-(self.rules.pool_windows - 1)]

    def _gather(self, window: Window) -> RowSample | None:
        """Add a closed window's rows to the reference being gathered; the gathered rows
        when they now hold ``reference_rows`` events (module docstring)."""
        if self.reference is not None or self.gathered or self.rules.keep_rows \
                or window.rows is None:
            return None
        if self.gathering is None:
            self.gathering = RowSample(self.options.sample_cap)
        self.gathering.merge(window.rows)
        if self.gathering.n_seen < self.rules.reference_rows:
            return None
        done, self.gathering, self.gathered = self.gathering, None, True
        return done

    def adopt(self, reference: ReferenceHandle) -> None:
        """Use ``reference`` from now on; open windows are re-sketched from their rows."""
        self.reference = reference
        self.gathering, self.gathered = None, False
        self.recent.clear()
        for window in self.windows.values():
            self.attach(window)

    def attach(self, window: Window, reference: ReferenceHandle | None = None) -> None:
        """Sketch ``window`` (open or just closed) against ``reference`` or the current one.

        Only ``window`` changes, so a closed window may be attached in another thread.
        """
        reference = reference or self.reference
        if reference is None:
            return
        window.reference = reference
        window.sketch = self._sketch(reference)
        if window.rows is not None and window.rows.priorities.size:
            window.sketch.update(window.rows.columns(), missing=window.rows.missing())
            window.sketch.n_rows = window.n_events
        if not self.rules.keep_rows:
            window.rows = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe snapshot; references are saved by id (they live in SQL)."""
        return {
            "model_id": self.model_id, "model_version": self.model_version,
            "watermark": _finite(self.watermark), "closed_until": _finite(self.closed_until),
            "n_late": self.n_late,
            "reference_id": self.reference.id if self.reference else None,
            "windows": [_window_to_dict(w) for _, w in sorted(self.windows.items())],
            "gathering": rows_to_dict(self.gathering) if self.gathering else None,
            "gathered": self.gathered,
            "recent": [{"reference_id": ref.id, "sketch": sketch_to_dict(sketch)}
                       for ref, sketch in self.recent],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], rules: WindowRules, options: ProfileOptions,
                  references: Callable[[int], ReferenceHandle], now: float) -> ModelWindows:
        """Rebuild from ``to_dict``; ``references`` loads a reference by its id."""
        ref_id = data["reference_id"]
        state = cls(str(data["model_id"]), str(data["model_version"]), rules, options,
                    reference=references(ref_id) if ref_id is not None else None,
                    watermark=_infinite(data["watermark"]),
                    closed_until=_infinite(data["closed_until"]),
                    last_event_at=now, n_late=int(data["n_late"]))
        state.stored_until = state.closed_until  # a checkpoint holds no unstored closed window
        for item in data["windows"]:
            window = _window_from_dict(item, references)
            state.windows[window.start] = window
        if data.get("gathering"):  # snapshots written before gathering have none
            state.gathering = rows_from_dict(data["gathering"])
        # A completed gathering is stored in the transaction of the checkpoint that names
        # its reference; a checkpoint without one was written when the window that made
        # it was set aside: gathering starts again.
        state.gathered = False
        for item in data.get("recent", ()):  # none in older snapshots
            ref = references(int(item["reference_id"]))
            state.recent.append((ref, sketch_from_dict(ref.profile, item["sketch"])))
        return state


def _feed_scores(sketch: ScoreSketch, columns: Mapping[str, NDArray[Any]]) -> None:
    """Count the (prediction, score) pairs the performance estimate needs.

    Only binary predictions count (0/1 numbers, or the texts 0/1/true/false); a
    score outside [0, 1] is taken as missing.
    """
    prediction, score = columns.get("prediction"), columns.get("score")
    if prediction is None or score is None or score.dtype != np.float64:
        return
    if prediction.dtype == np.float64:
        usable = (prediction == 0) | (prediction == 1)
        pred = prediction
    else:
        texts = np.char.lower(np.where(prediction == None, "", prediction).astype(str))  # noqa: E711
        pred = np.select([np.isin(texts, ("1", "true")), np.isin(texts, ("0", "false"))],
                         [1.0, 0.0], -1.0)
        usable = pred >= 0
    if not usable.any():
        return
    picked = score[usable]
    picked = np.where((picked >= 0) & (picked <= 1), picked, np.nan)
    sketch.update(pred[usable].astype(np.int64), picked)


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _infinite(value: float | None) -> float:
    return -math.inf if value is None else float(value)


def _window_to_dict(window: Window) -> dict[str, Any]:
    return {
        "start": window.start, "end": window.end, "n_events": window.n_events,
        "reference_id": window.reference.id if window.reference else None,
        "sketch": sketch_to_dict(window.sketch) if window.sketch else None,
        "rows": rows_to_dict(window.rows) if window.rows else None,
        "scores": window.scores.to_dict() if window.scores.n or window.scores.n_unscored
        else None,
    }


def _window_from_dict(data: Mapping[str, Any], references: Callable[[int], ReferenceHandle]
                      ) -> Window:
    ref = references(data["reference_id"]) if data["reference_id"] is not None else None
    return Window(
        start=float(data["start"]), end=float(data["end"]), n_events=int(data["n_events"]),
        sketch=sketch_from_dict(ref.profile, data["sketch"]) if ref and data["sketch"] else None,
        rows=rows_from_dict(data["rows"]) if data["rows"] else None,
        reference=ref,
        scores=ScoreSketch.from_dict(data["scores"]) if data.get("scores") else ScoreSketch(),
    )
