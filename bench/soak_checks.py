"""The soak test's checks: exact counts in the store and the dead-letter topic, flat memory.

* Windows: every (model, window start) the producer sent valid events to is stored
  once with exactly that many events (``n_events``), none late, none other; no
  (model, version, start) twice.
* Labels: the labels joined to each window's predictions (``performance.n_labels``)
  are exactly the labels sent for the predictions of that window.
* Dead letters: every invalid message the broker acknowledged has a dead letter
  naming it (topic, partition, offset) with the expected reason and an error text;
  no dead letter names anything else. Dead letters are sent at least once: a worker
  killed after sending some but before its checkpoint sends them again on replay,
  so repeats of the same source offset are counted and shown, not failed.
* Memory: per worker lifetime long enough to judge (warm-up plus a few samples), the
  RSS at its end is at most ``growth_bound`` above its RSS right after the warm-up.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from soak_traffic import Sent
from soak_workers import Lifetime
from sqlalchemy import text

from store.engine import make_engine

MIB = 1024 * 1024


@dataclass
class Check:
    name: str
    ok: bool
    detail: str


@dataclass
class Letters:
    """The dead-letter topic, read to its end."""

    records: int = 0
    by_source: dict[tuple[int, int], list[str]] = field(default_factory=dict)
    without_reason: int = 0
    other_topic: int = 0


def stored_windows(database_url: str) -> list[dict[str, Any]]:
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text(
                "SELECT model_id, model_version, window_start, n_events, n_late FROM windows"))
            return [dict(row._mapping) for row in rows]
    finally:
        engine.dispose()


def stored_labels(database_url: str) -> Counter[tuple[str, float]]:
    """``n_labels`` of the performance rows by (model, window start)."""
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text(
                "SELECT model_id, window_start, n_labels FROM performance"))
            labels: Counter[tuple[str, float]] = Counter()
            for row in rows:
                labels[(str(row.model_id), _epoch(row.window_start))] += int(row.n_labels)
            return labels
    finally:
        engine.dispose()


def label_checks(sent: Sent, stored: Counter[tuple[str, float]]) -> list[Check]:
    wrong = sorted(k for k in set(stored) | set(sent.labels) if stored[k] != sent.labels[k])
    return [Check("labels joined per window = labels sent for its predictions", not wrong,
                  f"{sum(stored.values()):,} joined / {sent.n_labels:,} sent, "
                  f"{len(wrong)} windows differ"
                  + "".join(f"; {m}@{datetime.fromtimestamp(s).isoformat()} joined "
                            f"{stored[(m, s)]} sent {sent.labels[(m, s)]}"
                            for m, s in wrong[:5]))]


def _epoch(value: object) -> float:
    assert isinstance(value, datetime)
    return value.timestamp()


def window_checks(sent: Sent, rows: list[dict[str, Any]]) -> list[Check]:
    stored = Counter({(str(r["model_id"]), _epoch(r["window_start"])): int(r["n_events"])
                      for r in rows})
    keys = Counter((str(r["model_id"]), str(r["model_version"]), _epoch(r["window_start"]))
                   for r in rows)
    twice = [key for key, n in keys.items() if n > 1]
    per_model_sent: Counter[str] = Counter()
    per_model_stored: Counter[str] = Counter()
    for (model, _), n in sent.valid.items():
        per_model_sent[model] += n
    for (model, _), n in stored.items():
        per_model_stored[model] += n
    wrong = sorted(k for k in set(stored) | set(sent.valid) if stored[k] != sent.valid[k])
    late = sum(int(r["n_late"]) for r in rows)
    models = ", ".join(f"{m} {per_model_stored[m]:,}/{per_model_sent[m]:,}"
                       for m in sorted(per_model_sent))
    return [
        Check("stored n_events per model = valid sent", per_model_stored == per_model_sent,
              models),
        Check("every window's n_events = valid sent to it", not wrong,
              f"{len(stored)} windows stored, {len(sent.valid)} sent to"
              + (f"; differ: {_windows_text(wrong[:5], stored, sent)}" if wrong else "")),
        Check("no late events", late == 0, f"n_late total {late}"),
        Check("no window stored twice", not twice, f"{len(twice)} stored more than once"),
    ]


def _windows_text(keys: list[tuple[str, float]], stored: Counter[tuple[str, float]],
                  sent: Sent) -> str:
    return "; ".join(f"{m}@{datetime.fromtimestamp(s).isoformat()} stored {stored[(m, s)]}"
                     f" sent {sent.valid[(m, s)]}" for m, s in keys)


async def read_letters(bootstrap: str, topic: str, source_topic: str,
                       timeout: float = 120) -> Letters:
    """Every record of the dead-letter ``topic`` up to its end now, by source offset."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                                auto_offset_reset="earliest")
    await consumer.start()
    letters = Letters()
    try:
        async with asyncio.timeout(timeout):
            await consumer.topics()
            assigned = [TopicPartition(topic, p)
                        for p in sorted(consumer.partitions_for_topic(topic) or ())]
            consumer.assign(assigned)
            await consumer.seek_to_beginning(*assigned)
            ends = await consumer.end_offsets(assigned)
            while [tp for tp in assigned if await consumer.position(tp) < ends[tp]]:
                batch = await consumer.getmany(timeout_ms=500, max_records=10_000)
                for records in batch.values():
                    for record in records:
                        _add(letters, record.value, source_topic)
    finally:
        await consumer.stop()
    return letters


def _add(letters: Letters, value: bytes | None, source_topic: str) -> None:
    letters.records += 1
    letter = json.loads(value or b"{}")
    if letter.get("topic") != source_topic:
        letters.other_topic += 1
        return
    reason = letter.get("reason")
    if not reason or not letter.get("error"):
        letters.without_reason += 1
    source = (int(letter["partition"]), int(letter["offset"]))
    letters.by_source.setdefault(source, []).append(str(reason))


def letter_checks(sent: Sent, letters: Letters) -> list[Check]:
    missing = [s for s in sent.invalid if s not in letters.by_source]
    extra = [s for s in letters.by_source if s not in sent.invalid]
    wrong = [s for s, reasons in letters.by_source.items()
             if s in sent.invalid and set(reasons) != {sent.invalid[s][1]}]
    repeats = letters.records - len(letters.by_source)
    return [
        Check("a dead letter for each invalid event sent",
              not missing and len(letters.by_source) == sent.n_invalid,
              f"{len(letters.by_source):,} distinct sources / {sent.n_invalid:,} invalid sent; "
              f"{letters.records:,} records ({repeats:,} repeats of a source after a kill)"),
        Check("no dead letter for anything else", not extra and letters.other_topic == 0,
              f"{len(extra)} name offsets not sent invalid, {letters.other_topic} other topics"),
        Check("each with the expected reason and an error", not wrong
              and letters.without_reason == 0,
              f"{len(wrong)} with another reason, {letters.without_reason} without one"),
    ]


@dataclass
class Memory:
    """A lifetime's RSS after the warm-up and at its end, and the slope between."""

    worker: str
    number: int
    minutes: float
    how: str
    start_mib: float | None
    end_mib: float | None
    slope_mib_h: float | None

    @property
    def judged(self) -> bool:
        return self.start_mib is not None

    @property
    def growth_mib(self) -> float:
        """RSS at the end minus RSS after the warm-up (0 when not judged)."""
        return (self.end_mib or 0.0) - (self.start_mib or 0.0)


def memory_of(worker: str, number: int, life: Lifetime, warmup: float,
              min_after: float) -> Memory:
    """RSS figures of ``life``; judged only with ``min_after`` s of samples past ``warmup``."""
    end = life.ended if life.ended is not None else (life.samples[-1][0] if life.samples
                                                      else life.started)
    minutes = (end - life.started) / 60
    after = [(t, rss) for t, rss in life.samples if t - life.started >= warmup]
    if len(after) < 3 or after[-1][0] - after[0][0] < min_after:
        return Memory(worker, number, minutes, life.how, None, None, None)
    return Memory(worker, number, minutes, life.how, after[0][1] / MIB, after[-1][1] / MIB,
                  slope(after) / MIB * 3600)


def slope(samples: list[tuple[float, int]]) -> float:
    """Least-squares slope of ``(seconds, bytes)`` samples, bytes per second."""
    n = len(samples)
    mean_t = sum(t for t, _ in samples) / n
    mean_y = sum(y for _, y in samples) / n
    var = sum((t - mean_t) ** 2 for t, _ in samples)
    return sum((t - mean_t) * (y - mean_y) for t, y in samples) / var if var else 0.0


def memory_checks(memories: list[Memory], bound_mib: float, need_judged: bool) -> list[Check]:
    judged = [m for m in memories if m.judged]
    grown = [m for m in judged if m.growth_mib > bound_mib]
    checks = [Check(f"RSS flat: end <= start + {bound_mib:.0f} MiB per lifetime", not grown,
                    f"{len(judged)} lifetimes judged, {len(grown)} grew more"
                    + "".join(f"; {m.worker}#{m.number} +{m.growth_mib:.1f}" for m in grown))]
    if need_judged:
        checks.append(Check("at least one lifetime long enough to judge", bool(judged),
                            f"{len(judged)} of {len(memories)}"))
    return checks
