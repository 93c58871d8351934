"""What both producers share: their settings for Kafka and the delivery failures they keep.

Records go out in Kafka batches: the producer waits up to ``linger_ms`` (10 ms)
for more records to the same partition, up to ``batch_size`` bytes (256 KiB).
``acks="all"`` waits for the in-sync replicas; idempotence is off by default
because the embedded broker (``driftline broker``) has no idempotent producer
(pass ``enable_idempotence=True`` for Apache Kafka if you want it). A record
that cannot be delivered after the producer's retries is counted here and
raised by the next ``flush()`` or ``close()`` as ``DeliveryError``: nothing is
lost silently.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

LINGER_MS = 10
BATCH_BYTES = 256 * 1024
KEPT_ERRORS = 10


class DeliveryError(RuntimeError):
    """Records the broker did not acknowledge (``failed`` of them; ``errors``: the first)."""

    def __init__(self, failed: int, errors: list[tuple[str, BaseException]]) -> None:
        first = "; ".join(f"{topic}: {error!r}" for topic, error in errors[:3])
        super().__init__(f"{failed} event(s) were not delivered: {first}")
        self.failed = failed
        self.errors = errors


class Failures:
    """Delivery failures seen since the last check (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._count = 0
        self._errors: list[tuple[str, BaseException]] = []

    def add(self, topic: str, error: BaseException) -> None:
        with self._lock:
            self._count += 1
            if len(self._errors) < KEPT_ERRORS:
                self._errors.append((topic, error))

    def raise_any(self) -> None:
        """Raise ``DeliveryError`` for the failures since the last call, and forget them."""
        with self._lock:
            count, errors = self._count, self._errors
            self._count, self._errors = 0, []
        if count:
            raise DeliveryError(count, errors)


REQUEST_OVERHEAD = 64 * 1024  # room for the key and the record batch around a largest value


def kafka_options(bootstrap_servers: str | list[str], max_event_bytes: int,
                  batch_key: str, given: Mapping[str, Any]) -> dict[str, Any]:
    """The producer's keyword arguments, the caller's ``given`` on top of the clients'
    defaults: every replica acknowledges, no idempotence (not every broker has it),
    batches of ``BATCH_BYTES`` (kafka-python calls the size ``batch_size``, aiokafka
    ``max_batch_size``: ``batch_key``) and requests that fit a largest event."""
    return {"bootstrap_servers": bootstrap_servers, "acks": "all",
            "enable_idempotence": False, "linger_ms": LINGER_MS, batch_key: BATCH_BYTES,
            "max_request_size": max_event_bytes + REQUEST_OVERHEAD, **given}
