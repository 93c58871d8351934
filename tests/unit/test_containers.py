"""The containers switch (``tests/containers.py``): what can be checked without a Docker engine."""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy.engine import make_url

from tests import containers

ROOT = Path(__file__).resolve().parents[2]
ADVICE = "; the default `make test` uses the embedded broker and the local PostgreSQL"


def compose_service(name: str) -> dict[str, Any]:
    services: dict[str, Any] = yaml.safe_load(
        (ROOT / "docker-compose.yml").read_text(encoding="utf-8"))["services"]
    return dict(services[name])


def listener_names(listeners: str) -> list[str]:
    return [entry.split("://")[0] for entry in listeners.split(",")]


@pytest.mark.parametrize(("value", "on"), [("1", True), ("true", True), ("YES", True),
                                           ("0", False), ("", False), ("no", False)])
def test_the_switch(value: str, on: bool) -> None:
    assert containers.enabled({containers.SWITCH: value}) is on
    assert containers.enabled({}) is False


def test_the_images_are_those_of_the_compose_stack() -> None:
    assert compose_service("kafka")["image"] == containers.KAFKA_IMAGE
    assert compose_service("postgres")["image"] == containers.POSTGRES_IMAGE


def test_kafka_is_configured_as_the_compose_stack() -> None:
    env = containers.kafka_environment()
    compose = {k: str(v) for k, v in compose_service("kafka")["environment"].items()}
    for key in ("KAFKA_NODE_ID", "KAFKA_PROCESS_ROLES", "KAFKA_CONTROLLER_LISTENER_NAMES",
                "KAFKA_AUTO_CREATE_TOPICS_ENABLE", "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR",
                "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR",
                "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR", "KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS"):
        assert env[key] == compose[key], key
    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"


def test_kafka_listeners_are_consistent() -> None:
    env = containers.kafka_environment()
    listeners = listener_names(env["KAFKA_LISTENERS"])
    protocols = dict(e.split(":") for e in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(","))
    assert set(listeners) == set(protocols)
    assert env["KAFKA_CONTROLLER_LISTENER_NAMES"] in listeners
    assert env["KAFKA_INTER_BROKER_LISTENER_NAME"] in listeners
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == f"1@localhost:{containers.CONTROLLER_PORT}"
    assert f"PLAINTEXT://0.0.0.0:{containers.CLIENT_PORT}" in env["KAFKA_LISTENERS"]
    advertised = containers.advertised_listeners("127.0.0.1", 32768)
    # A broker advertises every listener but the controller's.
    assert sorted(listener_names(advertised)) == sorted(
        n for n in listeners if n != env["KAFKA_CONTROLLER_LISTENER_NAMES"])
    assert advertised.startswith("PLAINTEXT://127.0.0.1:32768,")


def test_the_start_script_exports_the_published_address(monkeypatch: pytest.MonkeyPatch,
                                                        tmp_path: Path) -> None:
    monkeypatch.setattr(containers, "KAFKA_RUN", "env")  # prints what the image's run gets
    script = tmp_path / "start.sh"
    script.write_text(containers.kafka_start_script("127.0.0.1", 32768), encoding="utf-8")
    seen = subprocess.run(["sh", str(script)], capture_output=True, text=True, check=True,
                          env={"PATH": os.environ["PATH"]}).stdout.splitlines()
    assert ("KAFKA_ADVERTISED_LISTENERS=PLAINTEXT://127.0.0.1:32768,BROKER://localhost:"
            f"{containers.BROKER_PORT}") in seen


def test_addresses() -> None:
    assert containers.client_host("localhost") == "127.0.0.1"
    assert containers.client_host("docker") == "docker"
    assert containers.bootstrap("127.0.0.1", 9092) == "127.0.0.1:9092"
    assert containers.bootstrap("::1", 9092) == "[::1]:9092"


def test_the_database_url_is_psycopg_and_keeps_odd_passwords() -> None:
    url = make_url(containers.database_url("127.0.0.1", 32769, "test", "p@ss:/word", "db"))
    assert (url.drivername, url.username, url.password, url.host, url.port, url.database) == (
        "postgresql+psycopg", "test", "p@ss:/word", "127.0.0.1", 32769, "db")


def no_engine_env(tmp_path: Path) -> tuple[dict[str, str], str]:
    """An environment whose Docker engine address answers nothing, and that address."""
    address = f"unix://{tmp_path}/docker.sock"
    env = {k: v for k, v in os.environ.items()
           if k not in {"TC_HOST", "TESTCONTAINERS_HOST_OVERRIDE", "MAKEFLAGS", "MAKELEVEL",
                        "MFLAGS", containers.SWITCH}}
    # HOME: no ~/.testcontainers.properties or docker context names another engine.
    return {**env, "DOCKER_HOST": address, "HOME": str(tmp_path)}, address


def test_without_an_engine_the_check_says_so_in_one_line(tmp_path: Path) -> None:
    env, address = no_engine_env(tmp_path)
    done = subprocess.run([sys.executable, "-m", "tests.containers"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert done.stdout == ""
    (line,) = done.stderr.splitlines()
    assert line.startswith(f"make test-containers: no Docker engine at {address} "
                           "(docker ping failed: DockerException: ")
    assert line.endswith(ADVICE)


def test_make_test_containers_stops_at_the_check_without_an_engine(tmp_path: Path) -> None:
    make = shutil.which("make")
    if make is None:
        pytest.skip("make is not installed")
    env, address = no_engine_env(tmp_path)
    # -o: the installed environment counts as up to date (no reinstall from a test).
    done = subprocess.run([make, "--no-print-directory", "-o", ".venv/.installed",
                           "test-containers"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode != 0
    line = done.stderr.splitlines()[0]
    assert line.startswith(f"make test-containers: no Docker engine at {address} ")
    assert line.endswith(ADVICE)
    assert "pytest" not in done.stdout  # the tests did not start


def test_the_cluster_id_is_a_base64_uuid() -> None:
    assert len(base64.urlsafe_b64decode(containers.CLUSTER_ID + "==")) == 16


class FakeImages:
    def __init__(self, present: set[str], refuse: bool = False) -> None:
        self.present, self.refuse, self.pulled = present, refuse, list[str]()

    def list(self, name: str) -> list[str]:
        return [name] if name in self.present else []

    def pull(self, name: str) -> None:
        if self.refuse:
            raise RuntimeError("pull access denied\nfor that image")
        self.pulled.append(name)


class FakeClient:
    def __init__(self, images: FakeImages) -> None:
        self.images, self.closed = images, False

    def close(self) -> None:
        self.closed = True


def fake_docker(monkeypatch: pytest.MonkeyPatch, images: FakeImages) -> FakeClient:
    from testcontainers.core import docker_client

    client = FakeClient(images)
    monkeypatch.setattr(docker_client, "DockerClient", lambda: type("D", (), {"client": client}))
    return client


def test_only_missing_images_are_pulled(monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    images = FakeImages({"postgres:16"})
    client = fake_docker(monkeypatch, images)
    assert containers.pull_missing(("apache/kafka:3.9.1", "postgres:16")) is None
    assert images.pulled == ["apache/kafka:3.9.1"]
    assert client.closed
    assert capsys.readouterr().err == "make test-containers: pulling apache/kafka:3.9.1\n"


def test_a_failed_pull_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    client = fake_docker(monkeypatch, FakeImages(set(), refuse=True))
    assert containers.pull_missing(("apache/kafka:3.9.1",)) == (
        "cannot pull apache/kafka:3.9.1: RuntimeError: pull access denied for that image")
    assert client.closed
