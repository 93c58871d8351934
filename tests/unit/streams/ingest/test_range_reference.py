"""``profile_range``: the profile of a range is the worker's profile of exactly its events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import MappingProxyType

import pytest

from detectors import ProfileOptions, ReferenceProfile
from detectors._sampling import row_priorities
from detectors.rowsample import RowSample
from streams.config.settings import ModelSettings, Settings, WindowSettings
from streams.decoding.columns import to_model_batches
from streams.decoding.events import PredictionEvent, limits_for, validate_prediction
from streams.ingest.closing import profile_from_rows
from streams.ingest.range_reference import NoEventsError, check_range, profile_range
from tests.unit.streams.transport.fake_topic import FakeTopic, event

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
END = T0 + timedelta(hours=1)
FRAUD = ModelSettings(window=WindowSettings(grace=10.0),
                      profile=ProfileOptions(sample_cap=40, seed=3),
                      features=MappingProxyType({"i": "categorical"}))
SETTINGS = Settings(models=MappingProxyType({"default": ModelSettings(), "fraud": FRAUD}))


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def filled_topic() -> tuple[FakeTopic, list[tuple[bytes, tuple[int, int]]]]:
    """A topic of 150 events over two hours, and the (value, position) of those in range."""
    topic = FakeTopic(SETTINGS.topics.predictions, 2)
    inside = []
    for n in range(150):
        at = T0 - timedelta(minutes=30) + timedelta(minutes=n)
        value = event("fraud", at, n, country=["DE", "FR", "US"][n % 3], amount=n * 1.5)
        record = topic.append(n % 2, ms(at), value)
        if T0 <= at < END:
            inside.append((value, (record.partition, record.offset)))
    return topic, inside


def direct_profile(inside: list[tuple[bytes, tuple[int, int]]]) -> ReferenceProfile:
    """The profile of the in-range events built straight from their columns."""
    limits = limits_for(END, SETTINGS.ingest, None)
    events = []
    for value, _ in inside:
        decoded = validate_prediction(value, limits)
        assert isinstance(decoded, PredictionEvent)
        events.append(decoded)
    (batch,) = to_model_batches(events, [p for _, p in inside]).values()
    rows = RowSample(FRAUD.profile.sample_cap)
    rows.add(batch.columns, row_priorities(batch.row_keys, FRAUD.profile.seed), batch.missing)
    return profile_from_rows(rows, FRAUD.profile, FRAUD.features)


def test_the_profile_is_the_workers_profile_of_the_events_in_range() -> None:
    topic, inside = filled_topic()
    built = profile_range(SETTINGS, "fraud", "1", T0, END, consumer_factory=topic.consumer)
    assert len(inside) == 60
    assert built.profile.to_dict() == direct_profile(inside).to_dict()
    assert built.profile.n_rows == 60
    kinds = {c.name: c.to_dict()["kind"] for c in built.profile.columns}
    assert (kinds["i"], kinds["amount"]) == ("categorical", "numeric")
    assert built.audit() == {
        "range": {"start": T0.isoformat(), "end": END.isoformat()},
        "counts": {"records_read": built.found.records_read, "events_in_range": 60,
                   "rows_kept": 40, "skipped_invalid": 0, "features_dropped": 0,
                   "sampled": True}}


def test_a_range_without_events_names_the_model_version_and_range() -> None:
    topic, _ = filled_topic()
    with pytest.raises(NoEventsError) as caught:
        profile_range(SETTINGS, "fraud", "9", T0, END, consumer_factory=topic.consumer)
    assert (f"no valid event of model 'fraud' version '9' from {T0.isoformat()} to "
            f"{END.isoformat()}") in str(caught.value)
    with pytest.raises(NoEventsError, match="model 'churn' every version"):
        profile_range(SETTINGS, "churn", None, T0, END, consumer_factory=topic.consumer)


@pytest.mark.parametrize(("start", "end", "message"), [
    (END, T0, "must be after start"),
    (T0, T0, "must be after start"),
    (T0, T0 + timedelta(days=31, seconds=1), "longer than 31 days"),
    (T0.replace(tzinfo=None), END, "start must have a timezone"),
])
def test_a_bad_range_is_refused_before_any_read(start: datetime, end: datetime,
                                                message: str) -> None:
    topic = FakeTopic(SETTINGS.topics.predictions, 1)
    with pytest.raises(ValueError, match=message):
        profile_range(SETTINGS, "fraud", "1", start, end, consumer_factory=topic.consumer)
    assert topic.opened == 0
    check_range(T0, T0 + timedelta(days=31))
