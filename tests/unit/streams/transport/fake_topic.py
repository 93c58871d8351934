"""A fake kafka-python ``KafkaConsumer`` over records held in memory, for the range reader.

It answers what ``streams.transport.history.read_range`` asks: the partitions of a
topic, end offsets (``reported_end`` lower than the records held mimics the embedded
broker's quirk), ``offsets_for_times``, and ``poll`` after ``assign``/``seek``, which
sets the high watermark as a fetch response does (``fetch_records`` a poll at most).
``stalled`` makes ``poll`` answer nothing, ever (a broker that stopped answering fetches).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from kafka import TopicPartition
from kafka.structs import OffsetAndTimestamp


@dataclass(frozen=True)
class Record:
    topic: str
    partition: int
    offset: int
    timestamp: int
    value: bytes | None
    key: bytes | None = None
    headers: list[tuple[str, bytes]] = field(default_factory=list)


def event(model_id: str, at: datetime, index: int, *, version: str = "1",
          **features: Any) -> bytes:
    """A prediction event's JSON, with the feature ``i`` = ``index`` besides ``features``."""
    return json.dumps({"event_id": f"e{index}", "model_id": model_id, "model_version": version,
                       "event_time": at.isoformat(), "features": {"i": index, **features},
                       "prediction": index % 2, "score": (index % 10) / 10}).encode()


class FakeTopic:
    """Partitions of records; ``append`` gives each the next offset of its partition."""

    def __init__(self, name: str, partitions: int) -> None:
        self.name = name
        self.records: dict[int, list[Record]] = {p: [] for p in range(partitions)}
        self.reported_end: dict[int, int] = {}
        self.stalled = False
        self.fetch_records = 500  # records a poll answers, at most
        self.opened = 0

    def append(self, partition: int, written_ms: int, value: bytes | None,
               headers: list[tuple[str, bytes]] | None = None) -> Record:
        held = self.records[partition]
        record = Record(self.name, partition, len(held), written_ms, value,
                        headers=headers or [])
        held.append(record)
        return record

    def consumer(self, bootstrap: str, timeout: float) -> FakeConsumer:
        self.opened += 1
        return FakeConsumer(self)


class FakeConsumer:
    def __init__(self, topic: FakeTopic) -> None:
        self.topic = topic
        self.assigned: list[TopicPartition] = []
        self.positions: dict[TopicPartition, int] = {}
        self.high: dict[TopicPartition, int] = {}
        self.closed = False

    def partitions_for_topic(self, name: str) -> set[int] | None:
        return set(self.topic.records) if name == self.topic.name else None

    def end_offsets(self, partitions: list[TopicPartition], timeout_ms: int
                    ) -> dict[TopicPartition, int]:
        return {tp: self.topic.reported_end.get(tp.partition,
                                                len(self.topic.records[tp.partition]))
                for tp in partitions}

    def offsets_for_times(self, times: dict[TopicPartition, int], timeout_ms: int
                          ) -> dict[TopicPartition, OffsetAndTimestamp | None]:
        found: dict[TopicPartition, OffsetAndTimestamp | None] = {}
        for tp, ms in times.items():
            first = next((r for r in self.topic.records[tp.partition] if r.timestamp >= ms),
                         None)
            found[tp] = None if first is None else OffsetAndTimestamp(
                first.offset, first.timestamp, -1)
        return found

    def assign(self, partitions: list[TopicPartition]) -> None:
        self.assigned = list(partitions)

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.positions[tp] = offset

    def position(self, tp: TopicPartition) -> int:
        return self.positions[tp]

    def highwater(self, tp: TopicPartition) -> int | None:
        return self.high.get(tp)

    def poll(self, timeout_ms: int, max_records: int) -> dict[TopicPartition, list[Record]]:
        if self.topic.stalled:
            return {}
        answer: dict[TopicPartition, list[Record]] = {}
        for tp in self.assigned:
            held = self.topic.records[tp.partition]
            at = self.positions[tp]
            self.high[tp] = len(held)
            if at < len(held):
                answer[tp] = held[at:at + min(max_records, self.topic.fetch_records)]
                self.positions[tp] = at + len(answer[tp])
        return answer

    def close(self, autocommit: bool = True) -> None:
        self.closed = True
