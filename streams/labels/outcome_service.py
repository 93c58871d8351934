"""Outcomes in: windowed performance, concept-drift detections, score calibration.

Reads ``driftline.outcomes`` (key = model_id) in batches; each partition holds a
``ModelPerformance`` per (model, version) (``streams.labels.performance``) and,
per join partition, the join-topic offset its outcomes are applied up to. A
bundle replayed after a crash of the join carries outcomes from offsets already
applied: they are dropped, so each label counts once. The detector is not fed in
the order outcomes arrive: their errors wait in an ``ErrorFeed`` and go to it in
order of prediction event time, then ``prediction_id``, once
``performance.detector_delay`` of newer labelled predictions has been seen
(``streams.labels.error_feed``), so detections do not depend on timing. Every
``worker.checkpoint_interval`` the windows that changed are re-finalised (an
idempotent upsert of their row), new detections and a new calibration are
inserted, all in the transaction of the partition's checkpoint.

Gauges, set once the store commits: ``driftline_model_performance`` shows the
realised metrics of the newest window with labels (a late label for an older
window updates its row, not the gauges) and, as ``metric="label_coverage"``, the
label coverage of the newest window that has one (a window has none until its
drift window is stored). ``driftline_concept_drift_detections_total`` is
exported at 0 as soon as a (model, version) has outcomes, so its first detection
is an increase Prometheus can see (``increase``, ``changes``: a series that
appears at 1 shows none); ``driftline_labels_total`` likewise for ``too_late``
and ``invalid``. A window that ended before ``ingest.max_past`` (a backfill's,
``streams.decoding.backfill``) is stored but not judged by the alert rules.
"""

from __future__ import annotations

import logging
import math
import zlib
from datetime import UTC, datetime
from typing import Any

import msgspec

from alerting.apply import apply_facts
from alerting.model import AlertEvent
from store import repository
from store.performance import (
    DetectionRecord,
    PerformanceRecord,
    save_calibration,
    save_detections,
    save_performance,
    window_context,
)
from streams.decoding.backfill import is_live
from streams.labels.batched import BatchedConsumer
from streams.labels.bundles import decode_outcomes
from streams.labels.facts import performance_facts
from streams.labels.join import Outcome
from streams.labels.performance import ModelPerformance, PerfWindow

log = logging.getLogger(__name__)
SNAPSHOT_VERSION = 1
Key = tuple[str, str]


def _utc(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def window_metrics(window: PerfWindow) -> dict[str, Any]:
    """The realised metrics of a window, as stored (``*Metrics`` fields)."""
    result = window.sketch.result()
    return {name: getattr(result, name) for name in result.__dataclass_fields__}


class PartitionPerformance:
    def __init__(self) -> None:
        self.applied: dict[int, int] = {}
        self.models: dict[Key, ModelPerformance] = {}


class OutcomeService(BatchedConsumer):
    name_suffix = "performance"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.states: dict[int, PartitionPerformance] = {}
        # The newest window written per model: (start, metrics), and (start, label
        # coverage) of the newest with a coverage; exported for the models in _changed
        # once the store commits.
        self._latest: dict[Key, tuple[float, dict[str, Any]]] = {}
        self._coverage: dict[Key, tuple[float, float]] = {}
        self._changed: set[Key] = set()
        # The newest window each model's performance rules judged (after commit), and
        # what the transaction in progress judged and fired.
        self._done: dict[Key, float] = {}
        self._judged: dict[Key, float] = {}
        self._alerts: list[AlertEvent] = []
        super().__init__(*args, **kwargs)

    def _new_model(self, model_id: str, version: str) -> ModelPerformance:
        model = self.settings.model(model_id)
        return ModelPerformance(model_id, version, model.performance, model.window.size,
                                self.settings.labels.horizon,
                                sources=range(self.settings.topics.partitions))

    def restore_state(self, partition: int, state: bytes | None) -> None:
        restored = PartitionPerformance()
        if state:
            data = msgspec.json.decode(zlib.decompress(state))
            if data.get("version") != SNAPSHOT_VERSION:
                raise ValueError(f"performance snapshot version must be {SNAPSHOT_VERSION}")
            restored.applied = {int(k): int(v) for k, v in data["applied"].items()}
            for item in data["models"]:
                model = self.settings.model(item["model_id"])
                perf = ModelPerformance.from_dict(item, model.performance, model.window.size,
                                                  self.settings.labels.horizon)
                restored.models[(perf.model_id, perf.version)] = perf
                self.metrics.detected(perf.model_id, perf.version, perf.detector.name, 0)
        self.states[partition] = restored

    def forget(self, partition: int) -> None:
        self.states.pop(partition, None)

    def snapshot(self, partition: int) -> bytes:
        state = self.states[partition]
        data = {"version": SNAPSHOT_VERSION,
                "applied": {str(k): v for k, v in state.applied.items()},
                "models": [m.to_dict() for m in state.models.values()]}
        return zlib.compress(msgspec.json.encode(data), 1)  # JSON, by the fast encoder

    async def handle(self, partition: int, records: list[Any]) -> None:
        state = self.states[partition]
        for record in records:
            try:
                bundle = decode_outcomes(record.value)
            except (msgspec.DecodeError, TypeError):
                continue
            done = state.applied.get(bundle.source_partition, 0)
            groups: dict[Key, list[Outcome]] = {}
            for offset, outcome in zip(bundle.offsets, bundle.outcomes, strict=True):
                if offset >= done:
                    groups.setdefault((outcome.model_id, outcome.model_version),
                                      []).append(outcome)
            for key, outcomes in groups.items():
                model = state.models.get(key)
                if model is None:
                    model = state.models[key] = self._new_model(*key)
                    self.metrics.detected(*key, model.detector.name, 0)
                counts = model.update(outcomes, bundle.source_partition)
                for name, count in counts.items():
                    if name not in ("used", "detector_late"):
                        self.metrics.labels.labels(model=self.metrics.label_model(key[0]),
                                                   outcome=name).inc(count)
                if counts.get("detector_late"):
                    log.warning("performance: %d outcome(s) of %s/%s came after their span "
                                "of event time was fed to the concept-drift detector; left "
                                "out of it (performance.detector_delay %gs)",
                                counts["detector_late"], *key, model.feed.delay)
            state.applied[bundle.source_partition] = max(done, bundle.covered_to)

    def write(self, conn: Any, partitions: list[int]) -> None:
        self._changed = set()
        for partition in partitions:
            for (model_id, version), model in self.states[partition].models.items():
                if not (model.dirty or model.detections or model.calibration):
                    continue
                repository.touch_model(conn, model_id)
                for start in sorted(model.dirty):
                    window = model.windows[start]
                    metrics = window_metrics(window)
                    coverage = save_performance(conn, PerformanceRecord(
                        model_id, version, _utc(window.start), _utc(window.end), model.task,
                        int(metrics["n"]), window.latency.quantile(0.5),
                        window.latency.quantile(0.95), metrics))
                    self._remember((model_id, version), start, metrics, coverage)
                save_detections(conn, [DetectionRecord(
                    model_id, version, model.detector.name, d.position, _utc(d.event_time),
                    "error" if model.task == "classification" else "absolute_error",
                    dict(model.detector.params)) for d in model.detections])
                if model.calibration is not None:
                    save_calibration(conn, model_id, version, model.calibration.to_dict(),
                                     model.calibration.n_rows)
        if self.settings.alerting.enabled:
            self._alerts, self._judged = [], {}
            for partition in partitions:
                for key, model in self.states[partition].models.items():
                    self._judge(conn, key, model)

    def _remember(self, key: Key, start: float, metrics: dict[str, Any],
                  coverage: float | None) -> None:
        """Keep a written window's metrics and coverage if it is the newest of its kind."""
        if start >= self._latest.get(key, (-math.inf, {}))[0]:
            self._latest[key] = (start, metrics)
            self._changed.add(key)
        if coverage is not None and start >= self._coverage.get(key, (-math.inf, 0.0))[0]:
            self._coverage[key] = (start, coverage)
            self._changed.add(key)

    def _judge(self, conn: Any, key: Key, model: ModelPerformance) -> None:
        """Alert rules on the windows whose labels are in (``performance.alert_after``)
        and whose errors the detector has seen (``performance.detector_delay``), so a
        window's ``concept_drift`` counts every detection that falls in it."""
        after = self.settings.model(key[0]).performance.alert_after
        done = self._done.get(key, -math.inf)
        now = datetime.now(UTC)
        for start in sorted(model.windows):
            window = model.windows[start]
            if (start <= done or window.end + after > model.newest
                    or window.end > model.feed.released):
                continue
            if not is_live(window.end, self.settings.ingest):  # a backfill's: stored only
                self._judged[key] = start
                continue
            coverage, detections = window_context(conn, *key, _utc(window.start),
                                                  _utc(window.end))
            facts = performance_facts(*key, window.start, window.end, window_metrics(window),
                                      coverage, detections)
            self._alerts += apply_facts(conn, self.settings.alerting, facts, now,
                                        self.settings.topics.retrain)
            self._judged[key] = start

    def stored_ok(self, partitions: list[int]) -> None:
        self._done.update(self._judged)
        if self.hub is not None:
            self.hub.committed(self._alerts)
        self._alerts, self._judged = [], {}
        for key in self._changed:
            values: dict[str, float | None] = {
                name: value for name, value in self._latest[key][1].items()
                if name not in ("n", "n_scored", "roc_auc_error_bound")
                and (value is None or isinstance(value, float))}
            if key in self._coverage:
                values["label_coverage"] = self._coverage[key][1]
            self.metrics.set_performance(*key, values)
        self._changed = set()
        for partition in partitions:
            for (model_id, version), model in self.states[partition].models.items():
                if model.detections:
                    self.metrics.detected(model_id, version, model.detector.name,
                                          len(model.detections))
                model.dirty.clear()
                model.detections.clear()
                model.calibration = None
