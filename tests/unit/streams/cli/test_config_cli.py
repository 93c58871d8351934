"""``driftline config check`` and ``driftline config schema``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import click
import pytest
import yaml
from click.testing import CliRunner, Result

from streams.cli.main import COMMANDS, main
from streams.config.schema import SCHEMA_FILE
from streams.config.settings import load_settings

PASSWORD = "pg-s3cret-pw"
SLACK_PATH = "T000/B000/slack-s3cret-path"
ROUTING_KEY = "R0123-routing-s3cret"
SIGNING_SECRET = "whsec_ZXhhbXBsZS1zZWNyZXQta2V5"  # base64 of "example-secret-key"
SECRETS = (PASSWORD, SLACK_PATH, ROUTING_KEY, SIGNING_SECRET, "ZXhhbXBsZS1zZWNyZXQta2V5")

CONFIG = f"""
database_url: postgresql+psycopg://driftline:{PASSWORD}@db:5432/driftline
worker: {{web_port: 7000}}
models:
  default:
    window: {{size: 1m}}
  fraud:
    thresholds: {{psi: {{critical: 0.5}}}}
alerting:
  receivers:
    oncall: {{type: slack, url: "https://hooks.slack.com/services/{SLACK_PATH}"}}
    pager: {{type: pagerduty, routing_key_env: TEST_CONFIG_ROUTING_KEY}}
    deployer: {{type: deployer, url: "http://deployer:8080/retrain",
               signing_secret: {SIGNING_SECRET}}}
  rules:
    - {{name: psi-critical, metric: feature.psi, above: 0.25, receivers: [oncall, pager],
       retrain: true}}
"""


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No DRIFTLINE_* variable from the caller's shell (the test suite's own are ignored)."""
    for name in list(os.environ):
        if name.startswith("DRIFTLINE_") and not name.startswith("DRIFTLINE_TEST_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("TEST_CONFIG_ROUTING_KEY", ROUTING_KEY)


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "driftline.yaml"
    path.write_text(CONFIG, encoding="utf-8")
    return path


def run(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(main, list(args), env=env)


def test_check_prints_the_effective_settings_with_secrets_masked(config_file: Path) -> None:
    result = run("config", "check", str(config_file))
    assert result.exit_code == 0, result.output
    for secret in SECRETS:
        assert secret not in result.output
    shown = yaml.safe_load(result.stdout)
    assert shown["database_url"] == "postgresql+psycopg://driftline:***@db:5432/driftline"
    receivers = shown["alerting"]["receivers"]
    assert receivers["oncall"]["url"] == "https://hooks.slack.com/***"
    assert receivers["pager"]["routing_key"] == "***"
    assert receivers["deployer"]["signing_secret"] == "***"
    assert shown["alerting"]["retrain"]["signing_secret"] == "***"  # the deployer's, inherited
    # Every key, defaults applied: the file's values, the built-in ones and the merge.
    assert shown["worker"]["web_port"] == 7000
    assert shown["worker"]["group_id"] == "driftline"
    assert shown["models"]["fraud"]["window"]["size"] == 60.0
    assert shown["models"]["fraud"]["thresholds"]["psi"] == {"warn": 0.1, "critical": 0.5}
    assert shown["alerting"]["rules"][0]["severity"] == "warning"
    assert result.stdout.startswith(f"# valid ({config_file})")


def test_check_json_is_the_same_settings(config_file: Path) -> None:
    as_yaml = yaml.safe_load(run("config", "check", str(config_file)).stdout)
    result = run("config", "check", "--format", "json", str(config_file))
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == as_yaml
    assert all(secret not in result.output for secret in SECRETS)


def test_check_reads_config_option_and_config_variable(config_file: Path) -> None:
    by_option = run("config", "check", "--config", str(config_file))
    by_variable = run("config", "check", env={"DRIFTLINE_CONFIG": str(config_file)})
    by_argument = run("config", "check", str(config_file))
    assert by_option.exit_code == by_variable.exit_code == 0
    assert by_option.stdout == by_variable.stdout == by_argument.stdout
    assert yaml.safe_load(by_variable.stdout)["worker"]["web_port"] == 7000


def test_check_without_a_file_prints_the_defaults() -> None:
    result = run("config", "check")
    assert result.exit_code == 0, result.output
    assert yaml.safe_load(result.stdout)["database_url"] == "sqlite:///driftline.db"
    assert "no file, defaults" in result.stdout.splitlines()[0]


def test_environment_overrides_show_up(config_file: Path) -> None:
    env = {"DRIFTLINE_WORKER__WEB_PORT": "7100",
           "DRIFTLINE_MODELS__FRAUD__WINDOW__GRACE": "1m",
           "DRIFTLINE_DATABASE_URL": f"postgresql+psycopg://other:{PASSWORD}@db2/x"}
    result = run("config", "check", str(config_file), env=env)
    assert result.exit_code == 0, result.output
    shown = yaml.safe_load(result.stdout)
    assert shown["worker"]["web_port"] == 7100
    assert shown["models"]["fraud"]["window"]["grace"] == 60.0
    assert shown["models"]["default"]["window"]["grace"] == 30.0
    assert shown["database_url"] == "postgresql+psycopg://other:***@db2/x"
    assert PASSWORD not in result.output


def test_sources_name_default_file_and_variable(config_file: Path) -> None:
    env = {"DRIFTLINE_WORKER__WEB_PORT": "7100"}
    result = run("config", "check", "--sources", str(config_file), env=env)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert "worker.web_port: 7100  # env DRIFTLINE_WORKER__WEB_PORT" in lines
    assert "worker.group_id: driftline  # default" in lines
    assert "models.default.window.size: 60.0  # file" in lines
    assert "models.fraud.window.size: 60.0  # file" in lines  # merged from models.default
    assert "models.fraud.thresholds.psi.critical: 0.5  # file" in lines
    assert "models.fraud.thresholds.psi.warn: 0.1  # default" in lines
    assert "alerting.receivers.oncall.url: https://hooks.slack.com/***  # file" in lines
    assert all(secret not in result.output for secret in SECRETS)
    as_json = json.loads(run("config", "check", "--sources", "--format", "json",
                             str(config_file), env=env).stdout)
    assert as_json["worker.web_port"] == {"value": 7100,
                                          "source": "env DRIFTLINE_WORKER__WEB_PORT"}


def _worker_error(*args: str, env: dict[str, str] | None = None) -> Result:
    return run("worker", *args, env=env)


@pytest.mark.parametrize(("text", "env", "message"), [
    ("worker: {web_port: 70000}\n", {},
     "worker.web_port: must be an integer in [1, 65535], got 70000"),
    ("worker: {web_port: 7000}\n", {"DRIFTLINE_WORKER__WEB_PORT": "abc"},
     "worker.web_port: must be an integer in [1, 65535], got 'abc' "
     "(from DRIFTLINE_WORKER__WEB_PORT)"),
    ("models: {default: {windw: {}}}\n", {},
     "unknown key 'windw' in models.default (allowed: window, reference, thresholds, "
     "profile, features, performance)"),
    ("database_url: postgresql//u:pg-s3cret-pw@h/db\n", {},
     "database_url: must be a URL such as sqlite:///driftline.db or "
     "postgresql+psycopg://user:password@host/db, got 'postgresql//u:***@h/db'"),
    ("alerting: {receivers: {x: {type: slack, url_env: TEST_CONFIG_UNSET}}}\n", {},
     "alerting.receivers.x.url_env: environment variable 'TEST_CONFIG_UNSET' is not set or "
     "empty"),
])
def test_bad_value_exits_2_with_the_workers_one_line_error(
        tmp_path: Path, text: str, env: dict[str, str], message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    result = run("config", "check", str(path), env=env)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == f"driftline: error: {message}\n"
    worker = _worker_error("--config", str(path), env=env)
    assert (worker.exit_code, worker.stderr) == (2, result.stderr)


def test_missing_file_is_the_workers_error(tmp_path: Path) -> None:
    path = tmp_path / "absent.yaml"
    result = run("config", "check", str(path))
    assert result.exit_code == 2
    assert result.stderr == f"driftline: error: configuration file not found: {path}\n"


def test_file_given_twice_differently_is_refused(config_file: Path, tmp_path: Path) -> None:
    result = run("config", "check", str(config_file), "--config", str(tmp_path / "other.yaml"))
    assert result.exit_code == 2
    assert "give the file once" in result.stderr


def test_printed_settings_load_back_as_a_configuration_file(tmp_path: Path) -> None:
    source = tmp_path / "in.yaml"
    source.write_text(
        "worker: {web_port: 7000}\nmodels: {fraud: {window: {count: 500}}}\n"
        "alerting:\n  rules:\n    - {name: drift, metric: dataset_drift, for: 2}\n"
        "    - {name: stalled, metric: no_data, after: 15m}\n"
        "    - {name: psi, metric: feature.psi, above: 0.3, features: [a]}\n",
        encoding="utf-8")
    printed = tmp_path / "printed.yaml"
    printed.write_text(run("config", "check", str(source)).stdout, encoding="utf-8")
    assert load_settings(printed, environ={}) == load_settings(source, environ={})


def test_schema_prints_the_committed_schema() -> None:
    result = run("config", "schema")
    assert result.exit_code == 0, result.output
    assert result.stdout == SCHEMA_FILE.read_text(encoding="utf-8")
    assert json.loads(result.stdout)["$schema"] == "https://json-schema.org/draft/2020-12/schema"


# ----- the command line as a whole ----------------------------------------------------------
def test_help_lists_every_command_without_importing_any() -> None:
    """``driftline --help`` loads no command module, nor numpy, Kafka or SQL."""
    code = ("import sys\nfrom streams.cli.main import main\n"
            "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "heavy = ('numpy', 'scipy', 'faust', 'aiokafka', 'kafka', 'sqlalchemy', 'pyarrow',\n"
            "         'detectors', 'store', 'streams.config.settings', 'yaml', 'msgspec')\n"
            "print('LOADED', sorted(m for m in heavy if m in sys.modules),\n"
            "      sorted(m for m in sys.modules if m.startswith('streams.cli.')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert "LOADED [] ['streams.cli.errors', 'streams.cli.main']" in done.stdout
    for name in COMMANDS:
        assert f"  {name} " in done.stdout


def test_each_listed_help_line_is_the_commands_own() -> None:
    context = click.Context(main)
    for name, (_, _, short) in COMMANDS.items():
        command = main.get_command(context, name)
        assert command is not None
        assert command.get_short_help_str(200) == short, name
    assert main.get_command(context, "nope") is None


def test_version_and_model_version_everywhere() -> None:
    expected = f"driftline, version {version('driftline')}\n"
    result = CliRunner().invoke(main, ["--version"])
    assert (result.exit_code, result.output) == (0, expected)
    context = click.Context(main)
    for name in COMMANDS:
        command = main.get_command(context, name)
        assert command is not None
        subcommands = (list(command.commands) if isinstance(command, click.Group) else [])
        for args in ([name], *([name, sub] for sub in subcommands)):
            result = CliRunner().invoke(main, [*args, "--version"])
            assert (result.exit_code, result.output) == (0, expected), args
        for each in [command, *getattr(command, "commands", {}).values()]:
            options = {o for p in each.params for o in getattr(p, "opts", [])}
            if "model_version" in {p.name for p in each.params}:
                assert "--model-version" in options, (name, each.name)
