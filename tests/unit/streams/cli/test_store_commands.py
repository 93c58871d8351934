"""``driftline db upgrade``, ``reference set`` and ``windows`` on SQLite files.

Every command gets its database from ``--database``, ``--config`` (the YAML
``database_url``) or ``DRIFTLINE_DATABASE_URL``; the tests clear the process's
own ``DRIFTLINE_CONFIG`` / ``DRIFTLINE_DATABASE_URL`` so only what a test gives
reaches the command.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner, Result
from numpy.typing import NDArray
from sqlalchemy import inspect
from sqlalchemy.engine import Engine

from detectors import DriftPolicy, DriftReport, compare
from detectors.batch import Kind
from detectors.reference import Role
from store import migrate, repository
from store.engine import make_engine
from streams.cli.main import main

START = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
SIZE = timedelta(minutes=5)
N_ROWS = 600
TABLES = {"models", "reference_profiles", "windows", "feature_stats", "ingest_checkpoints"}
WINDOW_KEYS = {"model_id", "model_version", "window_start", "window_end", "n_events",
               "features"}
KINDS: dict[str, Kind] = {"amount": "numeric", "country": "categorical", "score": "numeric"}
CLASSIC = DriftPolicy.of("classic")  # reports of small samples with verdicts
ROLES: dict[str, Role] = {"score": "prediction"}


@pytest.fixture(autouse=True)
def _no_inherited_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the settings a test gives reach the commands (not the caller's environment)."""
    monkeypatch.delenv("DRIFTLINE_CONFIG", raising=False)
    monkeypatch.delenv("DRIFTLINE_DATABASE_URL", raising=False)


def run(*args: str | Path, env: dict[str, str | None] | None = None) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args], env=env)


def one_error_line(result: Result) -> str:
    """The CLI's error form: no traceback, exit status 2, one ``driftline: error:`` line."""
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        repr(result.exception))
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("driftline: error: "), lines[0]
    return lines[0]


def url_of(path: Path) -> str:
    return f"sqlite:///{path}"


@pytest.fixture
def database(tmp_path: Path) -> str:
    return url_of(tmp_path / "driftline.db")


@pytest.fixture
def engine(database: str) -> Iterator[Engine]:
    engine = make_engine(database)
    yield engine
    engine.dispose()


@pytest.fixture
def migrated(engine: Engine) -> Engine:
    migrate.upgrade(engine)
    return engine


def revision(url: str) -> str | None:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return migrate.current_revision(conn)
    finally:
        engine.dispose()


def write_config(path: Path, database: str) -> Path:
    path.write_text(f"database_url: {database}\n", encoding="utf-8")
    return path


# ----- db upgrade ------------------------------------------------------------------------


def test_db_upgrade_creates_the_schema_and_can_run_again(database: str,
                                                         engine: Engine) -> None:
    assert revision(database) is None
    first = run("db", "upgrade", "--database", database)
    assert first.exit_code == 0, first.output
    assert first.stdout.strip() == "database is at the latest schema"
    assert revision(database) == migrate.head_revision()
    assert set(inspect(engine).get_table_names()) >= TABLES
    second = run("db", "upgrade", "--database", database)
    assert second.exit_code == 0, second.output
    assert second.stdout.strip() == "database is at the latest schema"
    assert revision(database) == migrate.head_revision()


def test_db_upgrade_again_keeps_what_is_stored(database: str, migrated: Engine) -> None:
    with migrated.begin() as conn:
        repository.save_window(conn, window_record(report(1.0), START))
    assert run("db", "upgrade", "--database", database).exit_code == 0
    with migrated.connect() as conn:
        assert [w["n_events"] for w in repository.list_windows(conn, "fraud")] == [400]


def test_db_upgrade_reads_the_database_from_the_environment(database: str) -> None:
    result = run("db", "upgrade", env={"DRIFTLINE_DATABASE_URL": database})
    assert result.exit_code == 0, result.output
    assert revision(database) == migrate.head_revision()


def test_db_upgrade_reads_the_database_from_the_config_file(tmp_path: Path,
                                                            database: str) -> None:
    config = write_config(tmp_path / "driftline.yaml", database)
    result = run("db", "upgrade", "--config", config)
    assert result.exit_code == 0, result.output
    assert revision(database) == migrate.head_revision()


def test_db_upgrade_defaults_to_driftline_db_in_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert run("db", "upgrade").exit_code == 0
    assert revision(url_of(tmp_path / "driftline.db")) == migrate.head_revision()


def test_database_option_wins_over_the_environment_and_the_config(tmp_path: Path) -> None:
    from_config, from_env, chosen = (url_of(tmp_path / f"{n}.db") for n in ("a", "b", "c"))
    config = write_config(tmp_path / "driftline.yaml", from_config)
    result = run("db", "upgrade", "--config", config, "--database", chosen,
                 env={"DRIFTLINE_DATABASE_URL": from_env})
    assert result.exit_code == 0, result.output
    assert revision(chosen) == migrate.head_revision()
    assert not (tmp_path / "a.db").exists()
    assert not (tmp_path / "b.db").exists()


def test_the_environment_wins_over_the_config_file(tmp_path: Path) -> None:
    from_config, from_env = url_of(tmp_path / "a.db"), url_of(tmp_path / "b.db")
    config = write_config(tmp_path / "driftline.yaml", from_config)
    result = run("db", "upgrade", "--config", config, env={"DRIFTLINE_DATABASE_URL": from_env})
    assert result.exit_code == 0, result.output
    assert revision(from_env) == migrate.head_revision()
    assert not (tmp_path / "a.db").exists()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (None, "configuration file not found: "),
        ("database_url: 42\n", "database_url: must be a URL"),
        ("databse_url: sqlite:///x.db\n", "unknown key 'databse_url'"),
    ],
    ids=["missing", "bad-value", "unknown-key"],
)
def test_a_bad_config_file_is_one_line_naming_the_problem(tmp_path: Path, text: str | None,
                                                          expected: str) -> None:
    config = tmp_path / "driftline.yaml"
    if text is not None:
        config.write_text(text, encoding="utf-8")
    line = one_error_line(run("db", "upgrade", "--config", config))
    assert expected in line


# ----- reference set ---------------------------------------------------------------------


def reference_table(n: int = N_ROWS, seed: int = 1) -> pa.Table:
    """What a model server logs: identity columns, a row id, features and the outputs."""
    rng = np.random.default_rng(seed)
    amount = np.round(rng.lognormal(3.0, 0.8, n), 2)
    score = np.round(1 / (1 + np.exp(-(amount / 40 - 1))), 4)
    return pa.table({
        "event_id": [f"e-{i}" for i in range(n)],
        "model_id": ["fraud"] * n,
        "model_version": ["7"] * n,
        "event_time": [f"2026-11-22T10:{i // 60 % 60:02d}:{i % 60:02d}Z" for i in range(n)],
        "prediction_id": [f"req-{i}" for i in range(n)],
        "row": np.arange(n, dtype=np.int64),
        "amount": amount,
        "age": pa.array(rng.integers(18, 90, n), mask=np.arange(n) % 20 == 0),
        "country": rng.choice(["DE", "FR", "US"], n),
        "returning": rng.random(n) < 0.4,
        "prediction": (score >= 0.5).astype(np.int64),
        "score": score,
    })


def write_table(table: pa.Table, path: Path) -> Path:
    if path.suffix == ".csv":
        pacsv.write_csv(table, path)
    elif path.suffix == ".parquet":
        pq.write_table(table, path)
    else:
        path.write_text("".join(json.dumps(row) + "\n" for row in table.to_pylist()),
                        encoding="utf-8")
    return path


def stored(engine: Engine, version: str | None = None) -> repository.StoredReference:
    with engine.connect() as conn:
        reference = repository.load_reference(conn, "fraud", version)
    assert reference is not None, "no reference stored"
    return reference


def nothing_stored(engine: Engine) -> bool:
    if "reference_profiles" not in inspect(engine).get_table_names():
        return True
    with engine.connect() as conn:
        return repository.load_reference(conn, "fraud", None) is None


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".jsonl"])
def test_reference_set_profiles_the_file(tmp_path: Path, database: str, engine: Engine,
                                         suffix: str) -> None:
    table = reference_table()
    path = write_table(table, tmp_path / f"reference{suffix}")
    result = run("reference", "set", "fraud", path, "--database", database)
    assert result.exit_code == 0, result.output
    reference = stored(engine)
    assert result.stdout.strip() == (f"stored reference {reference.id} for fraud "
                                     f"(every version): 7 columns, {N_ROWS} rows")
    assert (reference.model_id, reference.model_version, reference.source) == ("fraud", "", "file")
    profile = reference.profile
    assert profile.n_rows == N_ROWS
    assert {c.name: (c.kind, c.role) for c in profile.columns} == {
        "row": ("numeric", "feature"),
        "amount": ("numeric", "feature"),
        "age": ("numeric", "feature"),
        "country": ("categorical", "feature"),
        "returning": ("categorical", "feature"),
        "prediction": ("numeric", "prediction"),
        "score": ("numeric", "prediction"),
    }
    amount = profile["amount"]
    assert amount.kind == "numeric"
    assert amount.n == N_ROWS
    assert amount.mean == pytest.approx(float(np.mean(table["amount"].to_numpy())), rel=1e-12)
    age = profile["age"]
    assert age.kind == "numeric"
    assert (age.n, age.n_missing) == (N_ROWS - N_ROWS // 20, N_ROWS // 20)
    country = profile["country"]
    assert country.kind == "categorical"
    assert set(country.categories) == {"DE", "FR", "US"}
    assert sum(country.counts) == N_ROWS


def test_reference_set_for_a_version_leaves_the_model_wide_one(tmp_path: Path, database: str,
                                                               engine: Engine) -> None:
    path = write_table(reference_table(), tmp_path / "reference.parquet")
    small = write_table(reference_table(n=150, seed=2), tmp_path / "small.parquet")
    assert run("reference", "set", "fraud", path, "--database", database).exit_code == 0
    result = run("reference", "set", "fraud", small, "--model-version", "7", "--database", database)
    assert result.exit_code == 0, result.output
    seven = stored(engine, "7")
    assert result.stdout.strip() == (f"stored reference {seven.id} for fraud (version 7): "
                                     "7 columns, 150 rows")
    assert (seven.model_version, seven.profile.n_rows) == ("7", 150)
    anyone = stored(engine, "8")
    assert (anyone.model_version, anyone.profile.n_rows) == ("", N_ROWS)
    assert anyone.id != seven.id


def test_reference_set_again_replaces_the_profile_in_place(tmp_path: Path, database: str,
                                                           engine: Engine) -> None:
    first = write_table(reference_table(), tmp_path / "first.csv")
    second = write_table(reference_table(n=200, seed=3), tmp_path / "second.csv")
    assert run("reference", "set", "fraud", first, "--database", database).exit_code == 0
    before = stored(engine)
    assert run("reference", "set", "fraud", second, "--database", database).exit_code == 0
    after = stored(engine)
    assert after.id == before.id
    assert (before.profile.n_rows, after.profile.n_rows) == (N_ROWS, 200)


def test_reference_set_exclude_leaves_columns_out(tmp_path: Path, database: str,
                                                  engine: Engine) -> None:
    path = write_table(reference_table(), tmp_path / "reference.csv")
    result = run("reference", "set", "fraud", path, "--exclude", "row", "--exclude", "country",
                 "--database", database)
    assert result.exit_code == 0, result.output
    assert "5 columns" in result.stdout
    assert set(stored(engine).profile.names) == {"amount", "age", "returning", "prediction",
                                                 "score"}


def test_reference_set_prediction_names_the_model_outputs(tmp_path: Path, database: str,
                                                          engine: Engine) -> None:
    path = write_table(reference_table(), tmp_path / "reference.parquet")
    result = run("reference", "set", "fraud", path, "--prediction", "score", "--exclude", "row",
                 "--database", database)
    assert result.exit_code == 0, result.output
    roles = {c.name: c.role for c in stored(engine).profile.columns}
    assert roles == {"amount": "feature", "age": "feature", "country": "feature",
                     "returning": "feature", "prediction": "feature", "score": "prediction"}


def test_reference_set_creates_the_schema_when_needed(tmp_path: Path, database: str) -> None:
    path = write_table(reference_table(), tmp_path / "reference.csv")
    assert run("reference", "set", "fraud", path, "--database", database).exit_code == 0
    assert revision(database) == migrate.head_revision()


def test_reference_set_reads_the_database_from_the_environment(tmp_path: Path, database: str,
                                                               engine: Engine) -> None:
    path = write_table(reference_table(), tmp_path / "reference.csv")
    result = run("reference", "set", "fraud", path, env={"DRIFTLINE_DATABASE_URL": database})
    assert result.exit_code == 0, result.output
    assert stored(engine).profile.n_rows == N_ROWS


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _folder(path: Path) -> Path:
    path.mkdir()
    return path


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda d: d / "nope.csv", "nope.csv: no such file"),
        (lambda d: _write(d / "empty.csv", ""), "empty.csv: file is empty"),
        (lambda d: _write(d / "empty.jsonl", ""), "empty.jsonl: file is empty"),
        (lambda d: _write(d / "header.csv", "amount,score\n"),
         "header.csv: file has a header but no rows"),
        (lambda d: _write(d / "ref.txt", "amount\n1\n"), "ref.txt: unknown file type '.txt'"),
        (lambda d: _write(d / "broken.csv", "a,b\n1,2,3\n"), "broken.csv: cannot read as csv"),
        (lambda d: _write(d / "broken.parquet", "not parquet"),
         "broken.parquet: cannot read as parquet"),
        (lambda d: _folder(d / "folder.csv"), "folder.csv: is a directory"),
    ],
    ids=["missing", "empty-csv", "empty-jsonl", "header-only", "unknown-type", "broken-csv",
         "broken-parquet", "directory"],
)
def test_reference_set_file_errors_are_one_line_naming_the_file(
    tmp_path: Path, database: str, engine: Engine, make: Any, expected: str
) -> None:
    path: Path = make(tmp_path)
    result = run("reference", "set", "fraud", path, "--database", database)
    line = one_error_line(result)
    assert str(path) in line
    assert expected in line
    assert result.stdout == ""
    assert nothing_stored(engine)


def test_a_failed_reference_set_keeps_the_stored_reference(tmp_path: Path, database: str,
                                                           engine: Engine) -> None:
    good = write_table(reference_table(), tmp_path / "reference.csv")
    assert run("reference", "set", "fraud", good, "--database", database).exit_code == 0
    before = stored(engine)
    one_error_line(run("reference", "set", "fraud", _write(tmp_path / "empty.csv", ""),
                       "--database", database))
    after = stored(engine)
    assert (after.id, after.created_at, after.profile) == (before.id, before.created_at,
                                                           before.profile)


def test_a_file_without_profilable_columns_is_refused(tmp_path: Path, database: str,
                                                      engine: Engine) -> None:
    good = write_table(reference_table(), tmp_path / "reference.csv")
    assert run("reference", "set", "fraud", good, "--database", database).exit_code == 0
    only_ids = write_table(reference_table().select(["event_id", "model_id", "event_time"]),
                           tmp_path / "ids.csv")
    line = one_error_line(run("reference", "set", "fraud", only_ids, "--database", database))
    assert "ids.csv" in line
    assert stored(engine).profile.n_rows == N_ROWS


def test_reference_set_prediction_of_an_unknown_column_is_refused(tmp_path: Path,
                                                                  database: str) -> None:
    path = write_table(reference_table(), tmp_path / "reference.csv")
    line = one_error_line(run("reference", "set", "fraud", path, "--prediction", "nope",
                              "--database", database))
    assert "no column 'nope'" in line


# ----- windows ---------------------------------------------------------------------------


def columns(seed: int, shift: float, n: int = 400) -> dict[str, NDArray[Any]]:
    rng = np.random.default_rng(seed)
    return {
        "amount": rng.normal(shift, 1.0, n),
        "country": rng.choice(["DE", "FR", "US"], n, p=[0.5, 0.3, 0.2]).astype(object),
        "score": np.clip(rng.normal(0.3 + shift / 4, 0.1, n), 0, 1),
    }


def report(shift: float, seed: int = 2) -> DriftReport:
    """``amount`` and ``score`` drift when ``shift`` is 1; ``country`` never does."""
    return compare(columns(1, 0.0), columns(seed, shift), KINDS, roles=ROLES, policy=CLASSIC)


def window_record(drift: DriftReport, start: datetime, version: str = "1",
                  model: str = "fraud") -> repository.WindowRecord:
    return repository.WindowRecord(
        model_id=model, model_version=version, window_start=start, window_end=start + SIZE,
        n_events=drift.n_current_rows, n_late=0, reference_id=None, reference_source="file",
        report=drift, closed_at=start + SIZE + timedelta(seconds=30))


@pytest.fixture
def history(migrated: Engine) -> list[repository.WindowRecord]:
    """fraud v1: calm, drift, calm; fraud v2: one window between; churn: one window."""
    records = [
        window_record(report(0.0), START),
        window_record(report(1.0), START + SIZE),
        window_record(report(0.0, seed=3), START + 2 * SIZE),
        window_record(report(0.0, seed=4), START + SIZE, version="2"),
        window_record(report(1.0), START, model="churn"),
    ]
    with migrated.begin() as conn:
        for record in records:
            repository.save_window(conn, record)
    return records


def windows_json(*args: str) -> list[dict[str, Any]]:
    result = run("windows", *args, "--format", "json")
    assert result.exit_code == 0, result.output
    data: list[dict[str, Any]] = json.loads(result.stdout)
    return data


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_windows_json_lists_the_model_windows_oldest_first(
    database: str, history: list[repository.WindowRecord]
) -> None:
    data = windows_json("fraud", "--database", database)
    expected = [history[0], history[1], history[3], history[2]]
    assert [(w["window_start"], w["model_version"]) for w in data] == [
        (iso(r.window_start), r.model_version) for r in expected]
    for window, record in zip(data, expected, strict=True):
        assert window.keys() >= WINDOW_KEYS
        assert window["model_id"] == "fraud"
        assert window["window_end"] == iso(record.window_end)
        assert window["n_events"] == record.n_events == 400
        assert window["reference_source"] == "file"
        assert [f["name"] for f in window["features"]] == ["amount", "country"]
        assert [p["name"] for p in window["predictions"]] == ["score"]
        assert window["status"] == record.report.status
        assert window["drift_share"] == record.report.drift_share
    assert [[f["drifted"] for f in w["features"]] for w in data] == [
        [False, False], [True, False], [False, False], [False, False]]


def test_windows_json_features_have_the_compare_json_shape(
    tmp_path: Path, database: str, migrated: Engine
) -> None:
    reference, current = columns(1, 0.0), columns(2, 1.0)
    paths = []
    for name, data in (("reference", reference), ("current", current)):
        paths.append(tmp_path / f"{name}.parquet")
        pq.write_table(pa.table({k: list(v) if v.dtype == object else v
                                 for k, v in data.items()}), paths[-1])
    result = run("compare", *paths, "--prediction", "score", "--format", "json")
    assert result.exit_code == 0, result.output
    from_compare = json.loads(result.stdout)
    with migrated.begin() as conn:
        repository.save_window(conn, window_record(compare(reference, current, KINDS,
                                                           roles=ROLES), START))
    (window,) = windows_json("fraud", "--database", database)
    assert [f.keys() for f in window["features"]] == [f.keys() for f in from_compare["features"]]
    assert window["features"] == from_compare["features"]
    assert window["predictions"] == from_compare["predictions"]
    numeric, categorical = window["features"]
    assert {"ks_statistic", "ks_pvalue", "wasserstein"} <= numeric.keys()
    assert {"chi2_statistic", "chi2_pvalue", "unseen_rate"} <= categorical.keys()
    for key in ("status", "drift_share", "dataset_drift", "prediction_drift", "n_evaluated",
                "n_drifted", "policy"):
        assert window[key] == from_compare[key], key


def test_windows_version_keeps_one_version(database: str,
                                          history: list[repository.WindowRecord]) -> None:
    two = windows_json("fraud", "--model-version", "2", "--database", database)
    assert [(w["model_version"], w["window_start"]) for w in two] == [
        ("2", iso(START + SIZE))]
    one = windows_json("fraud", "--model-version", "1", "--database", database)
    assert [w["window_start"] for w in one] == [iso(START + k * SIZE) for k in range(3)]
    assert windows_json("fraud", "--model-version", "9", "--database", database) == []


def test_windows_limit_keeps_the_newest_in_time_order(
    database: str, history: list[repository.WindowRecord]
) -> None:
    newest = windows_json("fraud", "--model-version", "1", "--limit", "2", "--database", database)
    assert [w["window_start"] for w in newest] == [iso(START + SIZE), iso(START + 2 * SIZE)]
    assert windows_json("fraud", "--limit", "0", "--database", database) == []
    every = windows_json("fraud", "--limit", "100", "--database", database)
    assert len(every) == 4


def test_windows_of_an_unknown_model_is_an_empty_list(database: str,
                                                      history: list[repository.WindowRecord]
                                                      ) -> None:
    assert windows_json("nope", "--database", database) == []
    assert [w["model_id"] for w in windows_json("churn", "--database", database)] == ["churn"]


def test_windows_table_has_one_line_per_window(database: str,
                                              history: list[repository.WindowRecord]) -> None:
    result = run("windows", "fraud", "--model-version", "1", "--database", database)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 3
    calm, drift, later = (line.split() for line in lines)
    no_labels = ["accuracy", "-", "(est.", "-,", "labels", "-)"]
    assert calm == [iso(START), "v1", "400", "events", "share", "0%", "no_drift", *no_labels,
                    "-"]
    assert drift == [iso(START + SIZE), "v1", "400", "events", "share", "50%", "drift",
                     *no_labels, "amount"]
    assert later[0] == iso(START + 2 * SIZE)


def test_windows_table_is_the_default_and_empty_for_no_windows(database: str,
                                                               migrated: Engine) -> None:
    result = run("windows", "fraud", "--database", database)
    assert result.exit_code == 0, result.output
    assert result.stdout == ""


def test_windows_reads_the_database_from_the_config_file(
    tmp_path: Path, database: str, history: list[repository.WindowRecord]
) -> None:
    config = write_config(tmp_path / "driftline.yaml", database)
    data = windows_json("fraud", "--model-version", "1", "--config", str(config))
    assert [w["n_events"] for w in data] == [400, 400, 400]


def test_windows_reads_the_database_from_the_environment(
    database: str, history: list[repository.WindowRecord]
) -> None:
    result = run("windows", "churn", "--format", "json",
                 env={"DRIFTLINE_DATABASE_URL": database})
    assert result.exit_code == 0, result.output
    assert [w["model_id"] for w in json.loads(result.stdout)] == ["churn"]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["windows", "fraud", "--database", "bogus://x"], "'bogus'"),
        (["windows", "fraud", "--limit", "-1"], "limit"),
        (["windows", "fraud"], "no such table"),
        (["db", "upgrade", "--database", "bogus://x"], "'bogus'"),
    ],
    ids=["windows-bad-url", "windows-negative-limit", "windows-not-migrated", "upgrade-bad-url"],
)
def test_store_errors_are_one_line(database: str, args: list[str], expected: str) -> None:
    if "--database" not in args:
        args = [*args, "--database", database]
    assert expected in one_error_line(run(*args))


def test_reference_set_with_an_empty_model_is_one_line(tmp_path: Path, database: str) -> None:
    path = write_table(reference_table(), tmp_path / "reference.csv")
    assert "model_id" in one_error_line(run("reference", "set", "", path,
                                            "--database", database))
