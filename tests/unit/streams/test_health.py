"""``streams.health``: when the worker is stuck, when it is ready."""

from __future__ import annotations

from streams.health import Health


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_an_idle_worker_stays_healthy() -> None:
    clock = Clock()
    health = Health(stall_timeout=120, store_failure_timeout=300, clock=clock)
    for _ in range(10):
        clock.now += 60
        health.iteration(applied=False, waiting=False)  # nothing to read, nothing pending
    assert health.live() == (True, {"status": "ok", "problems": [],
                                    "seconds_since_progress": 0.0, "stores_failing": {}})


def test_no_progress_while_work_waits_is_stuck() -> None:
    clock = Clock()
    health = Health(stall_timeout=120, store_failure_timeout=300, clock=clock)
    health.iteration(applied=True, waiting=True)
    clock.now += 100
    health.iteration(applied=False, waiting=True)  # lag, but nothing applied
    assert health.live()[0]
    clock.now += 21
    health.iteration(applied=False, waiting=True)
    ok, body = health.live()
    assert not ok
    assert body["status"] == "stuck"
    assert body["problems"] == ["no ingest progress for 121 s (limit 120 s)"]
    health.iteration(applied=True, waiting=True)  # a batch applied: progress again
    assert health.live()[0]


def test_a_loop_that_stops_turning_is_stuck() -> None:
    clock = Clock()
    health = Health(stall_timeout=120, store_failure_timeout=300, clock=clock)
    clock.now += 121  # not one iteration completed
    assert not health.live()[0]


def test_a_store_failing_too_long_is_stuck_until_it_lands() -> None:
    clock = Clock()
    health = Health(stall_timeout=1e9, store_failure_timeout=300, clock=clock)
    assert health.store_failed("windows") == 0.0
    clock.now += 200
    assert health.store_failed("windows") == 200.0
    assert health.live()[0]
    clock.now += 101
    ok, body = health.live()
    assert not ok
    assert body["problems"] == ["storing windows failing for 301 s (limit 300 s)"]
    assert body["stores_failing"] == {"windows": 301.0}
    health.store_ok("windows")
    assert health.live()[0]


def test_ready_only_while_partitions_are_held() -> None:
    health = Health(stall_timeout=120, store_failure_timeout=300)
    assert health.ready() == (False, {"ready": False, "partitions": []})  # before assignment
    health.assigned([1, 0])
    assert health.ready() == (True, {"ready": True, "partitions": [0, 1]})
    health.revoked([0])
    assert health.ready() == (True, {"ready": True, "partitions": [1]})
    health.revoked([1])  # revoked and not reassigned
    assert health.ready() == (False, {"ready": False, "partitions": []})
    health.assigned([])  # a rebalance that gives this worker nothing
    assert not health.is_ready
    health.assigned([2])
    assert health.is_ready
