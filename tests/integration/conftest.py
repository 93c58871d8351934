"""Integration fixtures: one real broker for the whole session.

By default the broker is the embedded one (Tansu, ``streams.devtools.broker``) and the
database the PostgreSQL server named by ``DRIFTLINE_TEST_DATABASE_URL``. The
embedded broker speaks the Kafka protocol but is not Apache Kafka, so
``make test-containers`` (``DRIFTLINE_TEST_CONTAINERS=1``) runs the same tests on
Apache Kafka 3.9 (KRaft, topic auto-creation off) and PostgreSQL 16 in
containers, the images of ``docker-compose.yml``, where a Docker engine runs:
that is how to check driftline against the broker run in production. The
fixtures below (and ``postgres_url`` in ``tests/conftest.py``) choose the
backend; the tests do not know which (``tests/containers.py``).

Tests share the broker, so each one writes to topics of its own (``fresh_topic``).
Consumers in a group should use ``session_timeout_ms=6000`` and
``heartbeat_interval_ms=1000``: the embedded broker holds a join for about half
the session timeout, and 6 s is the smallest session timeout Apache Kafka
accepts by default (``group.min.session.timeout.ms``).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from streams.devtools.broker import EmbeddedBroker, free_port
from tests import containers
from tests.conftest import schema_url

if TYPE_CHECKING:
    from tests.container_services import ContainerBroker


@pytest.fixture(scope="session")
def broker() -> Iterator[EmbeddedBroker | ContainerBroker]:
    """A started broker; ``broker.bootstrap`` is ``host:port``, ``broker.url`` ``kafka://...``.

    An ``EmbeddedBroker`` on a free port, or under the containers switch a
    ``ContainerBroker`` (Apache Kafka) with the same ``bootstrap``, ``url``,
    ``host``, ``port`` and ``running``.
    """
    if containers.enabled():
        from tests.container_services import kafka

        with kafka() as in_container:
            yield in_container
        return
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
