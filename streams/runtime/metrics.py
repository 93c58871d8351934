"""Prometheus metrics of the worker, on an explicit registry passed in.

Names are ``driftline_*`` in base units, counters end in ``_total``, and labels
are bounded: model, version, feature, statistic, reason, outcome, topic — never
ids or timestamps. When a model version is retired (a newer version took over),
its series are removed: a version retires once another version of the same model
has closed windows for two window lengths of event time without it (two versions
live side by side, as in a canary, both keep their series).

Counters whose label values are known before the first event are exported at 0
as soon as they are known: ``driftline_concept_drift_detections_total`` per
(model, version, detector) once the version has outcomes,
``driftline_labels_total`` per model and outcome once the model is seen, and
``driftline_webhook_deliveries_total`` per configured receiver and outcome from
the start. A counter that first appears at 1 shows no ``increase``/``changes`` in
Prometheus, so a first detection or dead letter would be invisible to the
dashboards' annotations and to ``DriftlineWebhookDeadLetters``; and a panel of a
healthy system reads 0 rather than "No data".
"""

from __future__ import annotations

import contextlib

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from detectors import DriftReport, catalogue
from streams.runtime import memory

SEVERITY_LEVEL = {"none": 0, "insufficient_data": 0, "warn": 1, "critical": 2}


OTHER_MODELS = "_other"  # the label-path series of the model ids beyond the cap


class Metrics:
    """Every series the worker exports.

    The label path's series (``driftline_labels_total``, ``driftline_pending_predictions``)
    are keyed by the model ids labels carry, which no cap on predictions bounds: the
    first ``max_label_models`` ids seen keep series of their own, the others are added
    up under ``model="_other"`` (``label_model``).
    """

    def __init__(self, registry: CollectorRegistry, max_label_models: int = 100) -> None:
        self.registry = registry
        self.max_label_models = max_label_models
        self._label_models: set[str] = set()
        self._features: dict[tuple[str, str], set[str]] = {}
        self._performance: dict[tuple[str, str], set[str]] = {}
        self._detectors: dict[tuple[str, str], set[str]] = {}
        per_feature = ["model", "version", "feature"]
        per_model = ["model", "version"]
        self.feature_psi = Gauge("driftline_feature_psi", "PSI of the feature in the last "
                                 "closed window", per_feature, registry=registry)
        self.feature_ks = Gauge("driftline_feature_ks_statistic", "KS statistic of the feature "
                                "in the last closed window", per_feature, registry=registry)
        self.feature_ks_p = Gauge("driftline_feature_ks_pvalue", "KS p-value of the feature in "
                                  "the last closed window", per_feature, registry=registry)
        self.feature_stat = Gauge("driftline_feature_statistic", "Every statistic of the "
                                  "feature in the last closed window",
                                  [*per_feature, "statistic"], registry=registry)
        self.feature_drift = Gauge("driftline_feature_drift", "Drift of the feature in the last "
                                   "closed window: 0 none, 1 warn, 2 critical", per_feature,
                                   registry=registry)
        self.drift_share = Gauge("driftline_dataset_drift_share", "Share of drifted features in "
                                 "the last closed window", per_model, registry=registry)
        self.dataset_drift = Gauge("driftline_dataset_drift", "1 when the last closed window "
                                   "drifted as a whole", per_model, registry=registry)
        self.window_events = Gauge("driftline_window_events", "Events in the last closed window",
                                   per_model, registry=registry)
        self.last_window_end = Gauge("driftline_last_window_end_timestamp_seconds", "Event-time "
                                     "end of the last closed window", per_model,
                                     registry=registry)
        self.windows_closed = Counter("driftline_windows_closed_total", "Windows closed",
                                      per_model, registry=registry)
        self.close_duration = Histogram("driftline_window_close_duration_seconds", "Time to "
                                        "finalise and store a window", registry=registry,
                                        buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5))
        self.events = Counter("driftline_events_total", "Events read, by outcome (accepted, "
                              "late)", ["model", "outcome"], registry=registry)
        self.late = Counter("driftline_late_events_total", "Events later than the grace period",
                            ["model"], registry=registry)
        self.invalid = Counter("driftline_events_invalid_total", "Invalid events sent to the "
                               "dead-letter topic", ["reason"], registry=registry)
        self.lag = Gauge("driftline_consumer_lag_messages", "Messages not yet consumed",
                         ["topic"], registry=registry)
        self.offset_resets = Counter("driftline_offset_resets_total", "Partitions whose log "
                                     "restarted below the offset read so far (topic recreated, "
                                     "broker reset) and were read again from its beginning",
                                     ["topic"], registry=registry)
        self.features_dropped = Counter("driftline_features_dropped_total", "Feature values "
                                        "dropped because their name came after the model's "
                                        "ingest.max_features_per_model names", ["model"],
                                        registry=registry)
        self.windows_set_aside = Counter("driftline_windows_set_aside_total", "Closed windows "
                                         "the database refused for their data and that were "
                                         "set aside instead of retried", ["model"],
                                         registry=registry)
        self.decoded = Counter("driftline_decoded_batches_total", "Prediction batches (one "
                               "partition of one fetch) decoded, by path: columnar (Arrow) or "
                               "per_event (small batches, and batches the columnar path hands "
                               "back whole)", ["path"], registry=registry)
        self.checkpoints = Counter("driftline_checkpoints_total", "Window-state checkpoints "
                                   "written", registry=registry)
        self.store_errors = Counter("driftline_store_errors_total", "Failed database "
                                    "transactions (retried)", registry=registry)
        self.open_windows = Gauge("driftline_open_windows", "Windows open on this worker",
                                  registry=registry)
        self.labels = Counter("driftline_labels_total", "Label events by outcome: joined, "
                              "duplicate, unmatched (no prediction within the hold), expired "
                              "(a prediction whose TTL ended without a label), too_late "
                              "(beyond the performance horizon)", ["model", "outcome"],
                              registry=registry)
        self.pending_predictions = Gauge("driftline_pending_predictions", "Predictions "
                                         "waiting for their label on this worker", ["model"],
                                         registry=registry)
        self.concept_detections = Counter("driftline_concept_drift_detections_total",
                                          "Concept-drift detections on the model's error "
                                          "stream", [*per_model, "detector"], registry=registry)
        self.performance = Gauge("driftline_model_performance", "Performance of the model in "
                                 "its latest window with labels (metric; estimated_* are the "
                                 "confidence-based estimates)", [*per_model, "metric"],
                                 registry=registry)
        self.deliveries = Counter("driftline_webhook_deliveries_total", "Outbox delivery "
                                  "attempts by receiver and outcome (delivered, retry, "
                                  "dead_letter)", ["receiver", "outcome"], registry=registry)
        self.outbox_pending = Gauge("driftline_outbox_pending", "Notifications in the outbox "
                                    "not yet delivered (all workers)", registry=registry)
        self.alerts_firing = Gauge("driftline_alerts_firing", "Alert instances firing (all "
                                   "workers)", ["model", "severity"], registry=registry)
        self.ready = Gauge("driftline_ready", "1 while the worker holds partitions of the "
                           "predictions topic with their windows restored and reaches its "
                           "database and broker (as /readyz)",
                           registry=registry)
        memory.register(registry)

    def window_closed(self, model: str, version: str, report: DriftReport, n_events: int,
                      window_end: float, max_features: int | None = None) -> None:
        """Set the series of a closed window: per feature for the first ``max_features``
        features of the report (all when None) and every prediction column."""
        labels = {"model": model, "version": version}
        exported = (*report.features[:max_features], *report.predictions)
        self._features.setdefault((model, version), set()).update(c.name for c in exported)
        for column in exported:
            names = {**labels, "feature": column.name}
            for statistic in catalogue.names(catalogue.statistics()):
                value = getattr(column, statistic, None)
                if value is not None:
                    self.feature_stat.labels(**names, statistic=statistic).set(value)
            if column.psi is not None:
                self.feature_psi.labels(**names).set(column.psi)
            if column.ks_statistic is not None and column.ks_pvalue is not None:
                self.feature_ks.labels(**names).set(column.ks_statistic)
                self.feature_ks_p.labels(**names).set(column.ks_pvalue)
            self.feature_drift.labels(**names).set(SEVERITY_LEVEL[column.severity])
        if report.drift_share is not None:
            self.drift_share.labels(**labels).set(report.drift_share)
        self.dataset_drift.labels(**labels).set(1 if report.dataset_drift else 0)
        self.window_events.labels(**labels).set(n_events)
        self.last_window_end.labels(**labels).set(window_end)
        self.windows_closed.labels(**labels).inc()

    def retire(self, model: str, version: str) -> None:
        """Remove every series of a retired model version."""
        for feature in self._features.pop((model, version), set()):
            for gauge in (self.feature_psi, self.feature_ks, self.feature_ks_p,
                          self.feature_drift):
                _remove(gauge, model, version, feature)
            for statistic in catalogue.names(catalogue.statistics()):
                _remove(self.feature_stat, model, version, feature, statistic)
        for metric in (self.drift_share, self.dataset_drift, self.window_events,
                       self.last_window_end, self.windows_closed):
            _remove(metric, model, version)
        for name in self._performance.pop((model, version), set()):
            _remove(self.performance, model, version, name)
        for detector in self._detectors.pop((model, version), set()):
            _remove(self.concept_detections, model, version, detector)

    def retire_model(self, model: str) -> None:
        """Remove the per-model series of the ingest (events, late, dropped, set aside) of a
        model none of whose versions has state or series on this worker any more."""
        for outcome in ("accepted", "late"):
            _remove(self.events, model, outcome)
        for metric in (self.late, self.features_dropped, self.windows_set_aside):
            _remove(metric, model)

    def set_performance(self, model: str, version: str, values: dict[str, float | None]) -> None:
        """Set the performance gauges of a model version (None removes a series)."""
        known = self._performance.setdefault((model, version), set())
        for name, value in values.items():
            if value is None:
                _remove(self.performance, model, version, name)
                known.discard(name)
            else:
                self.performance.labels(model=model, version=version, metric=name).set(value)
                known.add(name)

    def detected(self, model: str, version: str, detector: str, count: int) -> None:
        self._detectors.setdefault((model, version), set()).add(detector)
        self.concept_detections.labels(model=model, version=version, detector=detector).inc(
            count)


    def label_model(self, model: str) -> str:
        """The ``model`` label of a label-path series: ``model`` itself, or ``_other``
        once ``max_label_models`` other ids have series."""
        if model in self._label_models:
            return model
        if len(self._label_models) < self.max_label_models:
            self._label_models.add(model)
            return model
        return OTHER_MODELS


def _remove(metric: Gauge | Counter, *labels: str) -> None:
    with contextlib.suppress(KeyError):
        metric.remove(*labels)
