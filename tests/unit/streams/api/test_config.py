"""The ``api`` section: tokens from variables and files, kept as digests, never shown."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from streams.api import openapi
from streams.api.auth import find_token
from streams.cli.main import main
from streams.config.api import token_digest
from streams.config.settings import Settings, SettingsError, load_settings


def _load(tmp_path: Path, text: str, **environ: str) -> Settings:
    path = tmp_path / "driftline.yaml"
    path.write_text(text, encoding="utf-8")
    return load_settings(path, environ=environ)


def _error(tmp_path: Path, text: str, **environ: str) -> str:
    with pytest.raises(SettingsError) as caught:
        _load(tmp_path, text, **environ)
    return str(caught.value)


def test_tokens_from_a_variable_and_a_file(tmp_path: Path) -> None:
    (tmp_path / "oncall").write_text("file-token\n", encoding="utf-8")
    settings = _load(tmp_path, f"""
api:
  open_reads: true
  max_page: 20
  tokens:
    ci: {{scopes: [read], value_env: CI_TOKEN}}
    oncall: {{scopes: [read, write], value_file: {tmp_path / 'oncall'}}}
""", CI_TOKEN=" env-token ")
    api = settings.api
    assert (api.open_reads, api.max_page) == (True, 20)
    assert api.tokens["ci"].digest == token_digest("env-token")
    assert api.tokens["oncall"].scopes == {"read", "write"}
    assert "file-token" not in repr(api)
    assert "env-token" not in repr(api)
    found = find_token(api, "file-token")
    assert found is not None
    assert found.name == "oncall"
    assert find_token(api, "other") is None


@pytest.mark.parametrize(("text", "message"), [
    ("api: {tokens: {ci: {scopes: [read], value: abc}}}",
     "unknown key 'value' in api.tokens.ci (allowed: scopes, value_env, value_file)"),
    ("api: {tokens: {ci: {scopes: [read]}}}", "api.tokens.ci: missing value_env or value_file"),
    ("api: {tokens: {ci: {value_env: T}}}", "api.tokens.ci: missing scopes"),
    ("api: {tokens: {ci: {scopes: [admin], value_env: T}}}",
     "api.tokens.ci.scopes: must be a non-empty list of read, write, got ['admin']"),
    ("api: {tokens: {ci: {scopes: [read], value_env: NOPE}}}",
     "api.tokens.ci.value_env: environment variable 'NOPE' is not set or empty"),
    ("api: {tokens: {ci: {scopes: [read], value_env: T}, cd: {scopes: [write], "
     "value_env: T}}}", "api.tokens.cd: same value as token 'ci'"),
    ("api: {open_reads: yes please}", "api.open_reads: must be true or false, got 'yes please'"),
    ("api: {max_page: 0}", "api.max_page: must be an integer in [1, 100000], got 0"),
])
def test_bad_api_settings(tmp_path: Path, text: str, message: str) -> None:
    assert _error(tmp_path, text, T="secret-value") == message


def test_config_check_shows_names_and_scopes_only(tmp_path: Path) -> None:
    path = tmp_path / "driftline.yaml"
    path.write_text("api: {tokens: {ci: {scopes: [read], value_env: CI_TOKEN}}}\n",
                    encoding="utf-8")
    for extra in ([], ["--format", "json"], ["--sources"]):
        shown = CliRunner().invoke(main, ["config", "check", "--config", str(path), *extra],
                                   env={"CI_TOKEN": "very-secret-token"})
        assert shown.exit_code == 0, shown.output
        assert "very-secret-token" not in shown.output
        assert "CI_TOKEN" not in shown.output or extra == ["--sources"]
    printed = CliRunner().invoke(main, ["config", "check", "--config", str(path),
                                        "--format", "json"],
                                 env={"CI_TOKEN": "very-secret-token"})
    assert json.loads(printed.output)["api"]["tokens"] == {"ci": {"scopes": ["read"]}}


def test_the_committed_openapi_document_is_current() -> None:
    assert openapi.main(["--check"]) == 0, "stale: run `make api-schema` and commit"


def test_check_names_a_stale_document(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                      ) -> None:
    out = tmp_path / "openapi.json"
    assert openapi.main(["--out", str(out), "--check"]) == 1
    assert "make api-schema" in capsys.readouterr().err
    assert openapi.main(["--out", str(out)]) == 0
    assert openapi.main(["--out", str(out), "--check"]) == 0


def test_the_api_command_has_help() -> None:
    shown = CliRunner().invoke(main, ["api", "--help"])
    assert shown.exit_code == 0
    assert "--port" in shown.output
