"""Integration fixtures: one real embedded broker for the whole session.

Tests share the broker, so each one writes to topics of its own (``fresh_topic``).
Consumers in a group should use ``session_timeout_ms=6000`` and
``heartbeat_interval_ms=1000``: the embedded broker holds a join for about half
the session timeout.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import pytest

from streams.broker import EmbeddedBroker, free_port
from tests.conftest import schema_url


@pytest.fixture(scope="session")
def broker() -> Iterator[EmbeddedBroker]:
    """A started ``EmbeddedBroker`` on a free port; ``broker.bootstrap`` is ``host:port``."""
    with EmbeddedBroker(port=free_port()) as running:
        yield running


@pytest.fixture
def fresh_topic(request: pytest.FixtureRequest) -> str:
    """A topic name no other test uses (not created yet)."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", request.node.name)[:80]
    return f"test.{stem}.{uuid.uuid4().hex[:8]}"


@pytest.fixture
def database_url(postgres_url: str) -> Iterator[str]:
    """A PostgreSQL URL whose connections use a fresh schema, migrated to the head."""
    with schema_url(postgres_url, "worker", migrated=True) as url:
        yield url
