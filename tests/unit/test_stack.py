"""The production stack, checked statically (no Docker engine here): docker-compose.yml,
the Dockerfile and the files they mount agree with the CLI, the settings and the repo."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import click
import pytest
import yaml

from dashboards.catalogue import DATASOURCE_UID
from streams.cli.main import main
from streams.config.settings import is_accepted_environment_variable, load_settings
from tests.prometheus_tools import tool

ROOT = Path(__file__).resolve().parents[2]
COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text("utf-8"))
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
DRIFTLINE = sorted(name for name, s in SERVICES.items() if "build" in s)
DOCKERFILE = (ROOT / "Dockerfile").read_text(encoding="utf-8")
_DEFAULT = re.compile(r"\$\{(\w+):-([^}]*)\}")


def environment(service: dict[str, Any]) -> dict[str, str]:
    """The service's environment with compose's ``${VAR:-default}`` defaults applied."""
    env = service.get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {key: _DEFAULT.sub(lambda m: m.group(2), str(value)) for key, value in env.items()}


def dockerfile_env() -> dict[str, str]:
    runtime = DOCKERFILE.split("\nFROM ")[-1].replace("\\\n", " ")
    pairs: dict[str, str] = {}
    for line in runtime.splitlines():
        if line.startswith("ENV "):
            pairs.update(re.findall(r"(\w+)=(\S+)", line))
    return pairs


def test_the_stack_has_every_service_of_the_issue() -> None:
    assert set(SERVICES) >= {"kafka", "postgres", "migrate", "worker", "prometheus",
                             "alertmanager", "grafana", "simulator"}
    assert SERVICES["simulator"]["profiles"] == ["simulator"]
    assert set(COMPOSE["volumes"]) >= {"kafka-data", "postgres-data", "prometheus-data",
                                       "grafana-data"}


def test_kafka_runs_kraft_single_node_without_auto_create() -> None:
    env = environment(SERVICES["kafka"])
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == "1@kafka:9093"
    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    assert "ZOOKEEPER" not in " ".join(env)
    assert "healthcheck" in SERVICES["kafka"]


def test_services_start_in_order_on_healthchecks() -> None:
    for name, service in SERVICES.items():
        for dependency, rule in service.get("depends_on", {}).items():
            assert dependency in SERVICES, (name, dependency)
            target = SERVICES[dependency]
            if rule["condition"] == "service_healthy":
                healthcheck = target.get("healthcheck", {})
                built = "build" in target and "HEALTHCHECK " in DOCKERFILE
                assert healthcheck.get("test") or built, (name, dependency)
                assert not healthcheck.get("disable"), (name, dependency)
            else:
                assert rule["condition"] == "service_completed_successfully", (name, rule)
    assert SERVICES["worker"]["depends_on"]["migrate"]["condition"] == (
        "service_completed_successfully")


def test_workers_scale() -> None:
    worker = SERVICES["worker"]
    assert "container_name" not in worker
    assert "ports" not in worker  # a fixed host port would clash at --scale worker=2
    scrape = yaml.safe_load((ROOT / "dashboards/prometheus/prometheus.yml").read_text("utf-8"))
    (job,) = [j for j in scrape["scrape_configs"] if j["job_name"] == "driftline"]
    assert job["dns_sd_configs"][0]["names"] == ["worker"]


def resolve(args: list[str]) -> click.Context:
    """The context ``driftline ARGS`` would run in: subcommands looked up in the click
    groups, then the leaf command's options and arguments parsed (types checked)."""
    command: click.Command = main
    context = click.Context(main, info_name="driftline")
    while isinstance(command, click.Group):
        assert args, f"{command.name} needs a subcommand"
        sub = command.get_command(context, args[0])
        if sub is None:
            raise click.UsageError(f"no such command {args[0]!r} in {command.name}")
        context = click.Context(sub, info_name=args[0], parent=context)
        command, args = sub, args[1:]
    return command.make_context(str(context.info_name), list(args), parent=context.parent)


@pytest.mark.parametrize("name", DRIFTLINE)
def test_the_command_exists_in_the_cli(name: str) -> None:
    context = resolve(list(SERVICES[name]["command"]))
    assert not context.args, (name, context.args)


@pytest.mark.parametrize("args", [["wroker"], ["db", "upgrad"], ["worker", "--confg", "x"],
                                  ["simulate", "--rate", "fast"]])
def test_a_wrong_command_is_caught(args: list[str]) -> None:
    with pytest.raises(click.UsageError):
        resolve(args)


@pytest.mark.parametrize("name", DRIFTLINE)
def test_the_environment_is_accepted_by_the_settings(name: str) -> None:
    env = {**dockerfile_env(), **environment(SERVICES[name])}
    driftline = {k: v for k, v in env.items() if k.startswith("DRIFTLINE_")}
    assert driftline
    assert [k for k in driftline if not is_accepted_environment_variable(k)] == []
    settings = load_settings(None, driftline)  # values are validated too
    assert settings.database_url.startswith("postgresql+psycopg://")
    assert settings.bootstrap_servers == "kafka:9092"
    assert settings.worker.web_host == "0.0.0.0"


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_every_mounted_file_exists(name: str) -> None:
    for volume in SERVICES[name].get("volumes", []):
        source = volume.split(":")[0]
        if source.startswith((".", "/")):
            assert (ROOT / source).exists(), (name, source)
        else:
            assert source in COMPOSE["volumes"], (name, source)


def test_the_dockerfile_is_multi_stage_non_root_with_a_healthcheck() -> None:
    stages = re.findall(r"^FROM (\S+)(?: AS (\w+))?", DOCKERFILE, re.MULTILINE)
    assert len(stages) >= 2
    runtime = DOCKERFILE.split("\nFROM ")[-1]
    users = re.findall(r"^USER (\S+)", runtime, re.MULTILINE)
    assert users
    assert users[-1].split(":")[0] not in {"root", "0"}
    assert "HEALTHCHECK " in runtime
    assert "/readyz" in runtime
    assert re.search(r'^ENTRYPOINT \["driftline"\]', runtime, re.MULTILINE)
    for source in re.findall(r"^COPY (?!--from)(.+) \S+$", DOCKERFILE, re.MULTILINE):
        for path in source.split():
            assert (ROOT / path).exists(), path
    assert [k for k in dockerfile_env() if k.startswith("DRIFTLINE_")
            and not is_accepted_environment_variable(k)] == []


def test_grafana_provisioning_matches_the_compose_mounts() -> None:
    datasources = yaml.safe_load(
        (ROOT / "dashboards/provisioning/datasources/prometheus.yml").read_text("utf-8"))
    (source,) = datasources["datasources"]
    assert source["uid"] == DATASOURCE_UID
    assert source["url"] == "http://prometheus:9090"
    providers = yaml.safe_load(
        (ROOT / "dashboards/provisioning/dashboards/driftline.yml").read_text("utf-8"))
    path = providers["providers"][0]["options"]["path"]
    mounts = dict(v.split(":")[:2] for v in SERVICES["grafana"]["volumes"])
    assert mounts["./dashboards/grafana"] == path
    home = environment(SERVICES["grafana"])["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert home.startswith(path + "/")
    assert (ROOT / "dashboards/grafana" / Path(home).name).exists()


def test_prometheus_config_passes_promtool() -> None:
    config = ROOT / "dashboards/prometheus/prometheus.yml"
    result = subprocess.run([tool("promtool"), "check", "config", "--syntax-only", str(config)],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    mounts = dict(v.split(":")[:2] for v in SERVICES["prometheus"]["volumes"])
    assert mounts["./dashboards/prometheus/rules"] == "/etc/prometheus/rules"


def test_the_api_serves_the_store_behind_its_healthcheck() -> None:
    api = SERVICES["api"]
    assert "/readyz" in " ".join(api["healthcheck"]["test"])
    assert "8000" in " ".join(api["healthcheck"]["test"])
    assert api["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    env = environment(api)
    assert env["DRIFTLINE_DATABASE_URL"] == environment(SERVICES["worker"])[
        "DRIFTLINE_DATABASE_URL"]
    config = api["command"][api["command"].index("--config") + 1]
    (mount,) = [v for v in api["volumes"] if v.split(":")[1] == config]
    settings = load_settings(ROOT / mount.split(":")[0], env)
    assert set(settings.api.tokens["reader"].scopes) == {"read"}
