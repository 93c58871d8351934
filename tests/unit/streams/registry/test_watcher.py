"""The registry watcher's decisions on a registry in memory (the real server:
tests/integration/test_registry_mlflow.py)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy.engine import Engine

from store import make_engine, upgrade
from store.audit import list_audit
from store.repository import load_reference
from streams.config.registry import MlflowSettings
from streams.registry.mlflow_reader import (
    FetchResult,
    ReferenceFile,
    RegisteredVersion,
    RegistryUnavailableError,
)
from streams.registry.watcher import RegistryWatcher, backoff_delay


@dataclass
class MemoryRegistry:
    """Registered versions with their files, and an alias; ``down`` fails every read."""

    files: dict[str, Path | None] = field(default_factory=dict)
    champion: str | None = None
    down: bool = False
    tracking_uri: str = "http://registry.test"

    def _check(self) -> None:
        if self.down:
            raise RegistryUnavailableError("search versions of m: connection refused")

    def model_names(self) -> list[str]:
        self._check()
        return ["m"]

    def versions(self, name: str) -> list[RegisteredVersion]:
        self._check()
        return [RegisteredVersion(name, v, f"run-{v}") for v in self.files]

    def alias_version(self, name: str, alias: str) -> str | None:
        self._check()
        return self.champion if alias == "champion" else None

    def version(self, name: str, version: str) -> RegisteredVersion:
        return RegisteredVersion(name, version, f"run-{version}")

    def fetch_reference(self, version: RegisteredVersion, into: Path) -> FetchResult:
        path = self.files[version.version]
        if path is None:
            return FetchResult(None, ["no artifact reference/reference.parquet"])
        return FetchResult(ReferenceFile(path, f"file://{path}", f"run-{version.version}"))


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'w.db'}")
    upgrade(engine)
    yield engine
    engine.dispose()


def _file(tmp_path: Path, name: str, shift: float) -> Path:
    path = tmp_path / name
    pq.write_table(pa.table({"x": [shift + i for i in range(50)]}), path)
    return path


def test_versions_then_the_champion_each_once(engine: Engine, tmp_path: Path) -> None:
    registry = MemoryRegistry({"1": _file(tmp_path, "a.parquet", 0.0)}, champion="1")
    watcher = RegistryWatcher(MlflowSettings(tracking_uri=registry.tracking_uri), engine,
                              registry)
    assert watcher.poll_once().set == [("m", "1", "m", "1"), ("m", "", "m", "1")]
    assert watcher.poll_once().set == []
    registry.files["2"] = _file(tmp_path, "b.parquet", 100.0)
    assert watcher.poll_once().set == [("m", "2", "m", "2")]  # the champion stays at 1
    registry.champion = "2"
    assert watcher.poll_once().set == [("m", "", "m", "2")]
    with engine.connect() as conn:
        wide = load_reference(conn, "m", "9")
        rows = list_audit(conn, action="reference.set").rows
    assert wide is not None
    assert wide.model_version == ""
    assert wide.profile.n_rows == 50
    assert [(r.actor, r.model_version, r.target.get("alias")) for r in reversed(rows)] == [
        ("mlflow", "1", None), ("mlflow", "", "champion"), ("mlflow", "2", None),
        ("mlflow", "", "champion")]


def test_an_unreadable_file_is_warned_once_and_others_go_on(
        engine: Engine, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"not parquet")
    registry = MemoryRegistry({"1": broken, "2": None, "3": _file(tmp_path, "c.parquet", 1.0)})
    watcher = RegistryWatcher(MlflowSettings(tracking_uri=registry.tracking_uri), engine,
                              registry)
    with caplog.at_level(logging.WARNING, logger="driftline.registry"):
        assert watcher.poll_once().set == [("m", "3", "m", "3")]
        assert watcher.poll_once().skipped == [("m", "1"), ("m", "2")]
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2
    assert lines[0].startswith("registry: m version 1 reference file://")
    assert "cannot be profiled" in lines[0]
    assert lines[1] == ("registry: m version 2 has no reference dataset (no artifact "
                        "reference/reference.parquet): its reference is not set")


def test_an_outage_is_logged_when_it_begins_and_ends(
        engine: Engine, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    registry = MemoryRegistry({"1": _file(tmp_path, "a.parquet", 0.0)}, down=True)
    watcher = RegistryWatcher(MlflowSettings(tracking_uri=registry.tracking_uri,
                                             poll_interval=90.0), engine, registry)
    with caplog.at_level(logging.INFO, logger="driftline.registry"):
        delays = [watcher.step() for _ in range(9)]
        registry.down = False
        assert watcher.step() == 90.0
        assert watcher.step() == 90.0
    assert delays == [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 90.0, 90.0]
    messages = [r.getMessage() for r in caplog.records]
    assert messages[0] == ("registry: poll of http://registry.test failed (search versions "
                           "of m: connection refused); retrying with backoff")
    assert messages[1:] == ["registry: set the reference of m version 1 from m version 1 "
                            f"(file://{tmp_path / 'a.parquet'}): 1 columns, 50 rows",
                            "registry: http://registry.test answers again after 9 failed polls"]


@pytest.mark.parametrize(("failures", "interval", "delay"), [
    (1, 30.0, 1.0), (2, 30.0, 2.0), (6, 30.0, 32.0), (7, 30.0, 60.0), (30, 30.0, 60.0),
    (9, 300.0, 256.0), (10, 300.0, 300.0)])
def test_backoff_doubles_up_to_the_larger_of_the_interval_and_a_minute(
        failures: int, interval: float, delay: float) -> None:
    assert backoff_delay(failures, interval) == delay
