"""A synchronous reader of a topic that joins no group: what ``driftline deadletter`` and the
range reference (``streams.transport.history``) share.

Decisions:

- kafka-python's ``KafkaConsumer`` with ``group_id=None`` and no auto-commit: it
  assigns itself partitions, so it never moves anyone's offsets.
- Before the client is made, one bootstrap address must accept a TCP connection
  within ``CONNECT_TIMEOUT`` (or the caller's timeout, if shorter): the client's
  own bootstrap would retry for the whole timeout before saying the broker is
  not there. ``ConnectionError`` names the addresses.
- A topic the broker does not know is a ``LookupError`` naming it.
- The embedded broker reports the base offset of a partition's last batch, plus
  one, as its end offset, so a reader takes the end offsets as a hint and reads on
  to the high watermark of its first fetch (``Stop``).
"""

from __future__ import annotations

import socket
from typing import Any

CONNECT_TIMEOUT = 5.0  # seconds for the first TCP connection to a bootstrap broker


def accepts(address: str, timeout: float) -> bool:
    """Whether ``host:port`` (``[v6]:port`` too) accepts a TCP connection within ``timeout``."""
    host, _, port = address.strip().rpartition(":")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout):
            return True
    except (OSError, ValueError):
        return False


def open_consumer(bootstrap: str, timeout: float, client_id: str) -> Any:
    """A ``KafkaConsumer`` in no group, committing nothing, with requests bounded by
    ``timeout`` seconds; ``ConnectionError`` when no bootstrap address answers."""
    from kafka import KafkaConsumer
    from kafka.errors import KafkaTimeoutError

    timeout_ms = max(1, int(timeout * 1000))
    if not any(accepts(address, min(timeout, CONNECT_TIMEOUT))
               for address in bootstrap.split(",")):
        raise ConnectionError(f"no broker accepts connections at {bootstrap}")
    try:
        return KafkaConsumer(bootstrap_servers=bootstrap, group_id=None,
                             enable_auto_commit=False, client_id=client_id,
                             request_timeout_ms=timeout_ms + 1000,
                             bootstrap_timeout_ms=timeout_ms)
    except KafkaTimeoutError as exc:  # raised when the bootstrap finds no broker
        raise ConnectionError(f"no broker answers at {bootstrap}: {exc}") from exc


def topic_partitions(consumer: Any, topic: str) -> list[Any]:
    """The ``TopicPartition`` of each partition of ``topic``, in order; ``LookupError``
    when the broker does not know the topic."""
    from kafka import TopicPartition

    numbers = consumer.partitions_for_topic(topic)
    if not numbers:
        raise LookupError(f"topic {topic} does not exist")
    return [TopicPartition(topic, n) for n in sorted(numbers)]


class Stop:
    """Where a partition's read ends: the end offset taken at the start, or the high
    watermark of the first fetch if that is larger (the module docstring's quirk); later
    writes are not waited for."""

    def __init__(self, end: int) -> None:
        self.end = end
        self.fixed = False

    def reached(self, consumer: Any, tp: Any) -> bool:
        """Whether the consumer's position in ``tp`` is at the end (None-safe before any
        fetch answered: then not yet, unless the end itself is reached and fixed)."""
        if not self.fixed:
            high = consumer.highwater(tp)
            if high is not None:
                self.end, self.fixed = max(self.end, int(high)), True
        return self.fixed and int(consumer.position(tp)) >= self.end
