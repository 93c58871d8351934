"""The hot path: a batched consumer of prediction events, with exactly-once window counts.

Kafka delivers at least once; window counts must be exact. So the window state
of each partition is checkpointed to SQL *together with the offset it covers*
(one transaction, which also holds any window closed by that batch), and a
partition assigned to this worker — at start, after a crash or in a rebalance —
is restored from its checkpoint and consumed from exactly that offset. An event
delivered again after a crash is therefore counted once, and a window closed
twice (the crash fell between close and the next checkpoint) is rewritten with
the same rows by the idempotent upserts.

Batches, not messages: ``getmany`` returns up to ``ingest.max_batch`` records per
call; they are decoded and validated together (``streams.decoding.events``), turned into
numpy columns per model, and fed to the windows in one vectorised update. Invalid
events go to the dead-letter topic (flushed before the checkpoint passes them);
while events are dead-lettered as ``past_timestamp`` a WARNING says so once a
minute. Backfill records (``streams.decoding.backfill``, a Kafka header) are decoded apart
under ``ingest.backfill_max_past`` and go to the same windows; late ones are
logged.

Database trouble stops progress, not data: a failed transaction is retried with
capped exponential backoff, nothing is acknowledged meanwhile, and the window
stays in memory until it is stored. A window the database refuses for its data
(``store.errors.is_permanent``: a value or key it can never take) is the
exception: each window is written under its own savepoint, and one refused for
good is set aside (an ERROR line, ``driftline_windows_set_aside_total{model}``)
so the other windows and every partition's checkpoint still commit.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
import zlib
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any

import msgspec
import numpy as np
from numpy.typing import NDArray
from sqlalchemy import Engine

from alerting.apply import apply_facts
from alerting.model import AlertEvent
from detectors.catalogue import ESTIMATED_METRICS
from detectors.estimate import ScoreCalibration, estimate
from store import repository
from store.errors import is_permanent
from store.performance import load_calibration, save_estimate
from streams.alerts.hub import AlertHub
from streams.config.settings import Settings
from streams.decoding.backfill import LateBackfillLog, backfill_ingest, is_live, named, split
from streams.decoding.columns import ModelBatch, NameBudget
from streams.decoding.events import DeadLetter, Message, PastTimestampLog
from streams.decoding.fastdecode import DecodedColumns, decode_prediction_columns
from streams.ingest.closing import Finalised, finalise
from streams.ingest.facts import drift_facts
from streams.ingest.feature_cap import FeatureCap, held_names
from streams.ingest.model_cap import ModelCap
from streams.ingest.windows import ClosedWindow, ModelWindows, ReferenceHandle, WindowRules
from streams.labels.bundles import encode, split_predictions
from streams.runtime import loglines, memory
from streams.runtime.health import Health
from streams.runtime.metrics import Metrics
from streams.transport.consuming import retrying

log = logging.getLogger(__name__)

# Distinct message keys whose invalid events one partition keeps count of: keys are
# producer-chosen, so the count of a flood of made-up keys must not grow unbounded.
MAX_INVALID_KEYS = 1000
_STATE_ENCODER = msgspec.json.Encoder()


@dataclass
class PartitionState:
    """The open windows of one partition and the offset they cover."""

    partition: int
    models: dict[tuple[str, str], ModelWindows] = field(default_factory=dict)
    next_offset: int | None = None
    checkpointed_offset: int | None = None
    rewound_to: int | None = None  # the offset last rewound to after a gap
    # Invalid events per message key (model id) not yet counted towards a closed window
    # (alert facts); checkpointed with the windows, so a restart neither loses nor
    # double counts them.
    invalid: Counter[str] = field(default_factory=Counter)

    def count_invalid(self, key: str) -> None:
        """One more invalid event of ``key``; keys beyond ``MAX_INVALID_KEYS`` are not kept."""
        if key in self.invalid or len(self.invalid) < MAX_INVALID_KEYS:
            self.invalid[key] += 1

    def snapshot(self) -> bytes:
        return pack_snapshot(self.snapshot_state())

    def snapshot_state(self) -> dict[str, Any]:
        """The state as JSON-safe data, independent of the live windows."""
        return {"version": 1, "models": [m.to_dict() for m in self.models.values()],
                "invalid": dict(self.invalid)}


def pack_snapshot(state: dict[str, Any]) -> bytes:
    """The checkpoint's bytes: the state's JSON in a zlib stream of stored (uncompressed) blocks.

    The state is mostly base64 of float64 samples: zlib's fastest level shrinks it
    somewhat, for more CPU than that is worth on every checkpoint of every partition
    (measured: bench/README.md, "Streaming" and "Figures behind decisions in the
    code"). Stored blocks cost a copy; readers decompress as before, older rows
    included.

    The JSON is written by msgspec, as the join's and the outcomes' snapshots are: the
    same document as ``json.dumps`` (without its spaces), faster on these long base64
    texts (bench/README.md, "Streaming"). The state holds finite
    floats only (non-finite values travel inside the base64 arrays), so msgspec's
    writing of a non-finite float as ``null`` never applies; ``json.dumps`` with
    ``allow_nan=False`` would have refused one.
    """
    return zlib.compress(_STATE_ENCODER.encode(state), 0)


@dataclass
class StoreJob:
    """What one store transaction writes, taken from the live state at one moment.

    ``checkpoints`` holds each partition's offset and state snapshot as they were
    then, so the transaction may run in a thread while the event loop goes on
    applying later batches (the closed windows are no longer part of the state).
    """

    closed: list[tuple[PartitionState, ClosedWindow]]
    checkpoints: list[tuple[PartitionState, int, dict[str, Any]]]
    finalised: list[Finalised] = field(default_factory=list)
    adopted: list[tuple[PartitionState, tuple[str, str], ReferenceHandle]] = field(
        default_factory=list)
    estimates: list[dict[str, Any] | None] = field(default_factory=list)
    invalid: dict[str, int] = field(default_factory=dict)  # per model, for its first window
    alerts: list[AlertEvent] = field(default_factory=list)


class Ingest:
    """Consumes, windows and stores; driven by ``streams.app.worker`` inside a Faust service."""

    def __init__(self, settings: Settings, engine: Engine, metrics: Metrics) -> None:
        self.settings = settings
        self.engine = engine
        self.metrics = metrics
        self.topic = settings.topics.predictions
        self.group_id = settings.worker.group_id
        self.partitions: dict[int, PartitionState] = {}
        worker = settings.worker
        self.health = Health(worker.stall_timeout, worker.store_failure_timeout)
        self._last_checkpoint = time.monotonic()
        self._references: dict[int, ReferenceHandle] = {}
        self._caps: dict[tuple[str, str], FeatureCap] = {}  # feature names per model version
        self._version_ends: dict[str, dict[str, float]] = {}
        self._model_cap = ModelCap(settings.ingest.max_models)
        # The versions with series on /metrics, least recently closed first (at most
        # ingest.max_models besides those held: ``_keep_series_bounded``).
        self._series: dict[tuple[str, str], None] = {}
        self._orphans: set[str] = set()  # models a version of which was retired
        self._calibrations: dict[tuple[str, str], ScoreCalibration] = {}
        # Prediction stubs for the label join: (join partition, message), sent by the worker
        # before the checkpoint that covers them.
        self.outgoing: list[tuple[int, bytes]] = []
        self.hub: AlertHub | None = None
        # Batches applied so far, as of the last tick; work done (batches applied, stores
        # finished) so far and as of the last idle trim.
        self._applied = self._applied_at_tick = 0
        self._work = self._work_at_trim = 0
        self._past = PastTimestampLog("predictions", settings.ingest.max_past)
        self._late_backfill = LateBackfillLog()

    # ----- references and model state -------------------------------------------------
    def _rules(self, model_id: str) -> WindowRules:
        model = self.settings.model(model_id)
        return WindowRules(**dataclasses.asdict(model.window),
                           keep_rows=model.reference.policy == "previous_window",
                           reference_rows=model.policy.min_reference_rows,
                           pool_windows=model.policy.pool_windows,
                           pool_below_rows=model.policy.pool_below_rows)

    def _reference_by_id(self, reference_id: int) -> ReferenceHandle:
        if reference_id not in self._references:
            with self.engine.connect() as conn:
                stored = repository.load_reference_by_id(conn, reference_id)
            if stored is None:
                raise LookupError(f"reference {reference_id} is referred to but not stored")
            self._references[reference_id] = ReferenceHandle(stored.id, stored.source,
                                                             stored.profile)
        return self._references[reference_id]

    def _new_model(self, model_id: str, version: str) -> ModelWindows:
        """The state of a version new to this worker's partitions, continuing after its
        last stored window (a version let go of by ``tick`` and seen again): its events
        before that window's end are late, and a count window starts after it."""
        with self.engine.begin() as conn:
            repository.touch_model(conn, model_id)
            stored = repository.load_reference(conn, model_id, version)
            last = repository.last_window(conn, model_id, version)
        handle = None
        if stored is not None:
            handle = ReferenceHandle(stored.id, stored.source, stored.profile)
            self._references[stored.id] = handle
        model = ModelWindows(model_id, version, self._rules(model_id),
                             self.settings.model(model_id).profile, reference=handle,
                             last_event_at=time.monotonic())
        if last is not None:
            model.closed_until = model.stored_until = last.window_end.timestamp()
            model.n_late = last.n_late
        return model

    def open_windows(self, partitions: Iterable[int] | None = None) -> int:
        """The windows open in ``partitions`` (all held partitions when None)."""
        held = self.partitions if partitions is None else partitions
        return sum(len(model.windows) for p in held
                   if (state := self.partitions.get(p)) is not None
                   for model in state.models.values())

    def held(self) -> set[tuple[str, str]]:
        """The (model, version) keys this worker holds open state for."""
        return {key for state in self.partitions.values() for key in state.models}

    def admit(self, decoded: DecodedColumns, messages: Sequence[Message]) -> None:
        """Dead-letter the events of model versions beyond ``ingest.max_models``
        (``streams.ingest.model_cap``), before ``apply``."""
        self._model_cap.admit(decoded, messages, self.held())

    def refuse(self, partition: int, decoded: DecodedColumns, messages: Sequence[Message]
               ) -> list[DeadLetter]:
        """The batch's dead letters, to send before ``apply``: the invalid events and those
        of versions beyond the model cap (``admit``). Each is counted by reason, and by
        its model key in the partition's state, for the window that closes next."""
        self.admit(decoded, messages)
        state = self.partitions.setdefault(partition, PartitionState(partition))
        for dl in decoded.dead_letters:
            self.metrics.invalid.labels(reason=dl.reason).inc()
            # A version refused by the cap has no window to count them in.
            if dl.key and dl.reason != "too_many_models":
                state.count_invalid(dl.key.decode("utf-8", "replace")[:200])
        return decoded.dead_letters

    def take_outgoing(self) -> list[tuple[int, bytes]]:
        """The prediction stubs for the join made since the last call, by join partition."""
        outgoing, self.outgoing = self.outgoing, []
        return outgoing

    def _let_go(self) -> None:
        """Drop the state of versions with nothing left to do, so they stop counting
        towards ``ingest.max_models``: no open window, every closed window stored, no
        reference in flight, and silent for their model's ``idle_timeout``. Their stored
        windows and series stay. A version still gathering its reference
        (``streams.ingest.windows``) would lose the rows gathered, so it is held while the cap
        has room, and let go of like the others once the cap is full: versions that send
        a few events and go quiet cannot keep every other model out."""
        now = time.monotonic()
        gone = False
        full = len(self.held()) >= self.settings.ingest.max_models
        for state in self.partitions.values():
            for key, model in list(state.models.items()):
                if (not model.windows and model.stored_until >= model.closed_until
                        and not model.gathered and (model.gathering is None or full)
                        and now - model.last_event_at >= model.rules.idle_timeout):
                    del state.models[key]
                    self._orphans.add(key[0])  # its per-model series go with its last version
                    gone = True
        if not gone:
            return
        held = self.held()
        for key in [k for k in self._caps if k not in held]:
            del self._caps[key]
        for key in [k for k in self._calibrations if k not in held]:
            del self._calibrations[key]
        used = {m.reference.id for s in self.partitions.values() for m in s.models.values()
                if m.reference is not None}
        for reference_id in [r for r in self._references if r not in used]:
            del self._references[reference_id]

    # ----- partitions ------------------------------------------------------------------
    def restore(self, partitions: Iterable[int]) -> dict[int, int]:
        """Load the checkpoints of newly assigned partitions; return offsets to seek to."""
        wanted = [p for p in partitions if p not in self.partitions]
        with self.engine.connect() as conn:
            stored = repository.load_checkpoints(conn, self.group_id, self.topic, wanted)
        seeks: dict[int, int] = {}
        now = time.monotonic()
        for partition in wanted:
            state = PartitionState(partition)
            checkpoint = stored.get(partition)
            if checkpoint is not None:
                data = json.loads(zlib.decompress(checkpoint.state))
                for item in data["models"]:
                    model = ModelWindows.from_dict(
                        item, self._rules(item["model_id"]),
                        self.settings.model(item["model_id"]).profile,
                        self._reference_by_id, now)
                    state.models[(model.model_id, model.model_version)] = model
                state.invalid.update(data.get("invalid", {}))
                state.next_offset = state.checkpointed_offset = checkpoint.next_offset
                seeks[partition] = checkpoint.next_offset
            self.partitions[partition] = state
        return seeks

    def release(self, partitions: Iterable[int]) -> None:
        """Checkpoint and forget partitions this worker no longer owns."""
        gone = [self.partitions.pop(p) for p in list(partitions) if p in self.partitions]
        for state in gone:
            for key in state.models:
                self._caps.pop(key, None)
        self._store([], gone)

    # ----- the batch path --------------------------------------------------------------
    def decode(self, messages: Sequence[Message]) -> DecodedColumns:
        """Decode, validate and build the numpy columns of one partition's batch.

        Backfill records (``streams.decoding.backfill``) are decoded apart, their event time
        bounded by ``ingest.backfill_max_past``; their columns are ``backfill``.
        """
        now, ingest = datetime.now(UTC), self.settings.ingest
        live, backfill = split(messages)
        decoded = decode_prediction_columns(live, now=now, ingest=ingest,
                                            known_models=self.settings.known_models,
                                            budgets=self._budget)
        self._past.note(decoded.dead_letters)
        if live:
            self._count_path(decoded)
        if backfill:
            old = decode_prediction_columns(backfill, now=now, ingest=backfill_ingest(ingest),
                                            known_models=self.settings.known_models,
                                            budgets=self._budget)
            self._count_path(old)
            decoded.backfill = old.batches
            decoded.dead_letters += named(old.dead_letters)
            decoded.n_events += old.n_events
        return decoded

    def _budget(self, model_id: str, version: str) -> NameBudget:
        """The feature columns worth building for a version: the names its cap holds and
        as many new ones as it has room for (``streams.ingest.feature_cap``), so that a flood
        of names costs the decoder no more than the cap lets through.

        Called from the decode threads while no batch is applied (the caps do not
        change meanwhile); a budget gone stale all the same (two partitions' batches
        of one version in a fetch) is made good by ``FeatureCap.admit``.
        """
        key, limit = (model_id, version), self.settings.ingest.max_features_per_model
        cap = self._caps.get(key)
        if cap is None:
            for state in list(self.partitions.values()):
                windows = state.models.get(key)
                if windows is not None:  # restored, not yet fed a batch
                    cap = FeatureCap.of(limit, held_names(windows))
                    break
        if cap is None:
            return NameBudget(frozenset(), limit)
        return NameBudget(cap.names, limit - len(cap.names))

    def _count_path(self, decoded: DecodedColumns) -> None:
        self.metrics.decoded.labels(path="columnar" if decoded.columnar else "per_event").inc()

    async def load_models(self, partition: int, decoded: DecodedColumns) -> None:
        """Load the state of the batch's versions new to the partition (``_new_model``
        reads and writes the database) in a thread, retried until the database answers,
        so that a version first seen during an outage waits instead of crashing the
        ingest; ``apply`` then finds them."""
        state = self.partitions.setdefault(partition, PartitionState(partition))
        for key in [*decoded.batches, *decoded.backfill]:
            if key not in state.models:
                model = await retrying(partial(self._new_model, *key), self.metrics,
                                       f"model {key[0][:100]!r}", self.health, doing="loading")
                self.partitions.setdefault(partition, state).models.setdefault(key, model)

    def apply(self, partition: int, decoded: DecodedColumns, next_offset: int
              ) -> list[tuple[PartitionState, ClosedWindow]]:
        """Feed a decoded batch of one partition to its windows; return closed windows."""
        state = self.partitions.setdefault(partition, PartitionState(partition))
        self._applied += 1
        self._work += 1
        closed: list[ClosedWindow] = []
        now = time.monotonic()
        batches = [(key, batch, False) for key, batch in decoded.batches.items()]
        batches += [(key, batch, True) for key, batch in decoded.backfill.items()]
        for (model_id, version), batch, backfill in batches:
            key = (model_id, version)
            if key not in state.models:
                state.models[key] = self._new_model(model_id, version)
            windows = state.models[key]
            cap = self._caps.get(key)
            if cap is None:
                cap = self._caps[key] = FeatureCap.of(
                    self.settings.ingest.max_features_per_model, held_names(windows))
            batch = cap.admit(batch, self.metrics)
            late_before = windows.n_late
            closed += windows.add(batch, now)
            self._forward(batch, windows.row_windows)
            late = windows.n_late - late_before
            self.metrics.events.labels(model=model_id, outcome="accepted").inc(
                len(batch.row_keys) - late)
            if late:
                self.metrics.events.labels(model=model_id, outcome="late").inc(late)
                self.metrics.late.labels(model=model_id).inc(late)
                if backfill:
                    self._late_backfill.note(model_id, version, late, windows.closed_until)
        state.next_offset = next_offset
        return [(state, c) for c in closed]

    def _forward(self, batch: ModelBatch, row_windows: NDArray[np.float64] | None) -> None:
        """Queue the batch's prediction stubs for the join (with each row's count window)."""
        if batch.prediction_ids is None:
            return
        stubs = split_predictions(batch.prediction_ids, batch.model_id, batch.model_version,
                                  batch.event_times, batch.columns["prediction"],
                                  batch.columns["score"], self.settings.topics.partitions,
                                  row_windows)
        self.outgoing += [(part, encode(rows)) for part, rows in sorted(stubs.items())]

    def tick(self) -> list[tuple[PartitionState, list[ClosedWindow]]]:
        """Close windows of idle models (processing time); trim the heap when idle.

        The worker ticks after every fetch. A tick with no batch applied since the
        one before means the fetch was empty: the worker has caught up, and what
        the batches and stores since the last trim freed is handed back to the
        OS (``streams.runtime.memory``), once: an idle worker does not trim again until
        it has worked.
        """
        if self._applied == self._applied_at_tick and self._work != self._work_at_trim:
            memory.trim()
            self._work_at_trim = self._work
        self._applied_at_tick = self._applied
        now = time.monotonic()
        due = []
        for state in self.partitions.values():
            closed = [c for m in state.models.values() for c in m.tick(now)]
            if closed:
                due.append((state, closed))
        self._let_go()
        self.metrics.open_windows.set(self.open_windows())
        return due

    def checkpoint_due(self) -> bool:
        interval = self.settings.worker.checkpoint_interval
        return time.monotonic() - self._last_checkpoint >= interval

    def dirty(self) -> list[PartitionState]:
        return [s for s in self.partitions.values() if s.next_offset != s.checkpointed_offset]

    # ----- storing ---------------------------------------------------------------------
    def _finalise(self, closed: ClosedWindow) -> Finalised:
        model = self.settings.model(closed.model_id)
        return finalise(closed, model.policy, model.profile, model.features,
                        keep_rows=model.reference.policy == "previous_window")

    def prepare(self, closed: list[tuple[PartitionState, ClosedWindow]],
                states: Iterable[PartitionState]) -> StoreJob:
        """Snapshot what a store will write (on the thread that applies batches)."""
        invalid: Counter[str] = Counter()
        counted = {id(s): s for s in states}
        for model_id in {c.model_id for _, c in closed}:
            for state in self.partitions.values():
                if model_id in state.invalid:
                    invalid[model_id] += state.invalid.pop(model_id)
                    counted[id(state)] = state  # its checkpoint must forget them too
        checkpoints = [(s, s.next_offset, s.snapshot_state()) for s in counted.values()
                       if s.next_offset is not None]
        return StoreJob(list(closed), checkpoints, invalid=dict(invalid))

    def _store(self, closed: list[tuple[PartitionState, ClosedWindow]],
               states: Iterable[PartitionState]) -> list[Finalised]:
        """Prepare, write and finish in one go (the caller owns the state meanwhile)."""
        job = self.prepare(closed, states)
        self.write(job)
        self.finish(job)
        return job.finalised

    def write(self, job: StoreJob) -> None:
        """ONE transaction: closed windows, new references, and partition checkpoints.

        Safe in a thread while batches are applied: it touches only the closed
        windows and the snapshots of ``job``; adopting new references is left to
        ``finish``.
        """
        started = time.perf_counter()
        job.finalised, job.adopted, job.estimates = [], [], []
        job.alerts = []
        invalid = dict(job.invalid)
        references: dict[tuple[int, str, str], ReferenceHandle] = {}
        with self.engine.begin() as conn:
            for state, closed_window in job.closed:
                key = (closed_window.model_id, closed_window.model_version)
                model = state.models.get(key)
                current = references.get((state.partition, *key)) or (
                    model.reference if model is not None else None)
                window = closed_window.window
                # A reference made by a window closed just before (the stored row keeps its
                # id when replaced, so the handles themselves are compared).
                if model is not None and current is not None and window.reference is not current:
                    model.attach(window, current)
                done = self._finalise(closed_window)
                try:
                    with conn.begin_nested():  # a window the database refuses is set aside
                        handle = self._save_window(conn, done)
                        estimate = self._save_estimate(conn, done)
                        alerts = []
                        if self.settings.alerting.enabled and is_live(window.end,
                                                                      self.settings.ingest):
                            facts = drift_facts(done, invalid.get(closed_window.model_id, 0),
                                                estimate)
                            alerts = apply_facts(conn, self.settings.alerting, facts,
                                                 datetime.now(UTC), self.settings.topics.retrain)
                except Exception as error:
                    if not is_permanent(error):
                        raise
                    self._set_aside(closed_window, error)
                    continue
                invalid.pop(closed_window.model_id, None)
                job.estimates.append(estimate)
                job.alerts += alerts
                if handle is not None:
                    references[(state.partition, *key)] = handle
                    job.adopted.append((state, key, handle))
                job.finalised.append(done)
            for state, offset, snapshot in job.checkpoints:
                for model_state in snapshot["models"]:
                    made = references.get((state.partition, model_state["model_id"],
                                           model_state["model_version"]))
                    if made is not None:
                        model_state["reference_id"] = made.id
                repository.save_checkpoint(conn, self.group_id, self.topic, state.partition,
                                           offset, pack_snapshot(snapshot))
        # Committed: the snapshots, a store's largest objects, are freed before the trim.
        job.checkpoints = [(state, offset, {}) for state, offset, _ in job.checkpoints]
        self._last_checkpoint = time.monotonic()
        elapsed = time.perf_counter() - started
        for done, estimated in zip(job.finalised, job.estimates, strict=True):
            self._publish(done, elapsed / max(len(job.finalised), 1), estimated)
        if self.hub is not None:  # after the windows' lines, so theirs come first in the log
            self.hub.committed(job.alerts)
        memory.trim()

    def _set_aside(self, closed: ClosedWindow, error: Exception) -> None:
        """A window whose rows the database refuses for good (``store.errors``): logged
        and counted, not retried, so the other windows and the checkpoints go on."""
        window = closed.window
        cause = getattr(error, "orig", None) or error
        reason = str(cause).splitlines()[0][:300] if str(cause) else ""
        log.error("window of model %r version %r from %s to %s (%d events) cannot be stored "
                  "and is set aside: %s: %s", closed.model_id[:100], closed.model_version[:100],
                  datetime.fromtimestamp(window.start, UTC).isoformat(),
                  datetime.fromtimestamp(window.end, UTC).isoformat(), window.n_events,
                  type(cause).__name__, reason,
                  extra={"event": "window_set_aside", "model": closed.model_id[:100],
                         "version": closed.model_version[:100],
                         "window_start": loglines.iso(window.start),
                         "window_end": loglines.iso(window.end), "events": window.n_events,
                         "error": f"{type(cause).__name__}: {reason}"})
        self.metrics.windows_set_aside.labels(model=closed.model_id).inc()

    def finish(self, job: StoreJob) -> None:
        """After ``write`` committed: adopt new references, record the stored offsets."""
        for state, key, handle in job.adopted:
            self._references[handle.id] = handle
            model = state.models.get(key)
            if model is not None:
                model.adopt(handle)
        for state, closed in job.closed:  # stored, or set aside for good
            model = state.models.get((closed.model_id, closed.model_version))
            if model is not None:
                model.stored_until = max(model.stored_until, closed.window.end)
                if closed.gathered is not None and model.reference is None:
                    # It completed the gathering but was set aside with the reference it
                    # made: gather on, with its rows, rather than wait for a reference.
                    model.gathering, model.gathered = closed.gathered, False
        for state, offset, _ in job.checkpoints:
            state.checkpointed_offset = offset
        if job.checkpoints:
            self.metrics.checkpoints.inc(len(job.checkpoints))
        self._keep_series_bounded()
        self._work += 1

    def _save_window(self, conn: Any, done: Finalised) -> ReferenceHandle | None:
        """Store a finalised window (and the reference it makes, returned)."""
        closed, window = done.closed, done.closed.window
        reference_id = window.reference.id if window.reference else None
        handle = None
        if done.next_reference is not None:
            new_id = repository.save_reference(conn, closed.model_id, closed.model_version,
                                               done.next_reference,
                                               done.next_reference_source or "first_window")
            handle = ReferenceHandle(new_id, done.next_reference_source or "first_window",
                                     done.next_reference)
            reference_id = reference_id if reference_id is not None else new_id
        repository.save_window(conn, repository.WindowRecord(
            model_id=closed.model_id, model_version=closed.model_version,
            window_start=datetime.fromtimestamp(window.start, UTC),
            window_end=datetime.fromtimestamp(window.end, UTC),
            n_events=window.n_events, n_late=closed.n_late, reference_id=reference_id,
            reference_source=done.reference_source, report=done.report))
        return handle

    def _save_estimate(self, conn: Any, done: Finalised) -> dict[str, Any] | None:
        """The performance estimate of a closed window, once a calibration is stored."""
        closed, window = done.closed, done.closed.window
        key = (closed.model_id, closed.model_version)
        if window.scores.n == 0:
            return None
        if key not in self._calibrations:
            stored = load_calibration(conn, *key)
            if stored is None:
                return None
            self._calibrations[key] = ScoreCalibration.from_dict(stored)
        result = estimate(self._calibrations[key], window.scores).to_dict()
        save_estimate(conn, closed.model_id, closed.model_version,
                      datetime.fromtimestamp(window.start, UTC),
                      datetime.fromtimestamp(window.end, UTC), result)
        return result

    def _publish(self, done: Finalised, seconds: float,
                 estimated: dict[str, Any] | None) -> None:
        closed = done.closed
        loglines.window_closed(closed.model_id, closed.model_version, closed.window.start,
                               closed.window.end, closed.window.n_events, closed.n_late,
                               done.report)
        self.metrics.window_closed(closed.model_id, closed.model_version, done.report,
                                   closed.window.n_events, closed.window.end,
                                   self.settings.ingest.max_metric_features)
        key = (closed.model_id, closed.model_version)
        self._series.pop(key, None)
        self._series[key] = None
        self.metrics.close_duration.observe(seconds)
        if estimated is not None:
            self.metrics.set_performance(closed.model_id, closed.model_version, {
                f"estimated_{name}": estimated.get(name) for name in ESTIMATED_METRICS})
        self._retire_old_versions(closed.model_id, closed.model_version, closed.window.end)

    def _retire_old_versions(self, model_id: str, version: str, end: float) -> None:
        """Drop the series of versions silent for two window lengths while this one ran."""
        ends = self._version_ends.setdefault(model_id, {})
        ends[version] = end
        horizon = end - 2 * self.settings.model(model_id).window.size
        for other, other_end in list(ends.items()):
            if other != version and other_end <= horizon:
                self._retire(model_id, other)

    def _retire(self, model_id: str, version: str) -> None:
        """Remove a version's series (safe in the store's thread: no partition is read)."""
        self.metrics.retire(model_id, version)
        self._series.pop((model_id, version), None)
        self._version_ends.get(model_id, {}).pop(version, None)
        self._orphans.add(model_id)

    def _keep_series_bounded(self) -> None:
        """Retire the least recently closed versions this worker no longer holds while
        more than ``ingest.max_models`` versions have series; then the per-model series of
        models left with no version held or with series (on the thread that applies)."""
        held = self.held()
        excess = len(self._series) - self.settings.ingest.max_models
        if excess > 0:
            for key in [k for k in self._series if k not in held][:excess]:
                self._retire(*key)
        if not self._orphans:
            return
        alive = {m for m, _ in self._series} | {m for m, _ in held}
        for model_id in self._orphans - alive:
            self._version_ends.pop(model_id, None)
            self.metrics.retire_model(model_id)
        self._orphans.clear()

    async def store(self, closed: list[tuple[PartitionState, ClosedWindow]],
                    states: Iterable[PartitionState]) -> list[Finalised]:
        """Prepare, write in a thread (retried until it lands), finish."""
        job = self.prepare(closed, states)
        await self.write_retrying(job)
        self.finish(job)
        return job.finalised

    async def write_retrying(self, job: StoreJob) -> None:
        """``write`` in a thread, retried with capped exponential backoff until it lands."""
        await retrying(partial(self.write, job), self.metrics, "windows", self.health)

