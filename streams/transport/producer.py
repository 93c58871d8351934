"""Batched producers of JSON events (and of raw bytes, for malformed-payload tests).

One aiokafka producer per call, ``linger_ms=10`` so that records bundle into
Kafka batches, and ``enable_idempotence=False`` because the embedded broker has
no idempotent producer (``acks="all"`` still waits for the in-sync replicas on
Apache Kafka). Sends are pipelined: ``send`` only enqueues, and the delivery
futures are gathered a chunk at a time, one chunk behind, so memory stays
bounded on endless inputs. Every ``send_*`` returns after the last record is
acknowledged; a delivery failure raises the producer's ``KafkaError``, unless
``send_routed`` is given a ``failures`` counter: then each record the broker did
not take is counted there by error name and the others are still sent (``driftline
replay`` reports them). ``headers`` go with every record (a backfill's mark).

``rate`` (events per second of wall clock) is a token bucket: a burst of at
most a tenth of a second's worth, then paced, sleeping only for the deficit.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import msgspec

Record = tuple[bytes | None, bytes]
Routed = tuple[str, bytes | None, bytes]  # (topic, key, value)
Progress = Callable[[int], None]

LINGER_MS = 10
MAX_BATCH_BYTES = 256 * 1024
CHUNK = 2_000


class TokenBucket:
    """``rate`` tokens a second, at most ``burst`` saved up; debt is paid back in time.

    >>> bucket = TokenBucket(10.0, burst=2, clock=lambda: 0.0)
    >>> [bucket.take() for _ in range(4)]
    [0.0, 0.0, 0.1, 0.2]
    """

    def __init__(self, rate: float, *, burst: float | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if not rate > 0:
            raise ValueError(f"rate must be > 0 events per second, got {rate!r}")
        self.rate = float(rate)
        self.capacity = float(burst) if burst is not None else max(1.0, rate / 10)
        self._clock = clock
        self._tokens = self.capacity
        self._stamp = clock()

    def take(self, n: int = 1) -> float:
        """Take ``n`` tokens; the seconds to wait before using them (0 when available)."""
        now = self._clock()
        self._tokens = min(self.capacity, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now
        self._tokens -= n
        return 0.0 if self._tokens >= 0 else round(-self._tokens / self.rate, 9)


def encode_event(event: Mapping[str, Any]) -> bytes:
    """Compact JSON; NaN and infinities become ``null`` (JSON has neither)."""
    return msgspec.json.encode(event)


async def send_events(bootstrap: str, topic: str, events: Iterable[Mapping[str, Any]], *,
                      key: Callable[[Mapping[str, Any]], bytes | None],
                      rate: float | None = None, on_progress: Progress | None = None) -> int:
    """Send ``events`` as JSON to ``topic``, keyed by ``key(event)``; the number sent.

    ``on_progress`` receives the running total of acknowledged events.
    """
    records = ((key(event), encode_event(event)) for event in events)
    return await send_records(bootstrap, topic, records, rate=rate, on_progress=on_progress)


async def send_raw(bootstrap: str, topic: str, values: Iterable[bytes],
                   keys: Iterable[bytes | None] | None = None, *, rate: float | None = None,
                   on_progress: Progress | None = None) -> int:
    """Send ``values`` byte for byte (``keys`` alongside, or no keys); the number sent."""
    records: Iterator[Record] = (
        zip(keys, values, strict=True) if keys is not None
        else ((None, value) for value in values))
    return await send_records(bootstrap, topic, records, rate=rate, on_progress=on_progress)


async def send_records(bootstrap: str, topic: str, records: Iterable[Record], *,
                       rate: float | None = None, on_progress: Progress | None = None) -> int:
    """Send ``(key, value)`` pairs; the number acknowledged after the final flush."""
    return await send_routed(bootstrap, ((topic, key, value) for key, value in records),
                             rate=rate, on_progress=on_progress)


async def send_routed(bootstrap: str, records: Iterable[Routed], *, rate: float | None = None,
                      on_progress: Progress | None = None,
                      headers: list[tuple[str, bytes]] | None = None,
                      failures: Counter[str] | None = None) -> int:
    """Send ``(topic, key, value)`` records in their order, one producer for all topics.

    The number acknowledged; with ``failures``, records not delivered are counted
    there (by error name) instead of raising.
    """
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", enable_idempotence=False,
        linger_ms=LINGER_MS, max_batch_size=MAX_BATCH_BYTES)
    await producer.start()
    try:
        sent = await _pipeline(producer, records, rate, on_progress, headers, failures)
        await producer.flush()
    finally:
        await producer.stop()
    return sent


async def _pipeline(producer: Any, records: Iterable[Routed], rate: float | None,
                    on_progress: Progress | None, headers: list[tuple[str, bytes]] | None,
                    failures: Counter[str] | None) -> int:
    from aiokafka.errors import KafkaError

    bucket = TokenBucket(rate) if rate is not None else None
    done = 0
    previous: list[Any] = []
    pending: list[Any] = []
    for topic, key, value in records:
        if bucket is not None and (delay := bucket.take()) > 0:
            await asyncio.sleep(delay)
        try:
            pending.append(await producer.send(topic, value, key=key, headers=headers))
        except KafkaError as error:  # refused before sending (a record too large, say)
            if failures is None:
                raise
            failures[type(error).__name__] += 1
        if len(pending) >= CHUNK:
            done = await _settle(previous, done, on_progress, failures)
            previous, pending = pending, []
    done = await _settle(previous, done, on_progress, failures)
    return await _settle(pending, done, on_progress, failures)


async def _settle(futures: list[Any], done: int, on_progress: Progress | None,
                  failures: Counter[str] | None) -> int:
    if not futures:
        return done
    if failures is None:
        await asyncio.gather(*futures)
        done += len(futures)
    else:
        for result in await asyncio.gather(*futures, return_exceptions=True):
            if isinstance(result, Exception):
                failures[type(result).__name__] += 1
            elif isinstance(result, BaseException):
                raise result
            else:
                done += 1
    if on_progress is not None:
        on_progress(done)
    return done
