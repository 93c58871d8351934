"""Apache Kafka and PostgreSQL in containers, for the fixtures under ``DRIFTLINE_TEST_CONTAINERS``.

Imported only when the switch is on (``tests.containers`` says why and how).
``ApacheKafkaContainer`` is testcontainers' ``KafkaContainer`` with the Apache
image instead of Confluent's: the same start sequence (the container waits for a
start script, which is written once the published port is known, so the broker
can advertise it), Apache's settings (``tests.containers.kafka_environment``) and
Apache's start command.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

from testcontainers.community.kafka import KafkaContainer
from testcontainers.community.postgres import PostgresContainer

from tests.containers import (
    CLIENT_PORT,
    KAFKA_IMAGE,
    POSTGRES_IMAGE,
    START_TIMEOUT,
    bootstrap,
    client_host,
    database_url,
    kafka_environment,
    kafka_start_script,
)


class ApacheKafkaContainer(KafkaContainer):
    """Apache Kafka (``apache/kafka``) in KRaft mode, one node, topic auto-creation off."""

    def __init__(self, image: str = KAFKA_IMAGE) -> None:
        super().__init__(image, port=CLIENT_PORT)

    def configure(self) -> None:
        for key, value in kafka_environment().items():
            self.with_env(key, value)
        self.wait_for = re.compile(r"Kafka Server started")

    def tc_start(self) -> None:
        host = client_host(self.get_container_host_ip())
        port = self.get_exposed_port(CLIENT_PORT)
        self.create_file(kafka_start_script(host, port).encode(), self.TC_START_SCRIPT)


class ContainerBroker:
    """A started ``ApacheKafkaContainer`` with what the tests read of ``EmbeddedBroker``."""

    def __init__(self, container: ApacheKafkaContainer) -> None:
        self.container = container
        self.host = client_host(container.get_container_host_ip())
        self.port = container.get_exposed_port(CLIENT_PORT)

    @property
    def bootstrap(self) -> str:
        return bootstrap(self.host, self.port)

    @property
    def url(self) -> str:
        return f"kafka://{self.bootstrap}"

    @property
    def running(self) -> bool:
        self.container.reload()
        return self.container.status == "running"

    def __repr__(self) -> str:
        return f"ContainerBroker({self.bootstrap!r}, image={self.container.image!r})"


@contextmanager
def kafka() -> Iterator[ContainerBroker]:
    """Apache Kafka in a container, removed after the block."""
    container = ApacheKafkaContainer()
    try:
        container.start(timeout=START_TIMEOUT)
        yield ContainerBroker(container)
    finally:
        container.stop()


@contextmanager
def postgres() -> Iterator[str]:
    """PostgreSQL in a container, as a URL for driftline; removed after the block."""
    with PostgresContainer(POSTGRES_IMAGE, driver="psycopg") as container:
        yield database_url(client_host(container.get_container_host_ip()),
                           container.get_exposed_port(container.port), container.username,
                           container.password, container.dbname)
