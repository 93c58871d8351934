"""``driftline reference from-range`` over a fake predictions topic, on a SQLite file."""

from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from store.audit import list_audit
from store.engine import make_engine
from store.repository import load_reference
from streams.cli.main import main
from streams.config.settings import Settings
from streams.transport import history
from tests.unit.streams.transport.fake_topic import FakeTopic, event

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _no_inherited_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DRIFTLINE_CONFIG", "DRIFTLINE_DATABASE_URL", "DRIFTLINE_BROKER_URL"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def topic(monkeypatch: pytest.MonkeyPatch) -> FakeTopic:
    """12 events of fraud version 1 from T0 on, one every 10 minutes."""
    found = FakeTopic(Settings().topics.predictions, 2)
    for n in range(12):
        at = T0 + timedelta(minutes=10 * n)
        found.append(n % 2, int(at.timestamp() * 1000), event("fraud", at, n, amount=n / 2))
    monkeypatch.setattr(history, "_open", found.consumer)
    return found


def one_error_line(result: Result) -> str:
    """The CLI's error form: exit status 2 and one ``driftline: error:`` line."""
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("driftline: error: "), lines[0]
    return lines[0]


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def test_from_range_stores_a_range_reference_audited_with_its_counts(
        tmp_path: Path, topic: FakeTopic) -> None:
    url = f"sqlite:///{tmp_path / 'd.db'}"
    result = run("reference", "from-range", "fraud", "--since", "2026-12-01T12:00Z",
                 "--until", "2026-12-01T13:00", "--model-version", "1", "--database", url)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("stored reference 1 for fraud (version 1) from "
                                    "2026-12-01T12:00:00+00:00 to 2026-12-01T13:00:00+00:00: "
                                    "4 columns, 6 events")
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            stored = load_reference(conn, "fraud", "1")
            audit = list_audit(conn).rows[0].to_dict()
    finally:
        engine.dispose()
    assert stored is not None
    assert (stored.source, stored.profile.n_rows) == ("range", 6)
    assert audit["action"] == "reference.set"
    assert audit["actor"].startswith("cli")
    assert audit["after"]["counts"]["events_in_range"] == 6
    assert audit["after"]["range"] == {"start": "2026-12-01T12:00:00+00:00",
                                       "end": "2026-12-01T13:00:00+00:00"}


@pytest.mark.parametrize(("args", "expected"), [
    (["--since", "2026-12-01T13:00Z", "--until", "2026-12-01T12:00Z"], "must be after start"),
    (["--since", "2026-12-03T00:00Z", "--until", "2026-12-04T00:00Z"],
     "no valid event of model 'fraud' every version from 2026-12-03T00:00:00+00:00"),
])
def test_from_range_errors_are_one_line(tmp_path: Path, topic: FakeTopic, args: list[str],
                                        expected: str) -> None:
    line = one_error_line(run("reference", "from-range", "fraud", *args, "--database",
                              f"sqlite:///{tmp_path / 'd.db'}"))
    assert expected in line
    assert not (tmp_path / "d.db").exists()


def test_from_range_without_a_broker_names_it(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    line = one_error_line(run("reference", "from-range", "fraud", "--since", "2026-12-01",
                              "--until", "2026-12-02", "--broker", f"kafka://127.0.0.1:{port}",
                              "--timeout", "2", "--database", f"sqlite:///{tmp_path / 'd.db'}"))
    assert line == (f"driftline: error: cannot reach the broker at 127.0.0.1:{port} (is it "
                    "running? `driftline broker` starts one)")
