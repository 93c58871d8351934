"""``driftline compare``: files in, the documented table or JSON out, one-line errors."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from detectors import compare
from streams.cli.main import main

FEATURE_KEYS = {"name", "kind", "n_reference", "n_current", "drifted", "severity", "psi",
                "js_distance", "hellinger"}
NUMERIC_KEYS = {"ks_statistic", "ks_pvalue", "wasserstein"}
CATEGORICAL_KEYS = {"chi2_statistic", "chi2_pvalue"}


def _table(seed: int, n: int, shift: float) -> pa.Table:
    rng = np.random.default_rng(seed)
    amount = rng.lognormal(3 + shift, 1, n)
    score = 1 / (1 + np.exp(-(amount / 40 - 1)))
    age = rng.normal(40, 10, n).round()
    return pa.table({
        "id": np.arange(n),
        "amount": amount,
        "age": pa.array(age, mask=rng.random(n) < 0.05),
        "country": rng.choice(["DE", "FR", "US"] + (["BR"] if shift else []), n),
        "device": rng.choice(["ios", "android", "web"], n),
        "score": score,
        "label": (rng.random(n) < score).astype(np.int64),
    })


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("compare")
    ref, cur = _table(1, 12_000, 0.0), _table(2, 3_000, 0.6)  # the reference: >= 10,000 rows
    paths = {"ref": root / "ref.csv", "cur": root / "cur.csv",
             "ref_pq": root / "ref.parquet", "cur_jsonl": root / "cur.jsonl"}
    pacsv.write_csv(ref, paths["ref"])
    pacsv.write_csv(cur, paths["cur"])
    pq.write_table(ref, paths["ref_pq"])
    paths["cur_jsonl"].write_text(
        "\n".join(json.dumps(row) for row in cur.to_pylist()) + "\n", encoding="utf-8")
    return paths


def _run(*args: str | Path) -> Any:
    return CliRunner().invoke(main, [str(a) for a in args])


def _json(*args: str) -> dict[str, Any]:
    result = _run("compare", *args, "--format", "json")
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def test_table_output_names_every_column_and_the_verdict(files: dict[str, Path]) -> None:
    result = _run("compare", files["ref"], files["cur"], "--exclude", "id", "--target", "label",
                  "--prediction", "score")
    assert result.exit_code == 0, result.output
    for word in ("amount", "age", "country", "device", "score", "label", "critical",
                 "verdict: DATASET DRIFT", "prediction drift: yes"):
        assert word in result.stdout


def test_json_contract(files: dict[str, Path]) -> None:
    data = _json(str(files["ref"]), str(files["cur"]), "--exclude", "id", "--target", "label",
                 "--prediction", "score")
    assert {"features", "drift_share", "dataset_drift", "schema_version"} <= data.keys()
    by_name = {f["name"]: f for f in data["features"]}
    assert set(by_name) == {"amount", "age", "country", "device"}
    for feature in data["features"]:
        assert feature.keys() >= FEATURE_KEYS
        own, other = ((NUMERIC_KEYS, CATEGORICAL_KEYS) if feature["kind"] == "numeric"
                      else (CATEGORICAL_KEYS, NUMERIC_KEYS))
        assert own <= feature.keys()
        assert not other & feature.keys()
        assert feature["severity"] in {"none", "warn", "critical", "insufficient_data"}
        assert isinstance(feature["drifted"], bool)
    assert by_name["country"]["kind"] == "categorical"
    assert by_name["age"]["n_reference"] < 12_000  # nulls are missing values
    assert [p["name"] for p in data["predictions"]] == ["score"]
    assert [t["name"] for t in data["targets"]] == ["label"]
    assert data["drift_share"] == pytest.approx(
        sum(f["drifted"] for f in data["features"]) / len(data["features"]))


def test_json_equals_the_library_on_the_same_columns(files: dict[str, Path]) -> None:
    data = _json(str(files["ref"]), str(files["cur"]), "--exclude", "id")
    ref = pacsv.read_csv(files["ref"])
    cur = pacsv.read_csv(files["cur"])
    amount = compare({"amount": ref["amount"].to_numpy()}, {"amount": cur["amount"].to_numpy()},
                     {"amount": "numeric"}).features[0]
    got = next(f for f in data["features"] if f["name"] == "amount")
    assert got["psi"] == amount.psi
    assert got["ks_statistic"] == amount.ks_statistic
    assert got["wasserstein"] == amount.wasserstein


def test_parquet_and_jsonl_inputs(files: dict[str, Path]) -> None:
    from_csv = _json(str(files["ref"]), str(files["cur"]), "--exclude", "id")
    mixed = _json(str(files["ref_pq"]), str(files["cur_jsonl"]), "--exclude", "id")
    assert [f["psi"] for f in mixed["features"]] == pytest.approx(
        [f["psi"] for f in from_csv["features"]], rel=1e-12)


def test_kind_overrides(files: dict[str, Path]) -> None:
    data = _json(str(files["ref"]), str(files["cur"]), "--exclude", "id",
                 "--categorical", "label", "--numeric", "age")
    kinds = {f["name"]: f["kind"] for f in data["features"]}
    assert kinds["label"] == "categorical"
    assert kinds["age"] == "numeric"


def test_fail_on_drift_exit_status(files: dict[str, Path]) -> None:
    assert _run("compare", files["ref"], files["cur"], "--fail-on-drift").exit_code == 3
    assert _run("compare", files["ref"], files["ref"], "--fail-on-drift").exit_code == 0


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("setup", "expected"),
    [
        (lambda d: (d / "nope.csv", _write(d / "b.csv", "x\n1\n")), "nope.csv: no such file"),
        (lambda d: (_write(d / "e.csv", ""), _write(d / "b.csv", "x\n1\n")), "file is empty"),
        (lambda d: (_write(d / "h.csv", "x,y\n"), _write(d / "b.csv", "x\n1\n")),
         "has a header but no rows"),
        (lambda d: (_write(d / "a.csv", "x\n1\n"), _write(d / "b.csv", "y\n1\n")),
         "share no feature columns"),
        (lambda d: (_write(d / "a.csv", "x\n1\n2\n"), _write(d / "b.csv", "x\n1\nabc\n")),
         "column 'x' cannot be read as numeric"),
        (lambda d: (_write(d / "a.txt", "x\n1\n"), _write(d / "b.csv", "x\n1\n")),
         "unknown file type '.txt'"),
        (lambda d: (_write(d / "a.csv", "x,y\n1,2,3\n"), _write(d / "b.csv", "x\n1\n")),
         "cannot read as csv"),
    ],
    ids=["missing", "empty", "header-only", "no-shared", "unreadable", "unknown-type", "broken"],
)
def test_errors_are_one_clear_line(tmp_path: Path, setup: Any, expected: str) -> None:
    reference, current = setup(tmp_path)
    result = _run("compare", reference, current)
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("driftline: error: ")
    assert expected in lines[0]


def test_unknown_column_in_an_option_is_an_error(files: dict[str, Path]) -> None:
    result = _run("compare", files["ref"], files["cur"], "--target", "nope")
    assert result.exit_code == 2
    assert "no column 'nope'" in result.stderr


def test_bad_policy_value_names_it(files: dict[str, Path]) -> None:
    result = _run("compare", files["ref"], files["cur"], "--alpha", "2")
    assert result.exit_code == 2
    assert "alpha must be a number in (0.0, 1.0), got 2.0" in result.stderr


def test_installed_command_runs_as_a_new_user_would(files: dict[str, Path]) -> None:
    command = shutil.which("driftline", path=str(Path(sys.executable).parent))
    assert command is not None, "the driftline console script is not installed"
    done = subprocess.run([command, "compare", str(files["ref"]), str(files["cur"]),
                           "--format", "json"], capture_output=True, text=True, check=False,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["dataset_drift"] in (True, False)


def test_performance_of_both_files_equals_scikit_learn(files: dict[str, Path]) -> None:
    from sklearn.metrics import accuracy_score, roc_auc_score

    data = _json(str(files["ref"]), str(files["cur"]), "--target", "label",
                 "--prediction", "score")
    current = data["performance"]["current"]
    table = pacsv.read_csv(files["cur"])
    label, score = table["label"].to_numpy(), table["score"].to_numpy()
    assert current["task"] == "binary_classification"
    assert current["n"] == table.num_rows
    assert current["accuracy"] == pytest.approx(accuracy_score(label, score >= 0.5), abs=1e-12)
    assert abs(current["roc_auc"] - roc_auc_score(label, score)) <= current["roc_auc_error_bound"]
    result = _run("compare", files["ref"], files["cur"], "--target", "label",
                  "--prediction", "score")
    assert "roc_auc" in result.stdout
