"""Events checked before they are sent: what is refused, the report and the exit status."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from streams.cli.checked_send import CHUNK, SendReport, check, exit_status
from streams.config.settings import load_settings
from streams.decoding.events import DeadLetter

NOW = datetime.now(UTC)
SETTINGS = load_settings(None, {})
P, L = "driftline.predictions", "driftline.labels"


def _prediction(i: int, age: timedelta = timedelta(0)) -> bytes:
    return json.dumps({"event_id": f"e{i}", "model_id": "m", "features": {"x": i},
                       "event_time": (NOW - age).isoformat()}).encode()


def _label(i: int, age: timedelta = timedelta(0)) -> bytes:
    return json.dumps({"prediction_id": f"p{i}", "model_id": "m", "label": 1,
                       "event_time": (NOW - age).isoformat()}).encode()


def _run(records: list[tuple[str, bytes]], **options: Any) -> tuple[list[bytes], SendReport,
                                                                     list[DeadLetter]]:
    report = SendReport(sent_invalid=options.get("send_invalid", False))
    warned: list[DeadLetter] = []
    kept = check(((topic, None, value) for topic, value in records), labels_topic=L,
                 settings=SETTINGS, report=report, on_past=warned.append,
                 **{"backfill": False} | options)
    return [value for _, _, value in kept], report, warned


def test_valid_events_are_kept_in_order_and_the_rest_refused_by_reason() -> None:
    month = timedelta(days=30)
    records = [(P, _prediction(0)), (P, b"{oops"), (L, _label(1)), (P, _prediction(2, month)),
               (L, _label(3, month)), (L, _prediction(4)), (P, _prediction(5))]
    kept, report, warned = _run(records)
    assert kept == [_prediction(0), _label(1), _prediction(5)]
    assert report.refused == Counter(past_timestamp=2, bad_json=1, missing_field=1)
    assert [d.offset for d in warned] == [3]  # once, at the first past_timestamp
    assert exit_status(report) == 1


def test_a_backfill_keeps_old_events_and_warns_beyond_its_bound() -> None:
    records = [(P, _prediction(0, timedelta(days=30))), (L, _label(0, timedelta(days=29))),
               (P, _prediction(1, timedelta(days=800)))]
    kept, report, warned = _run(records, backfill=True)
    assert kept == [value for _, value in records[:2]]
    assert report.refused == Counter(past_timestamp=1)
    assert len(warned) == 1
    assert "ingest.max_past" in warned[0].detail  # the CLI names the backfill bound


def test_send_invalid_keeps_everything_but_still_counts_it() -> None:
    records = [(P, b"{oops"), (P, _prediction(1))]
    kept, report, _ = _run(records, send_invalid=True)
    assert kept == [b"{oops", _prediction(1)]
    assert report.summary() == "invalid, sent anyway 1 (bad_json 1); not delivered 0"
    assert exit_status(report) == 1


def test_chunks_do_not_change_what_is_refused() -> None:
    n = 2 * CHUNK + 7
    records = [(P, _prediction(i, timedelta(days=30 if i % 1000 == 999 else 0)))
               for i in range(n)]
    kept, report, warned = _run(records)
    assert len(kept) == n - 4
    assert report.refused == Counter(past_timestamp=4)
    assert len(warned) == 1


def test_exit_status_and_summary() -> None:
    assert exit_status(SendReport(sent=5)) == 0
    assert SendReport(sent=5).summary() == "refused 0; not delivered 0"
    failed = SendReport(sent=3, refused=Counter(bad_json=2),
                        failed=Counter(KafkaTimeoutError=1500))
    assert exit_status(failed) == 3
    assert failed.summary() == ("refused 2 (bad_json 2); not delivered 1,500 "
                                "(KafkaTimeoutError 1,500)")
    assert failed.handled(10) == 10 + 2 + 1500
