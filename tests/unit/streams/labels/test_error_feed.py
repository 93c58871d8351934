"""The error feed: the detector's input in event-time order, whatever the batching."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest

from streams.labels.error_feed import ErrorFeed

DELAY = 100.0


def stream(n: int = 3000, seed: int = 0) -> tuple[np.ndarray, list[str], np.ndarray]:
    """Outcomes in arrival order: event times 0.1 s apart, arriving up to 60 s out of order
    (less than DELAY), some sharing one event time."""
    rng = np.random.default_rng(seed)
    times = np.floor(np.arange(n) * 0.1 * 4) / 4  # four outcomes per 0.25 s share a time
    arrival = np.argsort(times + rng.uniform(0, 60.0, n), kind="stable")
    ids = [f"p{i:05d}" for i in range(n)]
    errors = (rng.random(n) < 0.2).astype(np.float64)
    return times[arrival], [ids[i] for i in arrival], errors[arrival]


def feed_in(feed: ErrorFeed, times: np.ndarray, ids: list[str], errors: np.ndarray,
            cuts: list[int]) -> tuple[list[float], list[float]]:
    """Add the rows batch by batch (cut at ``cuts``) and collect every release."""
    out_times: list[float] = []
    out_errors: list[float] = []
    bounds = [0, *cuts, len(ids)]
    for lo, hi in itertools.pairwise(bounds):
        feed.add(times[lo:hi], ids[lo:hi], errors[lo:hi])
        released_times, released = feed.release()
        out_times += released_times.tolist()
        out_errors += released.tolist()
    return out_times, out_errors


def test_releases_are_sorted_by_event_time_then_id_and_only_once_final() -> None:
    feed = ErrorFeed(10.0)
    feed.add(np.array([5.0, 3.0, 3.0, 14.0]), ["b", "z", "a", "c"], np.array([1.0, 0, 1, 0]))
    times, errors = feed.release()
    assert times.tolist() == [3.0, 3.0]  # newest 14: everything before 4 is final
    assert errors.tolist() == [1.0, 0.0]  # "a" before "z"
    assert feed.pending == 2
    feed.add(np.array([30.0]), ["d"], np.array([1.0]))
    times, errors = feed.release()
    assert times.tolist() == [5.0, 14.0]
    assert errors.tolist() == [1.0, 0.0]


def test_the_same_outcomes_in_any_batching_give_the_same_sequence() -> None:
    times, ids, errors = stream()
    one = feed_in(ErrorFeed(DELAY), times, ids, errors, [])
    single = feed_in(ErrorFeed(DELAY), times, ids, errors, list(range(1, len(ids))))
    rng = np.random.default_rng(1)
    cuts = sorted(rng.choice(np.arange(1, len(ids)), 40, replace=False).tolist())
    ragged = feed_in(ErrorFeed(DELAY), times, ids, errors, cuts)
    assert one == single == ragged
    assert len(single[0]) == int((times < times.max() - DELAY).sum())  # none late
    assert single[0] == sorted(single[0])


def test_arrival_order_within_the_delay_does_not_change_the_sequence() -> None:
    times, ids, errors = stream(seed=2)
    other_times, other_ids, other_errors = stream(seed=3)  # the same rows, shuffled otherwise
    assert sorted(ids) == sorted(other_ids)
    assert ids != other_ids
    cuts = list(range(50, len(ids), 50))
    first = feed_in(ErrorFeed(DELAY), times, ids, errors, cuts)
    feed = ErrorFeed(DELAY)
    second = feed_in(feed, other_times, other_ids, other_errors, cuts[::3])
    assert first[0] == second[0]
    assert feed.late == 0


def test_the_errors_follow_their_outcomes_through_the_sort() -> None:
    feed = ErrorFeed(5.0)
    feed.add(np.array([2.0, 1.0, 3.0, 9.0]), ["x2", "x1", "x3", "x9"],
             np.array([0.25, 0.5, 0.75, 1.0]))
    times, errors = feed.release()
    assert dict(zip(times.tolist(), errors.tolist(), strict=True)) == {
        1.0: 0.5, 2.0: 0.25, 3.0: 0.75}


def test_an_outcome_behind_the_release_point_is_late_whatever_the_batching() -> None:
    rows = np.array([100.0, 300.0, 150.0, 250.0]), ["a", "b", "c", "d"], np.ones(4)
    together, alone = ErrorFeed(DELAY), ErrorFeed(DELAY)
    assert together.add(*rows) == 1  # c (150) came after b (300) moved the point to 200
    for i in range(4):
        alone.add(rows[0][i:i + 1], rows[1][i:i + 1], rows[2][i:i + 1])
        alone.release()
    assert alone.late == together.late == 1
    assert together.release()[0].tolist() == [100.0]
    assert together.pending == 2  # b and d wait; c is gone


def test_the_feed_waits_for_the_slowest_source_instead_of_leaving_its_outcomes_out() -> None:
    """Two join partitions, one hours of event time ahead (a backfill): the lagging
    one's outcomes are fed in order, none late, and the sequence is the offline one."""
    feed = ErrorFeed(DELAY)
    ahead, behind = np.arange(0.0, 20_000.0, 10.0), np.arange(5.0, 20_000.0, 10.0)
    ids = [f"a{i:05d}" for i in range(ahead.size)], [f"b{i:05d}" for i in range(behind.size)]
    feed.add(behind[:1], ids[1][:1], np.ones(1), 1)  # both sources seen before a release
    fed: list[float] = []
    for start in range(0, ahead.size, 500):  # partition 0 runs 5,000 s ahead of 1
        part = slice(start, start + 500)
        assert feed.add(ahead[part], ids[0][part], np.zeros(ahead[part].size), 0) == 0
        fed += feed.release()[0].tolist()
        back = slice(max(start - 500, 1), start)
        assert feed.add(behind[back], ids[1][back], np.ones(behind[back].size), 1) == 0
        fed += feed.release()[0].tolist()
    feed.add(behind[-500:], ids[1][-500:], np.ones(500), 1)
    fed += feed.release()[0].tolist()
    assert feed.late == 0
    every = np.sort(np.concatenate([ahead, behind]))
    assert fed == every[every < 19_990.0 - DELAY].tolist()  # the slower newest, 19,990
    # One source alone: the lagging partition's outcomes would all have been late.
    single = ErrorFeed(DELAY)
    single.add(ahead[:1000], ids[0][:1000], np.zeros(1000))
    single.release()
    assert single.add(behind[:500], ids[1][:500], np.ones(500)) == 500


def test_a_snapshot_restores_pending_errors_and_marks() -> None:
    times, ids, errors = stream(seed=4)
    whole = feed_in(ErrorFeed(DELAY), times, ids, errors, list(range(100, len(ids), 100)))
    first = ErrorFeed(DELAY)
    head = feed_in(first, times[:1500], ids[:1500], errors[:1500], list(range(100, 1500, 100)))
    data = json.loads(json.dumps(first.to_dict(), allow_nan=False))
    restored = ErrorFeed.from_dict(data, DELAY)
    assert restored.pending == first.pending > 0
    tail = feed_in(restored, times[1500:], ids[1500:], errors[1500:],
                   list(range(100, len(ids) - 1500, 100)))
    assert (head[0] + tail[0], head[1] + tail[1]) == whole


def test_a_snapshot_keeps_each_sources_mark_and_reads_one_written_before_sources() -> None:
    feed = ErrorFeed(DELAY)
    feed.add(np.array([500.0]), ["a"], np.ones(1), 0)
    feed.add(np.array([300.0]), ["b"], np.ones(1), 3)
    data = json.loads(json.dumps(feed.to_dict()))
    assert ErrorFeed.from_dict(data, DELAY).sources == {0: 500.0, 3: 300.0}
    del data["sources"]
    assert ErrorFeed.from_dict(data, DELAY).sources == {0: 500.0}


@pytest.mark.parametrize("delay", [-1.0, float("inf"), float("nan"), True, "15m"])
def test_a_bad_delay_is_refused_with_its_value(delay: object) -> None:
    with pytest.raises(ValueError, match="delay must be a finite number of seconds >= 0"):
        ErrorFeed(delay)  # type: ignore[arg-type]


def test_rows_of_unequal_length_are_refused() -> None:
    with pytest.raises(ValueError, match="equal lengths, got 2, 1 and 2"):
        ErrorFeed(1.0).add(np.array([1.0, 2.0]), ["a"], np.array([0.0, 1.0]))


class Clock:
    """A processing-time clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _one(time_: float, name: str) -> tuple[np.ndarray, list[str], np.ndarray]:
    return np.array([time_]), [name], np.array([1.0])


def test_a_silent_source_is_waited_for_until_idle_after_then_not() -> None:
    clock = Clock()
    feed = ErrorFeed(10.0, idle_after=300.0, clock=clock)
    feed.add(*_one(5.0, "quiet"), source=1)  # source 1 says something once, then nothing
    for i in range(1, 200):
        clock.now = float(i)
        feed.add(*_one(5.0 + i * 10, f"busy-{i}"), source=0)
        times, _ = feed.release()
        assert times.size == 0  # held: source 1 might still send outcomes after t=5
    assert feed.pending == 200
    clock.now = 301.0  # source 1 silent for more than idle_after
    feed.add(*_one(2_000.0, "busy-last"), source=0)
    times, _ = feed.release()
    assert times.size == 199  # everything before 2,000 - delay
    assert (times[0], times[-1]) == (5.0, 1_985.0)
    assert feed.pending == 2
    # It speaks again: waited for again; its outcome older than the release point is late.
    assert feed.add(*_one(100.0, "quiet-again"), source=1) == 1
    clock.now = 302.0
    feed.add(*_one(2_010.0, "busy-next"), source=0)
    assert feed.release()[0].size == 0  # source 1 is at t=100 again: wait for it


def test_silence_is_measured_from_a_restore() -> None:
    clock = Clock()
    feed = ErrorFeed(10.0, idle_after=300.0, clock=clock)
    feed.add(*_one(5.0, "quiet"), source=1)
    feed.add(*_one(500.0, "busy"), source=0)
    clock.now = 10_000.0
    restored = ErrorFeed.from_dict(json.loads(json.dumps(feed.to_dict())), 10.0,
                                   idle_after=300.0, clock=clock)
    clock.now = 10_100.0
    restored.add(*_one(510.0, "busy-2"), source=0)
    assert restored.release()[0].size == 0  # source 1 counts as heard at the restore
    clock.now = 10_301.0
    restored.add(*_one(520.0, "busy-3"), source=0)
    assert restored.release()[0].tolist() == [5.0, 500.0]  # before 520 - delay


def test_idle_after_must_be_positive() -> None:
    with pytest.raises(ValueError, match="idle_after must be > 0 seconds, got 0"):
        ErrorFeed(10.0, idle_after=0)


def test_known_sources_are_waited_for_before_they_speak() -> None:
    clock = Clock()
    feed = ErrorFeed(10.0, idle_after=300.0, clock=clock, sources=[0, 1, 2])
    feed.add(*_one(100.0, "a"), source=0)
    feed.add(*_one(200.0, "b"), source=0)
    assert feed.release()[0].size == 0  # partitions 1 and 2 have not spoken yet
    clock.now = 10.0
    feed.add(*_one(95.0, "c"), source=1)  # not late: nothing was released before it
    clock.now = 300.0
    feed.add(*_one(210.0, "d"), source=0)
    clock.now = 301.0  # partition 2 never spoke: no longer waited for
    feed.add(*_one(300.0, "e"), source=1)
    assert feed.release()[0].tolist() == [95.0, 100.0]  # before min(200, 300) - delay
    assert feed.late == 0
