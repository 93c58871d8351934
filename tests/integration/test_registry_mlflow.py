"""``driftline registry watch`` against a real MLflow tracking server on loopback.

One server per module (``mlflow server`` with a SQLite backend and a local artifact
folder, one worker), waited for on its ``/health`` endpoint and stopped at the end.
Each test registers models of its own names and has a database of its own, so the
tests share the server but nothing else.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from mlflow.data.dataset_source_registry import get_dataset_source_from_json
from mlflow.data.meta_dataset import MetaDataset
from mlflow.tracking import MlflowClient
from sqlalchemy import Table, func, select
from sqlalchemy.engine import Engine

from store import migrate
from store.audit import list_audit
from store.engine import make_engine
from store.registry_links import registry_link
from store.repository import load_reference
from store.tables import audit, reference_profiles
from streams.batch.profiling import profile_file
from streams.cli.main import main
from streams.config.registry import MlflowSettings
from streams.devtools.broker import free_port
from streams.registry.mlflow_reader import MlflowReader
from streams.registry.watcher import RegistryWatcher

pytestmark = pytest.mark.integration

# MLflow declares MetaDataset's profile abstract, yet the class is what its docs construct.
META_DATASET: Any = MetaDataset
START_TIMEOUT = 240.0  # seconds: the server imports a lot, on a busy machine slowly


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=2) as answer:
            return bool(answer.status == 200)
    except (urllib.error.URLError, OSError):
        return False


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of a started MLflow tracking server (stopped after the module)."""
    folder = tmp_path_factory.mktemp("mlflow")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [str(Path(sys.executable).with_name("mlflow")), "server",
               "--backend-store-uri", f"sqlite:///{folder / 'mlflow.db'}",
               "--artifacts-destination", (folder / "artifacts").as_uri(),
               "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    log = (folder / "server.log").open("wb")
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                               start_new_session=True, cwd=folder)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not _healthy(url):
            if process.poll() is not None:
                pytest.fail(f"mlflow server exited ({process.returncode}): "
                            + (folder / "server.log").read_text(errors="replace")[-2000:])
            if time.monotonic() > deadline:
                pytest.fail(f"mlflow server not healthy after {START_TIMEOUT:.0f}s")
            time.sleep(0.2)  # polling the health endpoint, not standing in for it
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        with contextlib.suppress(ProcessLookupError):  # its workers are in its group too
            os.killpg(process.pid, signal.SIGKILL)
        log.close()


@pytest.fixture
def url(server: str) -> str:
    mlflow.set_tracking_uri(server)
    mlflow.set_registry_uri(server)
    return server


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    made = make_engine(f"sqlite:///{tmp_path / 'driftline.db'}")
    migrate.upgrade(made)
    yield made
    made.dispose()


def _table(seed: int, shift: float = 0.0, rows: int = 400) -> pa.Table:
    rng = np.random.default_rng(seed)
    return pa.table({"amount": rng.normal(100 + shift, 15, rows),
                     "age": rng.integers(18, 90, rows),
                     "country": rng.choice(["de", "fr", "nl"], rows),
                     "score": rng.uniform(0, 1, rows)})


def _write(table: pa.Table, path: Path) -> Path:
    if path.suffix == ".csv":
        pacsv.write_csv(table, path)
    else:
        pq.write_table(table, path)
    return path


def _logged(path: Path) -> MetaDataset:
    """A dataset whose source is the local file ``path`` (``resolve_dataset_source`` would
    warn that two of MLflow's own source classes both read local paths)."""
    source = get_dataset_source_from_json(json.dumps({"uri": str(path)}), "local")
    made: MetaDataset = META_DATASET(source, name=path.name)
    return made


def _register(client: MlflowClient, name: str, *, dataset: Path | None = None,
              artifact: Path | None = None, context: str = "training") -> str:
    """Log a run (with ``dataset`` as its input, ``artifact`` as reference/reference.parquet)
    and register a new version of ``name`` from it; the version."""
    with mlflow.start_run() as run:
        if dataset is not None:
            mlflow.log_input(_logged(dataset), context=context)
        if artifact is not None:
            mlflow.log_artifact(str(artifact), artifact_path="reference")
    if not client.search_registered_models(filter_string=f"name = '{name}'"):
        client.create_registered_model(name)
    version = client.create_model_version(name, f"runs:/{run.info.run_id}/model",
                                          run_id=run.info.run_id)
    return str(version.version)


def _watcher(url: str, engine: Engine, name: str, model_id: str = "fraud") -> RegistryWatcher:
    settings = MlflowSettings(tracking_uri=url, poll_interval=1.0, models={name: model_id})
    return RegistryWatcher(settings, engine, MlflowReader(url, settings.reference_artifact))


def _count(engine: Engine, table: Table) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def test_a_new_version_gets_the_reference_of_its_logged_dataset(
        url: str, engine: Engine, tmp_path: Path) -> None:
    name = f"fraud-{uuid.uuid4().hex[:8]}"
    data = _write(_table(1), tmp_path / "train.parquet")
    client = MlflowClient(url)
    assert _register(client, name, dataset=data) == "1"

    result = _watcher(url, engine, name).poll_once()

    assert result.set == [("fraud", "1", name, "1")]
    with engine.connect() as conn:
        stored = load_reference(conn, "fraud", "1")
        rows = list_audit(conn, action="reference.set", model_id="fraud").rows
        link = registry_link(conn, "fraud", "1")
    assert stored is not None
    assert stored.model_version == "1"
    assert stored.source == "file"
    assert stored.profile.to_dict() == profile_file(data).to_dict()
    assert [(r.actor, r.model_version) for r in rows] == [("mlflow", "1")]
    page = f"{url}/#/models/{name}/versions/1"
    assert rows[0].target["registered_model"] == name
    assert rows[0].target["registered_version"] == "1"
    assert rows[0].target["url"] == page
    assert rows[0].target["dataset"].endswith("train.parquet")
    assert rows[0].after["n_rows"] == 400
    assert rows[0].before is None
    assert link is not None
    assert link.url == page


def test_version_two_and_the_champion_alias_then_a_second_poll_changes_nothing(
        url: str, engine: Engine, tmp_path: Path) -> None:
    name = f"churn-{uuid.uuid4().hex[:8]}"
    client = MlflowClient(url)
    first = _write(_table(2), tmp_path / "reference.parquet")  # an artifact, not an input
    _register(client, name, artifact=first)
    watcher = _watcher(url, engine, name, "churn")
    assert watcher.poll_once().set == [("churn", "1", name, "1")]

    second = _write(_table(3, shift=30.0), tmp_path / "second.csv")
    unrelated = _write(_table(4, shift=-50.0), tmp_path / "eval.csv")
    with mlflow.start_run() as run:  # two inputs: the training one is the reference
        for path, context in ((unrelated, "evaluation"), (second, "training")):
            mlflow.log_input(_logged(path), context=context)
    client.create_model_version(name, f"runs:/{run.info.run_id}/model", run_id=run.info.run_id)
    client.set_registered_model_alias(name, "champion", "2")

    assert watcher.poll_once().set == [("churn", "2", name, "2"), ("churn", "", name, "2")]
    with engine.connect() as conn:
        v1 = load_reference(conn, "churn", "1")
        v2 = load_reference(conn, "churn", "2")
        wide = load_reference(conn, "churn", "7")  # a version without its own: the champion's
    assert v1 is not None
    assert v1.profile.to_dict() == profile_file(first).to_dict()
    assert v2 is not None
    assert v2.profile.to_dict() == profile_file(second).to_dict()
    assert wide is not None
    assert wide.model_version == ""
    assert wide.profile.to_dict() == v2.profile.to_dict()

    audited, stored = _count(engine, audit), _count(engine, reference_profiles)
    assert (audited, stored) == (3, 3)
    assert watcher.poll_once().set == []
    assert _watcher(url, engine, name, "churn").poll_once().set == []  # after a restart too
    assert (_count(engine, audit), _count(engine, reference_profiles)) == (audited, stored)

    client.set_registered_model_alias(name, "champion", "1")  # rolled back
    assert watcher.poll_once().set == [("churn", "", name, "1")]
    with engine.connect() as conn:
        wide = load_reference(conn, "churn", "7")
    assert wide is not None
    assert wide.profile.to_dict() == v1.profile.to_dict()


def test_a_version_without_a_dataset_is_warned_about_once(
        url: str, engine: Engine, caplog: pytest.LogCaptureFixture) -> None:
    name = f"bare-{uuid.uuid4().hex[:8]}"
    _register(MlflowClient(url), name)
    watcher = _watcher(url, engine, name)
    with caplog.at_level(logging.WARNING, logger="driftline.registry"):
        first, second = watcher.poll_once(), watcher.poll_once()
    assert first.set == second.set == []
    assert first.skipped == second.skipped == [(name, "1")]
    warnings = [r.getMessage() for r in caplog.records if r.name == "driftline.registry"]
    assert len(warnings) == 1
    assert f"{name} version 1 has no reference dataset" in warnings[0]
    assert "no artifact reference/reference.parquet" in warnings[0]
    assert "no logged input dataset" in warnings[0]
    assert _count(engine, reference_profiles) == 0


def test_an_unreachable_server_is_logged_once_per_outage_with_backoff(
        url: str, engine: Engine, caplog: pytest.LogCaptureFixture) -> None:
    name = f"gone-{uuid.uuid4().hex[:8]}"
    settings = MlflowSettings(tracking_uri=url, poll_interval=5.0, models={name: "gone"})
    dead = f"http://127.0.0.1:{free_port()}"
    watcher = RegistryWatcher(settings, engine, MlflowReader(dead, settings.reference_artifact))
    with caplog.at_level(logging.INFO, logger="driftline.registry"):
        delays = [watcher.step() for _ in range(4)]
        watcher.reader = MlflowReader(url, settings.reference_artifact)  # the server is back
        after = watcher.step()
    assert delays == [1.0, 2.0, 4.0, 8.0]
    assert after == 5.0
    lines = [(r.levelname, r.getMessage()) for r in caplog.records
             if r.name == "driftline.registry"]
    assert len(lines) == 2
    assert lines[0][0] == "WARNING"
    assert f"poll of {dead} failed" in lines[0][1]
    assert lines[1] == ("INFO", f"registry: {url} answers again after 4 failed polls")


@pytest.fixture
def root_logging() -> Iterator[None]:
    """The command configures the root logger; the test process gets its own back."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)
    logging.captureWarnings(False)


@pytest.mark.usefixtures("root_logging")
def test_the_command_polls_once(url: str, tmp_path: Path) -> None:
    name = f"cli-{uuid.uuid4().hex[:8]}"
    data = _write(_table(5), tmp_path / "ref.csv")
    _register(MlflowClient(url), name, dataset=data, context="reference")
    config = tmp_path / "driftline.yaml"
    config.write_text(f"database_url: sqlite:///{tmp_path / 'cli.db'}\n"
                      f"registry:\n  mlflow:\n    tracking_uri: {url}\n"
                      f"    models: {{{name}: scoring}}\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["registry", "watch", "--once", "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert result.stdout == f"set the reference of scoring (version 1) from {name} version 1\n"
    assert f"set the reference of scoring version 1 from {name} version 1" in result.stderr
    again = CliRunner().invoke(main, ["registry", "watch", "--once", "--config", str(config)])
    assert (again.exit_code, again.stdout) == (0, "")
    config.write_text(f"database_url: sqlite:///{tmp_path / 'cli.db'}\n", encoding="utf-8")
    unset = CliRunner().invoke(main, ["registry", "watch", "--once", "--config", str(config)])
    assert unset.exit_code == 2
    assert "registry.mlflow.tracking_uri is not set" in unset.stderr
