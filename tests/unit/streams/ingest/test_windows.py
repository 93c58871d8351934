"""Event-time windows: watermark, grace, late events, idle close, references, snapshots."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest

from detectors import DriftPolicy, compare
from streams.ingest.closing import finalise
from streams.ingest.windows import ClosedWindow, ModelWindows, ReferenceHandle, WindowRules
from tests.unit.streams.ingest.window_batches import OPTIONS, Batch, make_batch, state

# The windows here are small: their first one makes the reference (rules' reference_rows 0).
POLICY = DriftPolicy(min_reference_rows=0)


def test_windows_close_when_the_watermark_passes_end_plus_grace() -> None:
    windows = state()
    assert windows.add(make_batch([0, 30, 59], 0, 1), now=0) == []
    assert windows.add(make_batch([65], 3, 2), now=1) == []  # 65 < 60 + 10
    closed = windows.add(make_batch([70], 4, 3), now=2)
    assert [(c.window.start, c.window.end, c.window.n_events) for c in closed] == [(0, 60, 3)]
    assert list(windows.windows) == [60.0]


def test_late_events_are_counted_and_never_mixed_into_a_closed_window() -> None:
    windows = state()
    windows.add(make_batch([1, 2, 3], 0, 1), now=0)
    windows.add(make_batch([75], 3, 2), now=1)  # closes [0, 60)
    closed_before = windows.closed_until
    windows.add(make_batch([5, 6, 61], 4, 3), now=2)
    assert windows.n_late == 2
    assert closed_before == 60
    assert windows.windows[60.0].n_events == 2  # 75 and 61; the late 5 and 6 went nowhere


def test_out_of_order_events_within_grace_are_kept() -> None:
    windows = state()
    windows.add(make_batch([62], 0, 1), now=0)
    windows.add(make_batch([58], 1, 2), now=0)  # window [0,60) still open: 62 < 70
    assert windows.n_late == 0
    assert windows.windows[0.0].n_events == 1


def test_idle_timeout_closes_open_windows() -> None:
    windows = state(WindowRules(size=60, grace=10, idle_timeout=5))
    windows.add(make_batch([1, 2], 0, 1), now=100.0)
    assert windows.tick(104.0) == []
    closed = windows.tick(105.0)
    assert [c.window.n_events for c in closed] == [2]
    assert windows.add(make_batch([3], 2, 2), now=106).__len__() == 0
    assert windows.n_late == 1


def test_count_windows_close_after_n_events() -> None:
    windows = state(WindowRules(count=4, size=60))
    closed = windows.add(make_batch(np.arange(10.0), 0, 1), now=0)
    assert [(c.window.start, c.window.end, c.window.n_events) for c in closed] == [
        (0.0, 3.0, 4), (4.0, 7.0, 4)]
    assert next(iter(windows.windows.values())).n_events == 2


def test_count_windows_record_the_window_of_every_row() -> None:
    windows = state(WindowRules(count=4, size=60))
    windows.add(make_batch(np.arange(10.0), 0, 1), now=0)
    assert windows.row_windows is not None
    assert windows.row_windows.tolist() == [0.0] * 4 + [4.0] * 4 + [8.0] * 2
    windows.add(make_batch([10.0, 11.0, 12.0], 10, 2), now=1)  # finishes window 8, opens 12
    assert windows.row_windows.tolist() == [8.0, 8.0, 12.0]
    time_windows = state()
    time_windows.add(make_batch([1.0], 0, 1), now=0)
    assert time_windows.row_windows is None  # a time window follows from the event time


def test_count_window_starts_strictly_increase_and_ends_follow_them() -> None:
    """Equal and out-of-order event times still give storable, distinct windows."""
    windows = state(WindowRules(count=2, size=60))
    closed = windows.add(make_batch([5.0, 5.0, 5.0, 3.0, 9.0, 1.0, 1.0], 0, 1), now=0)
    closed += windows.tick(1e9)
    bounds = [(c.window.start, c.window.end) for c in closed]
    want = [(5.0, 5.001), (5.001, 5.002), (9.0, 9.001), (9.001, 9.002)]
    assert np.allclose(bounds, want, rtol=0, atol=1e-9)
    assert all(end > start for start, end in bounds)
    assert all(b[0] >= a[1] for a, b in itertools.pairwise(bounds))
    assert [c.window.n_events for c in closed] == [2, 2, 2, 1]


def test_count_windows_after_a_snapshot_continue_where_they_were() -> None:
    rules = WindowRules(count=3, size=60)
    events = np.array([4.0, 2.0, 7.0, 7.0, 7.0, 1.0, 8.0, 9.0])
    straight = state(rules)
    straight.add(make_batch(events[:5], 0, 1), now=0)
    assert straight.row_windows is not None
    first = straight.row_windows.tolist()
    straight.add(make_batch(events[5:], 5, 2), now=0)
    assert straight.row_windows is not None
    second = straight.row_windows.tolist()
    resumed = state(rules)
    resumed.add(make_batch(events[:5], 0, 1), now=0)
    data = json.loads(json.dumps(resumed.to_dict()))
    restored = ModelWindows.from_dict(data, rules, OPTIONS, lambda _: _no_reference(), now=0)
    restored.add(make_batch(events[5:], 5, 2), now=0)
    assert restored.row_windows is not None
    assert restored.row_windows.tolist() == second
    assert first + second == [4.0] * 3 + [7.0] * 3 + [8.0] * 2


def _no_reference() -> ReferenceHandle:
    raise AssertionError("no reference was stored")


def _close_all(windows: ModelWindows, batches: list[Batch]) -> list[ClosedWindow]:
    closed: list[ClosedWindow] = []
    for batch in batches:
        closed += windows.add(batch, now=0)
    return closed


def test_first_window_becomes_the_reference_and_later_windows_match_compare() -> None:
    windows = state()
    batches = [make_batch(np.linspace(0, 59, 500), 0, 1),
               make_batch(np.linspace(60, 119, 500), 500, 2, shift=1.0),
               make_batch(np.linspace(120, 179, 500), 1000, 3),
               make_batch([200.0], 1500, 4)]
    closed = _close_all(windows, batches[:2])  # closes window 0 (watermark 119 >= 70)
    first = finalise(closed[0], POLICY, OPTIONS)
    assert first.reference_source == "first_window"
    assert first.next_reference is not None
    assert all(not f.drifted for f in first.report.features)
    windows.adopt(ReferenceHandle(1, "first_window", first.next_reference))
    closed = _close_all(windows, batches[2:])
    reports = [finalise(c, POLICY, OPTIONS).report for c in closed]
    assert [c.window.start for c in closed] == [60.0, 120.0]
    assert [f.name for f in reports[0].features if f.drifted] == ["x"]
    assert [f.name for f in reports[1].features if f.drifted] == []
    expected = compare(
        batches[0].columns,
        batches[1].columns,
        {"x": "numeric", "c": "categorical", "score": "numeric"},
        roles={"score": "prediction"}, policy=POLICY,
    )
    got = {f.name: f for f in (*reports[0].features, *reports[0].predictions)}
    for want in (*expected.features, *expected.predictions):
        assert got[want.name].psi == pytest.approx(want.psi, rel=1e-12)
        assert got[want.name].pvalue == pytest.approx(want.pvalue, rel=1e-9)


def test_the_reference_is_gathered_across_windows_until_it_holds_enough_rows() -> None:
    windows = state(WindowRules(size=60, grace=10, reference_rows=1000))
    policy = DriftPolicy(min_reference_rows=1000)
    batches = [make_batch(np.linspace(60 * k, 60 * k + 59, 500), 500 * k, k) for k in range(4)]
    first = _close_all(windows, batches[:2])  # window 0 closes: 500 rows gathered
    assert first[0].gathered is None
    done = finalise(first[0], policy, OPTIONS)
    assert (done.reference_source, done.next_reference) == ("gathering", None)
    assert done.report.status == "insufficient_data"
    # A restart here goes on gathering from the snapshot.
    snapshot = json.loads(json.dumps(windows.to_dict(), allow_nan=False))
    restored = ModelWindows.from_dict(snapshot, windows.rules, OPTIONS,
                                      lambda ref_id: pytest.fail("no reference yet"), now=0)
    for model in (windows, restored):
        second = _close_all(model, batches[2:3])  # window 1 closes: 1,000 rows
        assert second[0].gathered is not None
        made = finalise(second[0], policy, OPTIONS)
        assert made.reference_source == "first_window"
        assert made.next_reference is not None
        assert made.next_reference.n_rows == 1000
        assert made.report.status == "no_drift"
        assert model.gathering is None
        assert model.gathered
    assert windows.to_dict() == restored.to_dict()
    # A window closing before the reference is adopted does not start a new gathering.
    third = _close_all(windows, batches[3:])
    assert third[0].gathered is None
    assert windows.gathering is None
    expected = compare({n: np.concatenate([b.columns[n] for b in batches[:2]])
                        for n in ("x", "c", "score")}, batches[1].columns,
                       {"x": "numeric", "c": "categorical", "score": "numeric"},
                       roles={"score": "prediction"}, policy=policy)
    got = {f.name: f for f in (*made.report.features, *made.report.predictions)}
    for want in (*expected.features, *expected.predictions):
        assert got[want.name].pvalue == pytest.approx(want.pvalue, rel=1e-9)


def test_snapshot_restores_open_windows_exactly() -> None:
    windows = state()
    first = _close_all(windows, [make_batch(np.linspace(0, 59, 300), 0, 1),
                                 make_batch([75.0], 300, 2)])
    profile = finalise(first[0], POLICY, OPTIONS).next_reference
    assert profile is not None
    handle = ReferenceHandle(7, "first_window", profile)
    windows.adopt(handle)
    windows.add(make_batch(np.linspace(76, 110, 200), 301, 3, shift=0.5), now=0)
    snapshot = json.loads(json.dumps(windows.to_dict(), allow_nan=False))
    restored = ModelWindows.from_dict(snapshot, windows.rules, OPTIONS,
                                      lambda ref_id: handle, now=0)
    tail = [make_batch(np.linspace(111, 119, 50), 501, 4), make_batch([300.0], 551, 5)]
    original = _close_all(windows, tail)
    again = _close_all(restored, tail)
    assert len(original) == len(again) == 1
    assert restored.windows.keys() == windows.windows.keys() == {300.0}
    for a, b in zip(original, again, strict=True):
        report_a = finalise(a, POLICY, OPTIONS).report.to_dict()
        report_b = finalise(b, POLICY, OPTIONS).report.to_dict()
        assert report_a == report_b
        assert a.window.n_events == b.window.n_events


POOLING = WindowRules(size=60, grace=10, pool_windows=3, pool_below_rows=10_000)


def _pooling_state() -> tuple[ModelWindows, ReferenceHandle]:
    windows = state(POOLING)
    first = _close_all(windows, [make_batch(np.linspace(0, 59, 600), 0, 1),
                                 make_batch([75.0], 600, 2)])
    profile = finalise(first[0], POLICY, OPTIONS).next_reference
    assert profile is not None
    handle = ReferenceHandle(7, "first_window", profile)
    windows.adopt(handle)
    return windows, handle


def _minute(k: int, shift: float = 0.0) -> Batch:
    """300 rows in window ``[60k, 60k + 60)``, keys and draws of their own."""
    return make_batch(np.linspace(60 * k + 1, 60 * k + 59, 300), 1_000 * k, 10 + k, shift)


def test_closed_windows_carry_the_sketches_before_them_bounded_and_per_reference() -> None:
    windows, handle = _pooling_state()
    closed = _close_all(windows, [_minute(k) for k in range(2, 7)])
    assert [len(c.previous) for c in closed] == [0, 1, 2, 2, 2]
    assert closed[4].previous_for(handle) == (closed[2].window.sketch, closed[3].window.sketch)
    # Re-sketched after closing against another reference, even one of the same id (a
    # reference replaced in place): pooled with none.
    assert closed[4].previous_for(ReferenceHandle(7, "first_window", handle.profile)) == ()
    assert len(windows.recent) == 2
    windows.adopt(ReferenceHandle(8, "first_window", handle.profile))
    assert windows.recent == []


def test_a_restored_snapshot_pools_as_the_uninterrupted_run() -> None:
    windows, handle = _pooling_state()
    _close_all(windows, [_minute(k) for k in range(2, 6)])
    assert len(windows.recent) == 2
    snapshot = json.loads(json.dumps(windows.to_dict(), allow_nan=False))
    restored = ModelWindows.from_dict(snapshot, windows.rules, OPTIONS,
                                      lambda ref_id: handle, now=0)
    tail = [_minute(k, shift=0.3 * (k > 6)) for k in range(6, 10)]
    original, again = _close_all(windows, tail), _close_all(restored, tail)
    assert len(original) == len(again) == 4
    reports = [(finalise(a, POLICY, OPTIONS).report.to_dict(),
                finalise(b, POLICY, OPTIONS).report.to_dict())
               for a, b in zip(original, again, strict=True)]
    assert all(a == b for a, b in reports)
    assert all(f["pooled_windows"] == 3 for a, _ in reports for f in a["features"])


def test_previous_window_policy_never_pools() -> None:
    windows = state(WindowRules(size=60, grace=10, keep_rows=True, pool_windows=3,
                                pool_below_rows=10_000))
    windows.adopt(ReferenceHandle(7, "first_window", _pooling_state()[1].profile))
    closed = _close_all(windows, [_minute(k) for k in range(2, 6)])
    assert [c.previous for c in closed] == [(), (), ()]
    assert windows.recent == []
