"""The worker's INFO lines: their text and their structured fields (caplog)."""

from __future__ import annotations

import json
import logging
from dataclasses import replace

import numpy as np
import pytest

from detectors import DriftPolicy
from streams.alerts.hub import AlertHub
from streams.ingest.closing import Finalised, finalise
from streams.ingest.windows import ReferenceHandle
from streams.runtime import loglines
from streams.runtime.logs import JsonFormatter, record_fields
from tests.unit.alerting.payload_events import feature_event
from tests.unit.streams.ingest.window_batches import OPTIONS, make_batch, state


def only(caplog: pytest.LogCaptureFixture) -> logging.LogRecord:
    (record,) = [r for r in caplog.records if r.name == "streams.app.worker"]
    return record


def test_ranges() -> None:
    assert loglines.ranges([3, 0, 1, 2, 7, 9, 10]) == "0-3,7,9-10"
    assert loglines.ranges([5]) == "5"
    assert loglines.ranges([]) == "none"


def test_ready(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    loglines.ready("driftline.predictions", [3, 0, 1, 2], restored=5, checkpoints=3)
    record = only(caplog)
    assert record.levelno == logging.INFO
    assert record.getMessage() == ("ready: partitions 0-3 of driftline.predictions assigned, "
                                   "5 open windows restored from 3 checkpoints")
    assert record_fields(record) == {"event": "ready", "topic": "driftline.predictions",
                                     "partitions": [0, 1, 2, 3], "windows_restored": 5,
                                     "checkpoints": 3}


def test_revoked_and_nothing_assigned(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    loglines.not_ready("t", revoked=[1, 0], held=[])
    loglines.not_ready("t", revoked=[1], held=[0])
    loglines.not_ready("t", revoked=[], held=[])
    assert [r.getMessage() for r in caplog.records] == [
        "partitions 0-1 of t revoked; holding none; not ready until partitions are assigned",
        "partitions 1 of t revoked; holding 0",
        "no partitions of t assigned; not ready until partitions are assigned"]
    assert [r.__dict__["event"] for r in caplog.records] == [
        "partitions_revoked", "partitions_revoked", "not_ready"]


def drifted_window() -> Finalised:
    """Window [60, 120) of fraud v1, with ``x`` shifted by one sigma from the reference."""
    windows = state()
    closed = windows.add(make_batch(np.linspace(0, 59, 500), 0, 1), now=0)
    closed += windows.add(make_batch(np.linspace(60, 119, 500), 500, 2, shift=1.0), now=0)
    first = finalise(closed[0], DriftPolicy.of("classic"), OPTIONS)
    assert first.next_reference is not None
    windows.adopt(ReferenceHandle(1, "first_window", first.next_reference))
    (second,) = windows.add(make_batch([200.0], 1000, 3), now=0)
    return finalise(second, DriftPolicy.of("classic"), OPTIONS)


def test_window_closed(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    done = drifted_window()
    closed = done.closed
    loglines.window_closed(closed.model_id, closed.model_version, closed.window.start,
                           closed.window.end, closed.window.n_events, closed.n_late, done.report)
    record = only(caplog)
    assert record.getMessage() == (
        "window closed: model fraud v1, 1970-01-01T00:01:00Z to 1970-01-01T00:02:00Z, "
        "500 events, verdict dataset drift, drifted: x (critical)")
    fields = json.loads(JsonFormatter().format(record))
    assert fields == {
        "time": fields["time"], "level": "INFO", "logger": "streams.app.worker",
        "message": record.getMessage(), "event": "window_closed", "model": "fraud",
        "version": "1", "window_start": "1970-01-01T00:01:00Z",
        "window_end": "1970-01-01T00:02:00Z", "events": 500, "late": 0,
        "verdict": "dataset_drift", "drift_share": done.report.drift_share,
        "drifted": ["x"], "severities": {"x": "critical"}}


@pytest.mark.parametrize(("status", "drifted", "verdict"), [
    ("drift", True, "dataset_drift"), ("no_drift", True, "feature_drift"),
    ("no_drift", False, "no_drift"), ("insufficient_data", False, "insufficient_data")])
def test_verdicts(status: str, drifted: bool, verdict: str) -> None:
    assert loglines.verdict_of(status, drifted) == verdict


def test_alerts_fired_and_resolved_through_the_hub(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    firing = feature_event()
    resolved = replace(firing, status="resolved", summary="fraud v7: resolved: psi 0.02",
                       value=0.02)
    AlertHub().committed([firing, resolved])  # no dispatcher attached: still logged
    assert [r.getMessage() for r in caplog.records] == [
        "alert firing: rule psi-critical, model fraud v7, severity critical: "
        "feature amount psi 0.41 > 0.25 for 2 windows",
        "alert resolved: rule psi-critical, model fraud v7, severity critical: "
        "resolved: psi 0.02"]
    first = caplog.records[0].__dict__
    assert {k: first[k] for k in ("event", "rule", "model", "version", "severity", "feature",
                                  "value", "window_start", "receivers")} == {
        "event": "alert_firing", "rule": "psi-critical", "model": "fraud", "version": "7",
        "severity": "critical", "feature": "amount", "value": 0.41,
        "window_start": "2026-11-22T10:00:00Z", "receivers": ["oncall-slack", "pagerduty"]}
    assert caplog.records[1].__dict__["event"] == "alert_resolved"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_dead_letter_summary_at_most_once_per_interval(caplog: pytest.LogCaptureFixture
                                                       ) -> None:
    caplog.set_level(logging.INFO)
    clock = Clock()
    summary = loglines.DeadLetterSummary("driftline.deadletter", interval=60, clock=clock)
    summary.maybe_log()  # nothing counted: nothing logged
    summary.add(["bad_json", "bad_json", "missing_field"])
    summary.maybe_log()  # the first ones at once
    clock.now += 10
    summary.add(["bad_json"])
    summary.maybe_log()  # 10 s after a summary: held
    clock.now += 30
    summary.add(["wrong_type"])
    summary.maybe_log()
    assert len(caplog.records) == 1
    clock.now += 20  # 60 s since the last summary
    summary.maybe_log()
    clock.now += 5
    summary.add(["bad_value"])
    summary.flush()  # at stop: what is left
    summary.flush()  # nothing left
    assert [r.getMessage() for r in caplog.records] == [
        "dead letters: 3 in the last 0 s (bad_json 2, missing_field 1), sent to "
        "driftline.deadletter",
        "dead letters: 2 in the last 60 s (bad_json 1, wrong_type 1), sent to "
        "driftline.deadletter",
        "dead letters: 1 in the last 5 s (bad_value 1), sent to driftline.deadletter"]
    second = caplog.records[1].__dict__
    assert (second["event"], second["total"], second["reasons"], second["seconds"]) == (
        "dead_letters", 2, {"bad_json": 1, "wrong_type": 1}, 60.0)
