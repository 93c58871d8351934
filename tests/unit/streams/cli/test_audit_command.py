"""``driftline audit``: the trail newest first, as text or JSON lines, filtered and limited."""

from __future__ import annotations

import getpass
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from store import make_engine, upgrade
from store.audit import record_audit
from streams.cli.main import main

NOW = datetime.now(UTC)


@pytest.fixture(autouse=True)
def _no_inherited_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DRIFTLINE_CONFIG", raising=False)
    monkeypatch.delenv("DRIFTLINE_DATABASE_URL", raising=False)


@pytest.fixture
def database(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'driftline.db'}"
    engine = make_engine(url)
    upgrade(engine)
    with engine.begin() as conn:
        record_audit(conn, "ci", "reference.set", model_id="fraud", model_version="7",
                     after={"id": 1}, now=NOW - timedelta(days=3))
        record_audit(conn, "oncall", "alert.silence", model_id="fraud", model_version="7",
                     target={"rule": "psi-high", "feature": "amount"},
                     after={"reason": "rollout"}, now=NOW - timedelta(hours=1))
        record_audit(conn, "ops", "model_version.delete", model_id="churn",
                     model_version="2", before={"windows": 4}, now=NOW - timedelta(minutes=5))
    engine.dispose()
    return url


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def test_text_lists_every_write_newest_first(database: str) -> None:
    result = run("audit", "--database", database)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert [line.split("  ")[1:] for line in lines] == [
        ["ops", "model_version.delete", "churn v2", "-"],
        ["oncall", "alert.silence", "fraud v7", "rule=psi-high feature=amount"],
        ["ci", "reference.set", "fraud v7", "-"],
    ]


def test_json_filters_by_model_since_and_limit(database: str) -> None:
    result = run("audit", "--database", database, "--format", "json", "--model", "fraud",
                 "--since", "2d")
    assert result.exit_code == 0, result.output
    (row,) = [json.loads(line) for line in result.stdout.splitlines()]
    assert (row["actor"], row["action"], row["after"]) == (
        "oncall", "alert.silence", {"reason": "rollout"})
    since = (NOW - timedelta(days=4)).replace(tzinfo=None).isoformat()
    result = run("audit", "--database", database, "--since", since, "--limit", "2",
                 "--format", "json")
    assert [json.loads(line)["actor"] for line in result.stdout.splitlines()] == [
        "ops", "oncall"]
    result = run("audit", "--database", database, "--action", "reference.set")
    assert [line.split("  ")[1] for line in result.stdout.splitlines()] == ["ci"]


def test_a_bad_since_is_one_error_line(database: str) -> None:
    result = run("audit", "--database", database, "--since", "last tuesday")
    assert result.exit_code == 2
    assert result.stderr.strip() == ("driftline: error: --since must be a duration such as "
                                     "30m, 2h or 7d, or an ISO 8601 time, got 'last tuesday'")


def test_reference_set_is_audited_as_the_cli_user(database: str, tmp_path: Path) -> None:
    path = tmp_path / "ref.csv"
    path.write_text("amount,country\n" + "".join(f"{i},DE\n" for i in range(50)),
                    encoding="utf-8")
    assert run("reference", "set", "fraud", str(path), "--database", database).exit_code == 0
    result = run("audit", "--database", database, "--limit", "1", "--format", "json")
    (row,) = [json.loads(line) for line in result.stdout.splitlines()]
    assert (row["actor"], row["action"], row["model_id"], row["model_version"]) == (
        f"cli:{getpass.getuser()}", "reference.set", "fraud", "")
    assert row["before"] is None
    assert row["after"]["columns"] == ["amount", "country"]
