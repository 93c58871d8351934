"""``streams.runtime.health``: when the worker is stuck, when it is ready."""

from __future__ import annotations

from streams.runtime.health import Health


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
    # before assignment
    assert health.ready() == (False, {"ready": False, "partitions": [], "problems": []})
    health.assigned([1, 0])
    assert health.ready() == (True, {"ready": True, "partitions": [0, 1], "problems": []})
    health.revoked([0])
    assert health.ready() == (True, {"ready": True, "partitions": [1], "problems": []})
    health.revoked([1])  # revoked and not reassigned
    assert health.ready() == (False, {"ready": False, "partitions": [], "problems": []})
    health.assigned([])  # a rebalance that gives this worker nothing
    assert not health.is_ready
    health.assigned([2])
    assert health.is_ready


def test_not_ready_while_a_store_cannot_reach_the_database() -> None:
    clock = Clock()
    health = Health(stall_timeout=1e9, store_failure_timeout=300, clock=clock)
    health.assigned([0])
    health.store_failed("windows", "OperationalError: connection refused")
    clock.now += 12
    health.store_failed("windows", "OperationalError: timeout expired")
    ok, body = health.ready()
    assert not ok
    assert body["problems"] == [
        "database unreachable: storing windows failing for 12 s: "
        "OperationalError: timeout expired"]
    assert health.live()[0]  # waiting for the database is not being stuck
    health.store_ok("windows")
    assert health.ready() == (True, {"ready": True, "partitions": [0], "problems": []})


def test_a_store_refused_for_its_data_does_not_make_the_worker_unready() -> None:
    health = Health(stall_timeout=1e9, store_failure_timeout=300)
    health.assigned([0])
    health.store_failed("windows", "OperationalError: connection refused")
    health.store_failed("windows")  # the next attempt reached the database: a data error
    assert health.ready()[0]
    assert health.live()[1]["stores_failing"] == {"windows": 0.0}


def test_not_ready_while_the_broker_does_not_answer() -> None:
    clock = Clock()
    health = Health(stall_timeout=1e9, store_failure_timeout=300, clock=clock)
    health.assigned([0, 1])
    assert health.broker_ok() is None  # answered, and was up
    assert health.broker_failed("no answer within 3 s") is True
    clock.now += 5
    assert health.broker_failed("KafkaConnectionError: refused") is False  # still down
    ok, body = health.ready()
    assert (ok, body["problems"]) == (False, [
        "broker unreachable for 5 s: KafkaConnectionError: refused"])
    assert body["partitions"] == [0, 1]
    clock.now += 1
    assert health.broker_ok() == 6.0
    assert health.ready()[0]
