"""The soak test's producer: a steady, paced mix of valid and invalid prediction events.

Valid events come from one ``Simulator`` per model (``records``: its predictions,
keyed by model id so that a model's events stay on one partition, in order, and the
label of each, keyed by prediction id, ``LABEL_DELAY_S`` later on average), each
running at a share of the rate such that event time keeps pace with the wall clock.
Between them, a seeded share of invalid prediction messages, one kind after another
from ``INVALID_KINDS``, each with the dead-letter reason the worker must give it
(made from events of a simulator of their own, so no label lacks its prediction).

Everything sent is tallied only once the broker has acknowledged it: valid events
per (model, window start), labels per (model, window start of their prediction),
invalid messages by their (partition, offset) with the expected reason, so the
checks compare the store and the dead-letter topic with what the broker really holds.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import random
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

import msgspec

from streams.devtools.simulator import Simulator
from streams.transport.producer import TokenBucket

MODELS = ("fraud", "churn", "ltv")
LABEL_DELAY_S = 10.0  # mean (exponential), in event time: well inside the soak's 5 min TTL
SETTLE_EVERY = 500  # acknowledgements gathered this many sends at a time
OVERSIZE_BYTES = 80_000  # above the soak's ingest.max_event_bytes (64 KiB)
DEEP = 200  # nesting depth of the deep payloads (the decoder refuses more than 32)

T = TypeVar("T")
Payload = Callable[[dict[str, Any], int], bytes]


def _json(event: dict[str, Any]) -> bytes:
    return msgspec.json.encode(event)


def _deep_list(event: dict[str, Any], serial: int) -> bytes:
    value: Any = float(serial)
    for _ in range(DEEP):
        value = [value]
    return _json({**event, "features": {**event["features"], "amount": value}})


def _deep_object(event: dict[str, Any], serial: int) -> bytes:
    return b'{"a":' * DEEP + str(serial).encode() + b"}" * DEEP


def _feature(event: dict[str, Any], name: str) -> bytes:
    return _json({**event, "features": {**event["features"], name: 1.0}})


# name: (how the payload is made from a valid event and a serial number, the reason)
INVALID_KINDS: dict[str, tuple[Payload, str]] = {
    "truncated_json": (lambda e, s: _json(e)[: 30 + s % 40], "bad_json"),
    "not_json": (lambda e, s: b"\xff\xfe soak " + str(s).encode(), "bad_json"),
    "wrong_type_score": (lambda e, s: _json({**e, "score": "high"}), "wrong_type"),
    "wrong_type_features": (lambda e, s: _json({**e, "features": [1.0, 2.0]}), "wrong_type"),
    "missing_event_time": (lambda e, s: _json({k: v for k, v in e.items()
                                               if k != "event_time"}), "missing_field"),
    "deep_list": (_deep_list, "bad_value"),
    "deep_object": (_deep_object, "bad_value"),
    "nul_in_feature_name": (lambda e, s: _feature(e, "amo\x00unt"), "bad_value"),
    "nul_in_model_id": (lambda e, s: _json({**e, "model_id": "fr\x00aud"}), "bad_value"),
    "oversized_feature_name": (lambda e, s: _feature(e, "x" * 200), "bad_value"),
    "oversized_model_id": (lambda e, s: _json({**e, "model_id": "m" * 300}), "bad_value"),
    "unknown_model": (lambda e, s: _json({**e, "model_id": "unlisted"}), "unknown_model"),
    "empty_value": (lambda e, s: b"", "empty_payload"),
    "future_event_time": (lambda e, s: _json({**e, "event_time": "2099-01-01T00:00:00Z"}),
                          "future_timestamp"),
    "oversize": (lambda e, s: _json({**e, "features": {"pad": "x" * OVERSIZE_BYTES}}),
                 "oversize"),
}


@dataclass
class Sent:
    """What the broker acknowledged so far (read after the producer has stopped)."""

    valid: Counter[tuple[str, float]] = field(default_factory=Counter)  # (model, start)
    labels: Counter[tuple[str, float]] = field(default_factory=Counter)  # of the prediction
    invalid: dict[tuple[int, int], tuple[str, str]] = field(default_factory=dict)
    invalid_kinds: Counter[str] = field(default_factory=Counter)
    error: BaseException | None = None

    @property
    def n_valid(self) -> int:
        return sum(self.valid.values())

    @property
    def n_labels(self) -> int:
        return sum(self.labels.values())

    @property
    def n_invalid(self) -> int:
        return len(self.invalid)


def window_start(event_time: str, size: float) -> float:
    """The start (epoch seconds) of the tumbling window of ``size`` holding ``event_time``."""
    moment = datetime.fromisoformat(event_time.replace("Z", "+00:00"))
    return math.floor(moment.timestamp() / size) * size


class Traffic:
    """Sends predictions to ``topic`` and labels to ``labels_topic``, ``rate`` messages a
    second in all, until ``stop()``, in a thread."""

    def __init__(self, bootstrap: str, topic: str, labels_topic: str, *, rate: float,
                 invalid_share: float, window: float, seed: int, start: datetime) -> None:
        self.bootstrap, self.topic, self.labels_topic = bootstrap, topic, labels_topic
        self.rate = rate
        self.invalid_share, self.window = invalid_share, window
        self.seed, self.start = seed, start
        self.sent = Sent()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="soak-producer", daemon=True)

    def begin(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 120.0) -> Sent:
        """Stop sending, wait for the last acknowledgements; what was sent."""
        self._stop.set()
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise RuntimeError(f"the producer did not stop within {timeout:.0f} s")
        return self.sent

    def _records(self) -> Iterator[tuple[str, bytes, bytes, tuple[str, Any]]]:
        """(topic, key, value, what it is): predictions, labels and invalid payloads."""
        per_model = self.rate * (1 - self.invalid_share) / len(MODELS) / 2  # + its labels
        simulators = [Simulator(seed=self.seed, model_id=model, events_per_second=per_model,
                                shift_at=None, start=self.start, label_delay=LABEL_DELAY_S)
                      for model in MODELS]
        bases = Simulator(seed=self.seed + 1, model_id=MODELS[0], events_per_second=per_model,
                          shift_at=None, start=self.start).events(None)
        draw = random.Random(self.seed)
        kinds = itertools.cycle(sorted(INVALID_KINDS))
        window_of: dict[str, tuple[str, float]] = {}  # prediction id -> (model, start)
        serial = 0
        for kind, key, value in _round_robin([sim.records(None) for sim in simulators]):
            if draw.random() < self.invalid_share:
                name = next(kinds)
                make, reason = INVALID_KINDS[name]
                serial += 1
                yield (self.topic, f"bad-{serial % 8}".encode(), make(next(bases), serial),
                       ("invalid", (name, reason)))
            event = msgspec.json.decode(value)
            if kind == "label":
                where = window_of.pop(str(event["prediction_id"]))
                yield self.labels_topic, key, value, ("label", where)
                continue
            where = (str(event["model_id"]), window_start(str(event["event_time"]),
                                                          self.window))
            window_of[str(event["prediction_id"])] = where
            yield self.topic, key, value, ("valid", where)

    def _run(self) -> None:
        try:
            asyncio.run(self._send())
        except BaseException as error:  # reported by the checks
            self.sent.error = error

    async def _send(self) -> None:
        from aiokafka import AIOKafkaProducer

        producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, acks="all",
                                    enable_idempotence=False, linger_ms=10,
                                    max_request_size=4 * 1024 * 1024)
        await producer.start()
        try:
            bucket = TokenBucket(self.rate)
            pending: list[tuple[asyncio.Future[Any], tuple[str, Any]]] = []
            for topic, key, value, what in self._records():
                if self._stop.is_set():
                    break
                if (delay := bucket.take()) > 0:
                    await asyncio.sleep(delay)
                pending.append((await producer.send(topic, value, key=key), what))
                if len(pending) >= SETTLE_EVERY:
                    await self._settle(pending)
                    pending = []
            await producer.flush()
            await self._settle(pending)
        finally:
            await producer.stop()

    async def _settle(self, pending: list[tuple[asyncio.Future[Any], tuple[str, Any]]]
                      ) -> None:
        results = await asyncio.gather(*(future for future, _ in pending))
        for meta, (_, (kind, detail)) in zip(results, pending, strict=True):
            if kind == "valid":
                self.sent.valid[detail] += 1
            elif kind == "label":
                self.sent.labels[detail] += 1
            else:
                self.sent.invalid[(meta.partition, meta.offset)] = detail
                self.sent.invalid_kinds[detail[0]] += 1


def _round_robin(streams: list[Iterator[T]]) -> Iterator[T]:
    while True:
        for stream in streams:
            yield next(stream)


def first_start(now: datetime | None = None) -> datetime:
    """Event time of the first events: now, on a whole second (UTC)."""
    return (now or datetime.now(UTC)).replace(microsecond=0)
