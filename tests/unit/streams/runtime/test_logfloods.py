"""``streams.runtime.logfloods``: repeated framework lines thinned out, the first of each kind
kept."""

from __future__ import annotations

import io
import logging

from streams.runtime.logfloods import FloodFilter, kind_of
from streams.runtime.logs import JsonFormatter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def record(name: str, msg: str, *args: object, level: int = logging.ERROR) -> logging.LogRecord:
    return logging.LogRecord(name, level, __file__, 1, msg, args or None, None)


def test_the_first_of_each_kind_passes_then_one_per_interval_with_the_count() -> None:
    clock = Clock()
    floods = FloodFilter(interval=30, clock=clock)
    passed: list[str] = []
    for tick in range(600):  # a minute at 10 lines a second, two kinds
        clock.now = 1000.0 + tick / 10
        for line in (record("aiokafka.conn", "Unable connect to node with id %s: %s",
                            tick % 3, "refused"),
                     record("aiokafka.cluster", "Unable to update metadata from [1]")):
            if floods.filter(line):
                passed.append(line.getMessage())
    assert passed == [
        "Unable connect to node with id 0: refused",
        "Unable to update metadata from [1]",
        "Unable connect to node with id 0: refused "
        "[299 similar lines suppressed in the last 30 s]",
        "Unable to update metadata from [1] [299 similar lines suppressed in the last 30 s]",
    ]
    assert floods.take_suppressed() == 2 * 600 - 4
    assert floods.take_suppressed() == 0


def test_other_loggers_and_info_lines_are_untouched() -> None:
    floods = FloodFilter(interval=30, clock=Clock())
    for _ in range(5):
        assert floods.filter(record("streams.transport.consuming", "storing windows failed"))
        assert floods.filter(record("aiokafka", "started", level=logging.INFO))
        assert floods.filter(record("aiokafkaish", "not a framework logger"))
    assert floods.take_suppressed() == 0


def test_a_kind_quiet_for_an_interval_is_written_in_full_again() -> None:
    clock = Clock()
    floods = FloodFilter(interval=30, clock=clock)
    assert floods.filter(record("faust.x", "Heartbeat failed"))
    assert not floods.filter(record("faust.x", "Heartbeat failed"))
    clock.now += 45  # the outage ended, another one starts
    again = record("faust.x", "Heartbeat failed")
    assert floods.filter(again)
    assert again.getMessage() == "Heartbeat failed"  # forgotten: no stale count attached
    assert floods.take_suppressed() == 1


def test_digits_do_not_make_a_new_kind_and_the_count_is_a_json_field() -> None:
    clock = Clock()
    floods = FloodFilter(interval=10, clock=clock)
    assert kind_of(record("kafka", "port 9092 down")) == kind_of(record("kafka", "port 1 down"))
    assert kind_of(record("kafka", "a")) != kind_of(record("kafka", "a", level=logging.WARNING))
    assert floods.filter(record("kafka", "50% of port 9092 down"))
    clock.now += 5
    assert not floods.filter(record("kafka", "50% of port 9093 down"))
    clock.now += 5
    last = record("kafka", "50% of port 9094 down")
    assert floods.filter(last)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.emit(last)
    assert '"message": "50% of port 9094 down [1 similar lines suppressed in the last 10 s]"' \
        in stream.getvalue()
    assert '"suppressed": 1' in stream.getvalue()
