"""The range reader on a fake topic: which records it reads, keeps, skips and samples."""

from __future__ import annotations

import json
import socket
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from detectors._sampling import row_priorities
from streams.config.settings import IngestSettings
from streams.decoding.backfill import HEADERS as BACKFILL
from streams.decoding.columns import row_keys
from streams.transport.history import RangeQuery, RangeRows, read_range
from tests.unit.streams.transport.fake_topic import FakeTopic, event

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
START, END = T0, T0 + timedelta(hours=1)
GRACE = 30.0


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def query(version: str | None = "1", *, max_rows: int = 1000, timeout: float = 10.0,
          model: str = "fraud") -> RangeQuery:
    return RangeQuery("fake:9092", "preds", model, version, START, END, grace=GRACE,
                      max_rows=max_rows, timeout=timeout)


def read(topic: FakeTopic, q: RangeQuery, ingest: IngestSettings | None = None) -> RangeRows:
    return read_range(q, ingest or IngestSettings(), None, topic.consumer)


def kept_ids(found: RangeRows) -> list[int]:
    return sorted(int(v) for v in found.rows.columns()["i"])


def written_at_event_time(topic: FakeTopic, partition: int, at: datetime, index: int,
                          **kwargs: str) -> None:
    topic.append(partition, ms(at) + 5, event("fraud", at, index, **kwargs))


def test_only_events_of_the_range_model_and_version_are_kept() -> None:
    topic = FakeTopic("preds", 2)
    minute = timedelta(minutes=1)
    for i, at in enumerate([START - 10 * minute, START - minute, START, START + minute,
                            END - minute, END, END + minute]):
        written_at_event_time(topic, i % 2, at, i)
    topic.append(0, ms(START) + 9, event("churn", START + minute, 100))
    topic.append(1, ms(START) + 9, event("fraud", START + minute, 101, version="2"))
    found = read(topic, query())
    assert kept_ids(found) == [2, 3, 4]
    assert (found.matched, found.kept, found.sampled, found.invalid) == (3, 3, False, 0)
    assert kept_ids(read(topic, query(None))) == [2, 3, 4, 101]
    assert kept_ids(read(topic, query("2"))) == [101]
    assert read(topic, query(model="nobody")).matched == 0


def test_reading_starts_at_start_minus_grace_and_stops_after_end_plus_grace() -> None:
    """Records written before ``start - grace`` are not read; nor is anything after the
    first record written after ``end + grace`` (history replayed later)."""
    topic = FakeTopic("preds", 1)
    topic.append(0, ms(START) - 60_000, event("fraud", START + timedelta(seconds=1), 0))
    written_at_event_time(topic, 0, START + timedelta(minutes=5), 1)
    topic.append(0, ms(END) + 20_000, event("fraud", END - timedelta(seconds=1), 2))
    topic.append(0, ms(END) + 31_000, event("fraud", START + timedelta(minutes=6), 3))
    written_at_event_time(topic, 0, START + timedelta(minutes=7), 4)
    found = read(topic, query())
    assert kept_ids(found) == [1, 2]
    assert found.records_read == 2


def test_invalid_events_are_skipped_and_counted_as_the_worker_judged_them() -> None:
    topic = FakeTopic("preds", 1)
    inside = START + timedelta(minutes=1)
    written_at_event_time(topic, 0, inside, 0)
    topic.append(0, ms(inside), b'{"event_id": "e1", "model_id": "fraud",')  # bad_json
    topic.append(0, ms(inside), None)  # empty_payload
    topic.append(0, ms(inside), json.dumps({"event_id": "e3", "model_id": "fraud",
                                            "model_version": 7, "event_time": inside.isoformat(),
                                            "features": {"i": 3}}).encode())  # wrong_type
    # Judged against the ingest limits of when it was written: 8 days old then.
    topic.append(0, ms(inside) + 10, event("fraud", inside - timedelta(days=8), 4))
    found = read(topic, RangeQuery("fake:9092", "preds", "fraud", "1",
                                   START - timedelta(days=9), END, grace=GRACE, max_rows=10,
                                   timeout=10.0))
    assert kept_ids(found) == [0]
    assert (found.records_read, found.invalid) == (5, 4)


def test_a_backfill_is_judged_by_the_backfill_limits() -> None:
    topic = FakeTopic("preds", 1)
    old = START - timedelta(days=20)
    topic.append(0, ms(START), event("fraud", old, 0), headers=BACKFILL)
    topic.append(0, ms(START), event("fraud", old, 1))  # no mark: past_timestamp
    found = read(topic, RangeQuery("fake:9092", "preds", "fraud", "1", old, END,
                                   grace=GRACE, max_rows=10, timeout=10.0))
    assert kept_ids(found) == [0]
    assert found.invalid == 1


def test_the_sample_is_capped_and_the_same_whatever_the_order_read() -> None:
    """At most ``max_rows`` rows, the bottom-k of the worker's priorities of the row keys:
    the same rows when the records are read in another order."""
    topics = (FakeTopic("preds", 3), FakeTopic("preds", 3))
    positions: dict[int, tuple[int, int]] = {}
    for n in range(600):
        at = START + timedelta(seconds=n)
        partition = n % 3
        for topic in topics:
            record = topic.append(partition, ms(at), event("fraud", at, n))
        positions[n] = (partition, record.offset)
    topics[1].records = dict(reversed(topics[1].records.items()))  # partitions read reversed
    first, again, other = (read(topics[0], query(max_rows=50)),
                           read(topics[0], query(max_rows=50)),
                           read(topics[1], query(max_rows=50)))
    assert (first.kept, first.matched, first.sampled) == (50, 600, True)
    keys = row_keys([positions[n] for n in range(600)])
    expected = sorted(np.argsort(row_priorities(keys, 0), kind="stable")[:50].tolist())
    assert kept_ids(first) == kept_ids(again) == kept_ids(other) == expected


def test_the_end_offset_is_a_hint_the_high_watermark_settles() -> None:
    topic = FakeTopic("preds", 1)
    for n in range(5):
        written_at_event_time(topic, 0, START + timedelta(minutes=n), n)
    topic.reported_end[0] = 3  # the embedded broker's end: the last batch's base + 1
    topic.fetch_records = 2
    assert kept_ids(read(topic, query())) == [0, 1, 2, 3, 4]


def test_feature_names_past_the_cap_are_dropped_and_counted() -> None:
    topic = FakeTopic("preds", 1)
    for n in range(3):
        at = START + timedelta(minutes=n)
        topic.append(0, ms(at), event("fraud", at, n, a=1.0, b=2.0))
    found = read(topic, query(), IngestSettings(max_features_per_model=2))
    assert set(found.rows.names) == {"i", "a", "prediction", "score"}
    assert found.features_dropped == 3


def test_a_read_that_does_not_finish_in_time_is_a_timeout() -> None:
    topic = FakeTopic("preds", 1)
    written_at_event_time(topic, 0, START, 0)
    topic.stalled = True
    with pytest.raises(TimeoutError, match="preds partition 0 did not finish in time"):
        read(topic, query(timeout=0.2))


def test_an_unknown_topic_and_a_closed_port_are_clear_errors() -> None:
    topic = FakeTopic("other", 1)
    with pytest.raises(LookupError, match="topic preds does not exist"):
        read(topic, query())
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    q = RangeQuery(f"127.0.0.1:{port}", "preds", "fraud", "1", START, END, grace=GRACE,
                   max_rows=10, timeout=2.0)
    with pytest.raises(ConnectionError, match=f"127.0.0.1:{port}"):
        read_range(q, IngestSettings())


def test_a_bad_query_is_refused() -> None:
    with pytest.raises(ValueError, match="must be after start"):
        RangeQuery("b:1", "t", "m", None, END, START, grace=0, max_rows=1, timeout=1)
    with pytest.raises(ValueError, match="start must have a timezone"):
        RangeQuery("b:1", "t", "m", None, START.replace(tzinfo=None), END, grace=0,
                   max_rows=1, timeout=1)
