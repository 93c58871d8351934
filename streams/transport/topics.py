"""driftline's Kafka topics, and creating them when they are missing.

Neither the embedded broker nor a production cluster configured without
auto-creation makes topics on first use, so every producer calls
``ensure_topics`` first. It speaks only the Kafka admin protocol (through
aiokafka), so it works the same against Tansu and Apache Kafka: topics that
exist are left alone (their partition count is not changed) and a concurrent
creator's ``TOPIC_ALREADY_EXISTS`` is not an error.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterable, Mapping
from typing import Any

from streams.config.settings import TopicSettings

_LEGAL_NAME = re.compile(r"[A-Za-z0-9._-]{1,249}")
_NO_ERROR, _TOPIC_ALREADY_EXISTS = 0, 36
_RETRY_BACKOFF = 0.1


class TopicError(RuntimeError):
    """Topics could not be created, or did not appear, in time."""


def driftline_topics(settings: TopicSettings | None = None, **renamed: str) -> dict[str, int]:
    """driftline's four topics -> partitions, from ``settings`` with some names replaced.

    >>> driftline_topics(predictions="demo.predictions")["demo.predictions"]
    4
    """
    settings = settings or TopicSettings()
    names = {key: renamed.get(key, getattr(settings, key))
             for key in ("predictions", "labels", "deadletter", "retrain")}
    return dict.fromkeys(names.values(), settings.partitions)


def check_topics(topics: Mapping[str, int], replication_factor: int) -> None:
    """Validate names and counts before any network call; ValueError names the culprit."""
    if not topics:
        raise ValueError("topics must name at least one topic, got an empty mapping")
    for name, partitions in topics.items():
        if not _LEGAL_NAME.fullmatch(name) or name in {".", ".."}:
            raise ValueError(f"topic name must be 1-249 characters of [A-Za-z0-9._-], "
                             f"got {name!r}")
        if isinstance(partitions, bool) or not isinstance(partitions, int) or partitions < 1:
            raise ValueError(f"partitions of topic {name!r} must be an integer >= 1, "
                             f"got {partitions!r}")
    if isinstance(replication_factor, bool) or replication_factor < 1:
        raise ValueError(f"replication_factor must be an integer >= 1, "
                         f"got {replication_factor!r}")


async def ensure_topics_async(bootstrap: str, topics: Mapping[str, int],
                              replication_factor: int = 1, timeout: float = 30) -> list[str]:
    """Create the topics of ``topics`` (name -> partitions) that do not exist yet.

    Returns the names this call created, in the mapping's order. Raises
    ``TopicError`` for a broker-side refusal and ``TimeoutError`` when the broker
    cannot be reached or the topics do not show in its metadata within ``timeout``.
    """
    from aiokafka.admin import AIOKafkaAdminClient

    check_topics(topics, replication_factor)
    deadline = time.monotonic() + timeout
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap,
                                request_timeout_ms=max(1, int(timeout * 1000)))
    try:
        async with asyncio.timeout(timeout):
            await admin.start()
            created = await _create_missing(admin, topics, replication_factor, deadline)
            await _wait_visible(admin, topics, deadline)
            return created
    except TimeoutError as exc:
        raise TimeoutError(f"topics {', '.join(topics)} not ready on {bootstrap} "
                           f"within {timeout:g} s") from exc
    finally:
        await admin.close()


def ensure_topics(bootstrap: str, topics: Mapping[str, int], replication_factor: int = 1,
                  timeout: float = 30) -> list[str]:
    """``ensure_topics_async`` for synchronous callers (not from inside an event loop)."""
    return asyncio.run(ensure_topics_async(bootstrap, topics, replication_factor, timeout))


async def _create_missing(admin: Any, topics: Mapping[str, int], replication_factor: int,
                          deadline: float) -> list[str]:
    from aiokafka.admin import NewTopic

    existing = set(await admin.list_topics())
    missing = [name for name in topics if name not in existing]
    if not missing:
        return []
    timeout_ms = max(1, int((deadline - time.monotonic()) * 1000))
    response = await admin.create_topics(
        [NewTopic(name, topics[name], replication_factor) for name in missing],
        timeout_ms=timeout_ms)
    outcome = {str(item[0]): int(item[1]) for item in response.topic_errors}
    return _created(missing, outcome, _messages(response.topic_errors))


def _messages(topic_errors: Iterable[Any]) -> dict[str, str]:
    return {str(item[0]): str(item[2]) for item in topic_errors if len(item) > 2 and item[2]}


def _created(requested: list[str], outcome: Mapping[str, int],
             messages: Mapping[str, str]) -> list[str]:
    from aiokafka.errors import for_code

    created: list[str] = []
    for name in requested:
        code = outcome.get(name, _NO_ERROR)
        if code == _NO_ERROR:
            created.append(name)
        elif code != _TOPIC_ALREADY_EXISTS:
            detail = messages.get(name) or for_code(code).__name__
            raise TopicError(f"cannot create topic {name!r}: {detail} (Kafka error {code})")
    return created


async def _wait_visible(admin: Any, topics: Mapping[str, int], deadline: float) -> None:
    """Wait until the broker's metadata lists every topic (Kafka propagates it lazily)."""
    while True:
        if set(topics) <= set(await admin.list_topics()):
            return
        if time.monotonic() >= deadline:
            raise TimeoutError
        await asyncio.sleep(_RETRY_BACKOFF)
