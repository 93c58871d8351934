"""``--api URL``: the read commands over a real HTTP server print what they print from the
database, byte for byte; the token stays out of sight; API errors are one line.

The stored data is the API tests' (``tests/unit/streams/api/conftest.py``: fraud/7
with twelve windows, fraud/8 with one at the same start as fraud/7's first), with
detections of a second detector out of event-time order and an audit trail added
here. uvicorn serves ``create_app`` over it on a loopback port (``tests.api_server``).
Pages are made small (``remote.PAGE_SIZE``) so every list spans several pages.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy.engine import Engine

from store.audit import record_audit
from store.performance import DetectionRecord, save_detections
from store.types import iso_utc
from streams.api.app import create_app
from streams.cli import remote
from streams.cli.main import main
from streams.cli.store import echo_json_list
from tests.api_server import serve
from tests.unit.store.conftest import START
from tests.unit.streams.api import conftest as api_fixtures
from tests.unit.streams.api.conftest import STEP, TOKENS, api_settings

# The API tests' fixtures: the engines (SQLite, PostgreSQL) and the stored model.
sqlite_engine = api_fixtures.sqlite_engine
empty_engine = api_fixtures.empty_engine
engine = api_fixtures.engine
reports = api_fixtures.reports
profile = api_fixtures.profile
make_window = api_fixtures.make_window
stored = api_fixtures.stored

READ_TOKEN = TOKENS["reader"][0]
SECRETS = [value for value, _ in TOKENS.values()]
ENV_CLEAN = {"DRIFTLINE_CONFIG": None, "DRIFTLINE_DATABASE_URL": None,
             "DRIFTLINE_API_URL": None, "DRIFTLINE_API_TOKEN": None}


@pytest.fixture(autouse=True)
def _small_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(remote, "PAGE_SIZE", 2)


@pytest.fixture
def database(stored: Engine) -> str:
    """The stored model plus detections out of event-time order, on two versions, and an
    audit trail; the database's URL."""
    with stored.begin() as conn:
        save_detections(conn, [
            DetectionRecord("fraud", "7", "ddm", 300, START, "error", {"level": 2}),
            DetectionRecord("fraud", "7", "ddm", 50, START + 9 * STEP, "error", {"level": 3}),
            DetectionRecord("fraud", "8", "adwin", 10, START, "error", {"delta": 0.002})],
            now=START)
        for index in range(5):
            record_audit(conn, f"actor{index}", "alert.silence" if index % 2 else
                         "reference.set", model_id="fraud" if index < 4 else "churn",
                         model_version="7", target={"rule": "psi", "feature": "amount"},
                         before=None, after={"n": index}, now=START + index * STEP)
    return str(stored.url.render_as_string(hide_password=False))


@pytest.fixture
def api_url(stored: Engine) -> Iterator[str]:
    with serve(create_app(stored, api_settings())) as url:
        yield url


def run(*args: str, env: Mapping[str, str | None] | None = None) -> Result:
    return CliRunner().invoke(main, list(args), env={**ENV_CLEAN, **(env or {})})


def one_error_line(result: Result) -> str:
    """Exit status 2, one ``driftline: error:`` line, and no token anywhere."""
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        repr(result.exception))
    assert not any(secret in result.output for secret in SECRETS)
    [line] = result.stderr.splitlines()
    assert line.startswith("driftline: error: ")
    return line.removeprefix("driftline: error: ")


SINCE = (START + 2 * STEP).isoformat()
COMMANDS = [
    ["windows", "fraud"],
    ["windows", "fraud", "--format", "json"],
    ["windows", "fraud", "--model-version", "7", "--format", "json"],
    ["windows", "fraud", "--model-version", "8"],
    ["windows", "fraud", "--model-version", "none"],
    ["windows", "fraud", "--limit", "3", "--format", "json"],
    ["windows", "fraud", "--limit", "12"],
    ["windows", "fraud", "--limit", "0", "--format", "json"],
    ["detections", "fraud"],
    ["detections", "fraud", "--format", "json"],
    ["detections", "fraud", "--model-version", "7", "--format", "json"],
    ["alerts", "fraud"],
    ["alerts", "fraud", "--format", "json"],
    ["audit"],
    ["audit", "--format", "json"],
    ["audit", "--limit", "3"],
    ["audit", "--model", "fraud", "--action", "alert.silence", "--format", "json"],
    ["audit", "--since", SINCE],
]


@pytest.mark.parametrize("args", COMMANDS, ids=" ".join)
def test_the_api_prints_what_the_database_prints(database: str, api_url: str,
                                                 args: list[str]) -> None:
    from_database = run(*args, "--database", database)
    assert from_database.exit_code == 0, from_database.output
    from_api = run(*args, "--api", api_url, env={"DRIFTLINE_API_TOKEN": READ_TOKEN})
    assert from_api.exit_code == 0, from_api.output
    assert from_api.stdout == from_database.stdout
    assert from_api.stderr == ""


def test_the_compared_outputs_have_every_row(database: str) -> None:
    """The comparisons above are of real rows, across versions and pages."""
    rows = json.loads(run("windows", "fraud", "--format", "json", "--database",
                          database).stdout)
    assert [(r["model_version"], r["window_start"]) for r in rows[:3]] == [
        ("7", iso_utc(START)), ("8", iso_utc(START)), ("7", iso_utc(START + STEP))]
    assert len(rows) == 13
    found = json.loads(run("detections", "fraud", "--format", "json", "--database",
                           database).stdout)
    assert [(d["model_version"], d["detector"], d["position"]) for d in found] == [
        ("7", "adwin", 0), ("7", "adwin", 100), ("7", "adwin", 200), ("7", "ddm", 50),
        ("7", "ddm", 300), ("8", "adwin", 10)]
    assert len(run("audit", "--database", database).stdout.splitlines()) == 5
    assert len(run("alerts", "fraud", "--database", database).stdout.splitlines()) == 1


def test_the_url_and_the_token_come_from_the_environment_or_a_file(
        database: str, api_url: str, tmp_path: Path) -> None:
    expected = run("windows", "fraud", "--database", database).stdout
    by_env = run("windows", "fraud", env={"DRIFTLINE_API_URL": api_url,
                                          "DRIFTLINE_API_TOKEN": READ_TOKEN})
    assert (by_env.exit_code, by_env.stdout) == (0, expected)
    token_file = tmp_path / "token"
    token_file.write_text(READ_TOKEN + "\n")
    by_file = run("windows", "fraud", "--api", api_url + "/", "--api-token-file",
                  str(token_file), env={"DRIFTLINE_API_TOKEN": "not-this-one"})
    assert (by_file.exit_code, by_file.stdout) == (0, expected)


@pytest.mark.parametrize(("env", "status", "detail"), [
    ({}, 401, "a token with the 'read' scope is needed"),
    ({"DRIFTLINE_API_TOKEN": "wrong-token-9"}, 401, "the token is not valid"),
    ({"DRIFTLINE_API_TOKEN": TOKENS["writer"][0]}, 403, "token 'writer' has no 'read' scope"),
])
@pytest.mark.parametrize("command", [["windows", "fraud"], ["detections", "fraud"],
                                     ["alerts", "fraud"], ["audit"]], ids=" ".join)
def test_refused_tokens_are_one_line_with_the_detail(
        database: str, api_url: str, env: dict[str, str], status: int, detail: str,
        command: list[str]) -> None:
    message = one_error_line(run(*command, "--api", api_url, env=env))
    assert message.startswith(f"the API answered {status}: {detail}")
    assert "wrong-token-9" not in message


def test_an_unknown_model_is_the_apis_404(database: str, api_url: str) -> None:
    env = {"DRIFTLINE_API_TOKEN": READ_TOKEN}
    for command in (["windows", "nope"], ["windows", "nope", "--model-version", "1"],
                    ["detections", "nope"], ["alerts", "nope"]):
        message = one_error_line(run(*command, "--api", api_url, env=env))
        assert message == "the API answered 404: unknown model 'nope'"


def test_a_refused_parameter_is_the_apis_422(database: str, api_url: str,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(remote, "PAGE_SIZE", 51)  # api_settings: max_page 50
    result = run("windows", "fraud", "--api", api_url, env={"DRIFTLINE_API_TOKEN": READ_TOKEN})
    message = one_error_line(result)
    assert message.startswith("the API answered 422: invalid query.limit: ")
    assert result.stdout == ""


def test_a_bad_limit_is_the_same_error_both_ways(database: str, api_url: str) -> None:
    errors = [one_error_line(run("windows", "fraud", "--limit", "-1", *where,
                                 env={"DRIFTLINE_API_TOKEN": READ_TOKEN}))
              for where in (["--database", database], ["--api", api_url])]
    assert errors[0] == errors[1]
    assert "limit" in errors[0]


def test_an_unreachable_api_is_one_line_naming_the_url() -> None:
    with socket.socket() as sock:  # a port nothing listens on once closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    message = one_error_line(run("audit", "--api", url, env={"DRIFTLINE_API_TOKEN": READ_TOKEN}))
    assert message.startswith(f"cannot reach the API at {url}: ")


def test_a_redirect_is_not_followed(httpserver: object) -> None:
    from pytest_httpserver import HTTPServer

    assert isinstance(httpserver, HTTPServer)
    httpserver.expect_request("/v1/audit").respond_with_data(
        "", status=307, headers={"Location": "http://elsewhere.invalid/v1/audit"})
    url = httpserver.url_for("/").rstrip("/")
    message = one_error_line(run("audit", "--api", url, env={"DRIFTLINE_API_TOKEN": READ_TOKEN}))
    assert message == (f"the API at {url} redirects to http://elsewhere.invalid/v1/audit "
                       "(HTTP 307): give the final URL as --api")
    [(request, _)] = httpserver.log
    assert request.headers["Authorization"] == f"Bearer {READ_TOKEN}"


@pytest.mark.parametrize(("args", "expected"), [
    (["--api", "http://127.0.0.1:1", "--database", "sqlite://"], "--database cannot be used"),
    (["--api", "http://127.0.0.1:1", "--config", "x.yaml"], "--config cannot be used"),
    (["--api-token-file", "token"], "--api-token-file needs --api"),
    (["--api", "http://reader:s3cret@127.0.0.1:1"], "must not hold a user or password"),
    (["--api", "ftp://127.0.0.1:1"], "must be an http:// or https:// URL"),
    (["--api", "http://[::1"], "is not a valid URL"),
    (["--api", "http://127.0.0.1:port"], "is not a valid URL"),
])
def test_conflicting_or_bad_options_are_usage_errors(args: list[str], expected: str) -> None:
    for command in (["windows", "fraud"], ["audit"]):
        result = run(*command, *args)
        assert result.exit_code == 2, result.output
        assert expected in result.stderr
        assert "s3cret" not in result.output


def test_the_database_path_ignores_a_token_in_the_environment(database: str) -> None:
    """An engineer's shell may hold the token while a command reads the database."""
    plain = run("windows", "fraud", "--database", database)
    with_token = run("windows", "fraud", "--database", database,
                     env={"DRIFTLINE_API_TOKEN": READ_TOKEN})
    assert (with_token.exit_code, with_token.stdout) == (0, plain.stdout)
    assert plain.stdout


def test_the_database_with_the_url_in_the_environment_is_a_usage_error() -> None:
    result = run("alerts", "fraud", "--database", "sqlite://",
                 env={"DRIFTLINE_API_URL": "http://127.0.0.1:1"})
    assert result.exit_code == 2
    assert "--database cannot be used with $DRIFTLINE_API_URL" in result.stderr


@pytest.mark.parametrize("where", ["file", "env"])
def test_a_token_that_cannot_be_a_header_is_refused_unquoted(tmp_path: Path, where: str) -> None:
    token = "secret token\x07"
    token_file = tmp_path / "token"
    token_file.write_text(token)
    args = ["--api-token-file", str(token_file)] if where == "file" else []
    env = {"DRIFTLINE_API_TOKEN": token} if where == "env" else {}
    message = one_error_line(run("audit", "--api", "http://127.0.0.1:1", *args, env=env))
    assert "has spaces, control or non-ASCII characters" in message
    assert "secret" not in message


def test_an_empty_or_missing_token_file_is_an_error(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.write_text("\n")
    assert one_error_line(run("audit", "--api", "http://127.0.0.1:1", "--api-token-file",
                              str(empty))) == f"--api-token-file {empty} is empty"
    missing = tmp_path / "missing"
    assert one_error_line(run("audit", "--api", "http://127.0.0.1:1", "--api-token-file",
                              str(missing))).startswith(
        f"cannot read --api-token-file {missing}: ")


@pytest.mark.parametrize("items", [[], [1], [{"a": [1, {"b": "x\ny"}], "c": None}, [], {}],
                                   [{"k": 1.5e-7, "nested": {"deep": [[]]}}, "s"]])
def test_json_lists_print_as_json_dumps_does(items: list[object],
                                             capsys: pytest.CaptureFixture[str]) -> None:
    echo_json_list(iter(items))
    assert capsys.readouterr().out == json.dumps(items, indent=2) + "\n"


def test_pages_are_read_as_they_are_printed(database: str, api_url: str,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """``audit --limit 3`` with pages of 2 asks for two pages, not the whole trail."""
    asked: list[str] = []
    real_get = remote.Api.get

    def counting(self: remote.Api, path: str, params: remote.Params | None = None) -> object:
        asked.append(path)
        return real_get(self, path, params)

    monkeypatch.setattr(remote.Api, "get", counting)
    result = run("audit", "--limit", "3", "--api", api_url,
                 env={"DRIFTLINE_API_TOKEN": READ_TOKEN})
    assert result.exit_code == 0, result.output
    assert (len(result.stdout.splitlines()), asked) == (3, ["/v1/audit", "/v1/audit"])


def test_a_windows_limit_keeps_the_newest_across_versions(database: str, api_url: str) -> None:
    rows = json.loads(run("windows", "fraud", "--limit", "2", "--format", "json", "--api",
                          api_url, env={"DRIFTLINE_API_TOKEN": READ_TOKEN}).stdout)
    assert [row["window_start"] for row in rows] == [
        iso_utc(START + i * STEP) for i in (10, 11)]
