"""Backfill records: the header, the limits they are validated against, late ones logged."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta

import pytest

from streams.config.settings import IngestSettings
from streams.decoding.backfill import (
    HEADERS,
    LateBackfillLog,
    backfill_ingest,
    is_backfill,
    is_live,
    split,
)
from streams.decoding.events import DeadLetter, PastTimestampLog, RawMessage
from streams.ingest.service import Ingest

NOW = datetime.now(UTC)


def _message(offset: int, moment: datetime, *, backfill: bool) -> RawMessage:
    event = {"event_id": f"e{offset}", "model_id": "fraud",
             "event_time": moment.isoformat().replace("+00:00", "Z"),
             "features": {"amount": float(offset), "country": "DE"}}
    return RawMessage("driftline.predictions", 0, offset, b"fraud", json.dumps(event).encode(),
                      1, HEADERS if backfill else ())



def test_only_the_header_with_value_1_marks_a_backfill() -> None:
    old = NOW - timedelta(days=30)
    marked = _message(0, old, backfill=True)
    other = RawMessage("t", 0, 1, None, b"{}", None, [("driftline-backfill", b"0"), ("x", b"1")])
    plain = _message(2, old, backfill=False)
    assert [is_backfill(m) for m in (marked, other, plain)] == [True, False, False]
    messages = [plain, marked, other]
    assert split(messages) == ([plain, other], [marked])
    live, backfill = split([plain])
    assert (list(live), backfill) == ([plain], [])


def test_backfill_limits_replace_max_past_only() -> None:
    ingest = IngestSettings(max_past=3600.0, backfill_max_past=86400.0)
    assert backfill_ingest(ingest) == IngestSettings(max_past=86400.0, backfill_max_past=86400.0)


@pytest.mark.parametrize("n", [8, 200])  # the per-event and the columnar decoder
def test_month_old_backfill_events_are_windowed_and_live_ones_dead_lettered(
        ingest: Ingest, n: int) -> None:
    month = (NOW - timedelta(days=30)).replace(minute=0, second=0, microsecond=0)
    messages = [_message(i, month + timedelta(seconds=i), backfill=True) for i in range(n)]
    messages += [_message(n, month, backfill=False),  # live: past_timestamp
                 _message(n + 1, NOW - timedelta(days=800), backfill=True),  # beyond 730d
                 _message(n + 2, NOW + timedelta(hours=2), backfill=True)]  # max_future holds
    decoded = ingest.decode(messages)
    assert decoded.batches == {}
    assert list(decoded.backfill) == [("fraud", "1")]
    assert len(decoded.backfill[("fraud", "1")]) == n
    assert sorted((d.offset, d.reason) for d in decoded.dead_letters) == [
        (n, "past_timestamp"), (n + 1, "past_timestamp"), (n + 2, "future_timestamp")]
    assert decoded.n_events == n
    beyond = next(d for d in decoded.dead_letters if d.offset == n + 1)
    assert "is earlier than now - ingest.backfill_max_past (" in beyond.detail
    assert ingest.apply(0, decoded, n + 3) == []
    (windows,) = ingest.partitions[0].models.values()
    assert sum(w.n_events for w in windows.windows.values()) == n
    assert windows.watermark == (month + timedelta(seconds=n - 1)).timestamp()
    assert len(ingest.outgoing) == 0  # no prediction ids: nothing for the join


def test_backfill_older_than_closed_windows_is_late_and_logged_once(
        ingest: Ingest, caplog: pytest.LogCaptureFixture) -> None:
    recent = (NOW - timedelta(hours=1)).replace(second=0, microsecond=0)
    live = [_message(i, recent + timedelta(seconds=30 * i), backfill=False) for i in range(30)]
    ingest.apply(0, ingest.decode(live), 30)  # closes windows up to about now
    month = NOW - timedelta(days=30)
    with caplog.at_level(logging.WARNING, "streams.decoding.backfill"):
        for first in (30, 40):
            old = [_message(i, month, backfill=True) for i in range(first, first + 10)]
            ingest.apply(0, ingest.decode(old), first + 10)
    (windows,) = ingest.partitions[0].models.values()
    assert windows.n_late == 20
    assert ingest.metrics.late.labels(model="fraud")._value.get() == 20
    (line,) = [r.getMessage() for r in caplog.records]
    assert line.startswith("backfill: 10 event(s) of model 'fraud' version '1' are older than "
                           "its windows already closed (up to ")
    assert "counted as late, not stored" in line


def test_the_late_backfill_line_is_at_most_once_a_minute_per_model_version(
        caplog: pytest.LogCaptureFixture) -> None:
    clock = [0.0]
    late = LateBackfillLog(clock=lambda: clock[0])
    with caplog.at_level(logging.WARNING, "streams.decoding.backfill"):
        assert late.note("fraud", "1", 5, 0.0)
        assert not late.note("fraud", "1", 7, 0.0)
        assert late.note("fraud", "2", 1, 0.0)
        assert not late.note("fraud", "1", 0, 0.0)
        clock[0] = 60.0
        assert late.note("fraud", "1", 2, 0.0)
    counts = [r.getMessage().split(" event(s)")[0] for r in caplog.records]
    assert counts == ["backfill: 5", "backfill: 1", "backfill: 9"]


def _dead(reason: str) -> DeadLetter:
    return DeadLetter(reason, "x", "t", 0, 0, None, b"{}")  # type: ignore[arg-type]


def test_past_timestamps_are_logged_once_a_minute_with_their_count(
        caplog: pytest.LogCaptureFixture) -> None:
    clock = [100.0]
    past = PastTimestampLog("predictions", 7 * 86400.0, clock=lambda: clock[0])
    with caplog.at_level(logging.WARNING, "streams.decoding.events"):
        assert past.note([_dead("past_timestamp")] * 3 + [_dead("bad_json")])
        assert not past.note([_dead("past_timestamp")] * 4)
        assert not past.note([_dead("future_timestamp")])
        clock[0] = 159.0
        assert not past.note([_dead("past_timestamp")])
        clock[0] = 160.0
        assert past.note([_dead("past_timestamp")])
    lines = [r.getMessage() for r in caplog.records]
    assert [r.levelname for r in caplog.records] == ["WARNING", "WARNING"]
    assert lines[0] == (
        "predictions: dead-lettered 3 event(s) as past_timestamp (event_time older than "
        "ingest.max_past, 7d); to replay history, mark it as a backfill: `driftline backfill` "
        "or `driftline replay --backfill` (docs/backfill.md)")
    assert lines[1].startswith("predictions: dead-lettered 6 event(s) as past_timestamp")


def test_the_ingest_logs_past_timestamps_of_live_events_only(
        ingest: Ingest, caplog: pytest.LogCaptureFixture) -> None:
    month = NOW - timedelta(days=30)
    with caplog.at_level(logging.WARNING, "streams.decoding.events"):
        ingest.decode([_message(0, month, backfill=True)])
        assert caplog.records == []
        ingest.decode([_message(1, month, backfill=False)])
    assert [r.getMessage()[:48] for r in caplog.records] == [
        "predictions: dead-lettered 1 event(s) as past_ti"]


def test_alert_rules_judge_windows_that_ended_within_max_past() -> None:
    ingest = IngestSettings(max_past=3600.0)
    assert is_live(1000.0, ingest, now=4600.0)
    assert not is_live(999.9, ingest, now=4600.0)
    assert is_live(NOW.timestamp() - 60, IngestSettings())
