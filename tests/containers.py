"""The switch that runs the integration tests on Apache Kafka and PostgreSQL in containers.

The embedded broker (Tansu) speaks the Kafka protocol but is not Apache Kafka:
group coordination, admin answers and error codes differ in places (it reports,
for one, the base offset of a partition's last record batch, plus one, as the
partition's end offset). With
``DRIFTLINE_TEST_CONTAINERS=1`` (what ``make test-containers`` sets) the
``broker`` and ``postgres_url`` fixtures start Apache Kafka 3.9 in KRaft mode and
PostgreSQL 16 in containers instead (``tests.container_services``, through
``testcontainers``), the same images as ``docker-compose.yml``; the tests do not
change. Without the switch nothing here touches Docker.

``python -m tests.containers`` is the switch's first step: it exits 0 when a
Docker engine answers (after pulling the images it lacks, so that a pull does
not count against a test's timeout), and otherwise prints one line saying so and
exits 1.

Besides that check and the pulls, this module holds only what needs no Docker
engine (the images, the Kafka settings, addresses and URLs), so the unit tests
check it everywhere.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

from sqlalchemy.engine import URL

SWITCH = "DRIFTLINE_TEST_CONTAINERS"
KAFKA_IMAGE = "apache/kafka:3.9.1"  # as docker-compose.yml
POSTGRES_IMAGE = "postgres:16"  # as docker-compose.yml
START_TIMEOUT = 180  # seconds for Kafka to start (the images are pulled before the tests)

# Listeners inside the Kafka container: clients (published on a host port), the broker's
# own listener, and the KRaft controller (a single node is broker and controller).
CLIENT_PORT = 9093
BROKER_PORT = 9092
CONTROLLER_PORT = 9094
CLUSTER_ID = "ZHJpZnRsaW5lLXRlc3RzLQ"  # any 22-character base64 UUID
# What the image runs when no command is given; the container waits for the start script
# that sets the advertised listener once the published port is known.
KAFKA_RUN = "/etc/kafka/docker/run"


def enabled(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether the switch asks for containers (``1``, ``true`` or ``yes``)."""
    return environ.get(SWITCH, "").strip().lower() in {"1", "true", "yes"}


def kafka_environment() -> dict[str, str]:
    """Apache Kafka's settings, as in ``docker-compose.yml``: one KRaft node, no auto-creation.

    Topics are created by the worker and the tests through the admin API, as in
    production. A group's session timeout may not be below 6 s
    (``group.min.session.timeout.ms``, left at its default): the worker's default and the
    tests' consumers use exactly 6 s.
    """
    return {
        "CLUSTER_ID": CLUSTER_ID,
        "KAFKA_NODE_ID": "1",
        "KAFKA_BROKER_ID": "1",
        "KAFKA_PROCESS_ROLES": "broker,controller",
        "KAFKA_CONTROLLER_QUORUM_VOTERS": f"1@localhost:{CONTROLLER_PORT}",
        "KAFKA_CONTROLLER_LISTENER_NAMES": "CONTROLLER",
        "KAFKA_LISTENERS": (f"PLAINTEXT://0.0.0.0:{CLIENT_PORT},BROKER://0.0.0.0:{BROKER_PORT},"
                            f"CONTROLLER://0.0.0.0:{CONTROLLER_PORT}"),
        "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP":
            "PLAINTEXT:PLAINTEXT,BROKER:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "KAFKA_INTER_BROKER_LISTENER_NAME": "BROKER",
        "KAFKA_AUTO_CREATE_TOPICS_ENABLE": "false",
        "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR": "1",
        "KAFKA_OFFSETS_TOPIC_NUM_PARTITIONS": "1",
        "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR": "1",
        "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR": "1",
        "KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS": "0",
    }


def client_host(docker_host: str) -> str:
    """The address clients use for the Docker host (``localhost`` as ``127.0.0.1``).

    Ports are published on IPv4; naming the IPv4 loopback keeps clients from trying
    ``::1`` first, and gives the same form of address as the embedded broker.
    """
    return "127.0.0.1" if docker_host == "localhost" else docker_host


def bootstrap(host: str, port: int) -> str:
    """``host:port`` as Kafka clients take it (an IPv6 address in brackets).

    >>> bootstrap("127.0.0.1", 32768)
    '127.0.0.1:32768'
    """
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def advertised_listeners(host: str, port: int) -> str:
    """What the broker tells clients: the published port for them, its own for itself."""
    return f"PLAINTEXT://{bootstrap(host, port)},BROKER://localhost:{BROKER_PORT}"


def kafka_start_script(host: str, port: int) -> str:
    """The container's start: advertise the published ``host:port``, then run the image."""
    return (f"#!/bin/sh\nexport KAFKA_ADVERTISED_LISTENERS='{advertised_listeners(host, port)}'\n"
            f"exec {KAFKA_RUN}\n")


def database_url(host: str, port: int, user: str, password: str, database: str) -> str:
    """A psycopg (version 3) SQLAlchemy URL, as driftline takes ``DRIFTLINE_DATABASE_URL``.

    >>> database_url("127.0.0.1", 32769, "test", "p@ss", "test")
    'postgresql+psycopg://test:p%40ss@127.0.0.1:32769/test'
    """
    return URL.create("postgresql+psycopg", username=user, password=password, host=host,
                      port=port, database=database).render_as_string(hide_password=False)


DEFAULT_ENGINE = "unix:///var/run/docker.sock"


def engine_address() -> str:
    """Where testcontainers looks for the Docker engine (its settings, ``DOCKER_HOST``, ...)."""
    from testcontainers.core.docker_client import get_docker_host

    return get_docker_host() or DEFAULT_ENGINE


def engine_problem() -> str | None:
    """Why the Docker engine cannot be used, or None when it answers a ping."""
    from testcontainers.core.docker_client import DockerClient

    try:
        DockerClient().client.ping()
    # Whatever the client raises (no socket, refused, bad DOCKER_HOST, an answer that is
    # not Docker's), there is no engine to run the containers on.
    except Exception as exc:
        return " ".join(f"{type(exc).__name__}: {exc}".split())
    return None


def no_engine_line(address: str, problem: str) -> str:
    """The one line ``make test-containers`` prints when no Docker engine answers."""
    return (f"make test-containers: no Docker engine at {address} (docker ping failed: "
            f"{problem}); the default `make test` uses the embedded broker and the local "
            "PostgreSQL")


def pull_missing(images: tuple[str, ...]) -> str | None:
    """Pull the images the engine lacks (before the tests, whose timeouts a pull would eat).

    Returns why a pull failed, or None. Names get testcontainers' registry prefix, as
    the containers' do.
    """
    from testcontainers.core.config import testcontainers_config
    from testcontainers.core.docker_client import DockerClient

    client = DockerClient().client
    try:
        for image in images:
            name = testcontainers_config.hub_image_name_prefix + image
            if not client.images.list(name=name):
                print(f"make test-containers: pulling {name}", file=sys.stderr)
                try:
                    client.images.pull(name)
                except Exception as exc:  # whatever the engine answers, the image is missing
                    return " ".join(f"cannot pull {name}: {type(exc).__name__}: {exc}".split())
    finally:
        client.close()
    return None


def main() -> int:
    """Exit 0 when a Docker engine answers and has the images; otherwise one line and 1."""
    problem = engine_problem()
    if problem is not None:
        print(no_engine_line(engine_address(), problem), file=sys.stderr)
        return 1
    failed = pull_missing((KAFKA_IMAGE, POSTGRES_IMAGE))
    if failed is not None:
        print(f"make test-containers: {failed}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
