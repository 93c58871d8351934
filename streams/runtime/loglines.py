"""The worker's INFO lines: what happened, in one line each, with structured fields.

Each function logs one record whose message reads well as text and whose
``extra`` fields (``event`` first) are what ``--log-format json`` adds to it.
The catalogue, with every field, is docs/operations.md; keep the two in step.
``broker_unreachable`` is a WARNING. Lines logged elsewhere: ``delivery_given_up``
(``alerting.dispatcher``), ``store_retry`` and ``store_recovered``
(``streams.transport.consuming``).
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from alerting.model import AlertEvent
from detectors import DriftReport

log = logging.getLogger("streams.app.worker")
DEAD_LETTER_INTERVAL = 60.0  # seconds: at most one dead-letter summary per interval


def iso(moment: float | datetime) -> str:
    """``2026-12-07T13:40:00Z`` (UTC, whole seconds unless there is a fraction)."""
    if not isinstance(moment, datetime):
        moment = datetime.fromtimestamp(moment, UTC)
    text = moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return text.replace(".000000Z", "Z")


def ranges(numbers: Iterable[int]) -> str:
    """``[0, 1, 2, 5]`` -> ``0-2,5``; ``none`` when empty."""
    items = sorted(set(numbers))
    parts: list[str] = []
    start = prev = None
    for n in [*items, None]:
        if n is not None and prev is not None and n == prev + 1:
            prev = n
            continue
        if start is not None:
            parts.append(str(start) if start == prev else f"{start}-{prev}")
        start = prev = n
    return ",".join(parts) or "none"


def ready(topic: str, partitions: Iterable[int], restored: int, checkpoints: int) -> None:
    held = sorted(partitions)
    log.info("ready: partitions %s of %s assigned, %d open windows restored from %d "
             "checkpoints", ranges(held), topic, restored, checkpoints,
             extra={"event": "ready", "topic": topic, "partitions": held,
                    "windows_restored": restored, "checkpoints": checkpoints})


def not_ready(topic: str, revoked: Iterable[int], held: Iterable[int]) -> None:
    """Partitions were revoked (``revoked``), or an assignment gave none (empty)."""
    gone, kept = sorted(revoked), sorted(held)
    if gone:
        message = f"partitions {ranges(gone)} of {topic} revoked; holding {ranges(kept)}"
    else:
        message = f"no partitions of {topic} assigned"
    if not kept:
        message += "; not ready until partitions are assigned"
    log.info(message, extra={"event": "partitions_revoked" if gone else "not_ready",
                             "topic": topic, "partitions": gone, "held": kept})


def broker_unreachable(why: str) -> None:
    """The broker stopped answering the ingest's probe: not ready until it answers."""
    log.warning("broker unreachable: %s; not ready until it answers", why,
                extra={"event": "broker_unreachable", "error": why})


def broker_reachable(seconds: float, suppressed: int) -> None:
    """The broker answers again after ``seconds``; ``suppressed`` framework lines were
    left out of the log meanwhile (``streams.runtime.logfloods``)."""
    log.info("broker reachable again after %.0f s (%d repeated framework log lines "
             "suppressed meanwhile)", seconds, suppressed,
             extra={"event": "broker_reachable", "seconds": round(seconds, 3),
                    "suppressed": suppressed})


def verdict_of(status: str, any_drifted: bool) -> str:
    """``dataset_drift``, ``feature_drift`` (some columns drifted, fewer than the dataset
    share), ``no_drift`` or ``insufficient_data``, as the demo's table words it."""
    if status == "drift":
        return "dataset_drift"
    if status == "insufficient_data":
        return status
    return "feature_drift" if any_drifted else "no_drift"


def window_closed(model_id: str, version: str, start_time: float, end_time: float,
                  n_events: int, n_late: int, report: DriftReport) -> None:
    drifted = {c.name: c.severity for c in (*report.features, *report.predictions,
                                            *report.targets) if c.drifted}
    names = ", ".join(f"{name} ({severity})" for name, severity in drifted.items()) or "none"
    start, end = iso(start_time), iso(end_time)
    verdict = verdict_of(report.status, bool(drifted))
    log.info("window closed: model %s v%s, %s to %s, %d events, verdict %s, drifted: %s",
             model_id, version, start, end, n_events, verdict.replace("_", " "), names,
             extra={"event": "window_closed", "model": model_id, "version": version,
                    "window_start": start, "window_end": end, "events": n_events,
                    "late": n_late,
                    "verdict": verdict, "drift_share": report.drift_share,
                    "drifted": list(drifted), "severities": drifted})


def alerts(events: Iterable[AlertEvent]) -> None:
    for event in events:
        summary = event.summary.removeprefix(f"{event.model_id} v{event.model_version}: ")
        log.info("alert %s: rule %s, model %s v%s, severity %s: %s", event.status, event.rule,
                 event.model_id, event.model_version, event.severity, summary,
                 extra={"event": f"alert_{event.status}", "rule": event.rule,
                        "model": event.model_id, "version": event.model_version,
                        "severity": event.severity, "feature": event.feature,
                        "metric": event.metric, "value": event.value,
                        "threshold": event.threshold, "window_start": iso(event.window_start),
                        "window_end": iso(event.window_end),
                        "receivers": list(event.receivers)})


class DeadLetterSummary:
    """Counts dead letters by reason; one summary line per ``interval`` at most.

    ``add`` counts; ``maybe_log`` (called after every fetch) logs the counts when
    there are some and no summary was logged in the last ``interval`` seconds, so
    the first dead letters are reported at once and a flood gives one line a
    minute; ``flush`` logs what is left (at stop).
    """

    def __init__(self, topic: str, interval: float = DEAD_LETTER_INTERVAL,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.topic = topic
        self.interval = interval
        self._clock = clock
        self._counts: Counter[str] = Counter()
        self._since = 0.0
        self._logged_at: float | None = None

    def add(self, reasons: Iterable[str]) -> None:
        if not self._counts and self._logged_at is None:
            self._since = self._clock()  # the first summary covers from its first letter
        self._counts.update(reasons)

    def maybe_log(self) -> None:
        now = self._clock()
        if self._counts and (self._logged_at is None or now - self._logged_at >= self.interval):
            self.flush()

    def flush(self) -> None:
        if not self._counts:
            return
        now = self._clock()
        seconds = now - (self._since if self._logged_at is None else self._logged_at)
        total = sum(self._counts.values())
        detail = ", ".join(f"{reason} {count}" for reason, count in sorted(self._counts.items()))
        log.info("dead letters: %d in the last %.0f s (%s), sent to %s", total, seconds, detail,
                 self.topic, extra={"event": "dead_letters", "total": total,
                                    "reasons": dict(sorted(self._counts.items())),
                                    "seconds": round(seconds, 3), "topic": self.topic})
        self._counts.clear()
        self._logged_at = now
