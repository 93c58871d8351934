"""The ``registry`` section: defaults, values, one-line errors, the version page link."""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.config.registry import MlflowSettings
from streams.config.settings import SettingsError, load_settings


def _load(tmp_path: Path, text: str, **environ: str) -> MlflowSettings:
    path = tmp_path / "c.yaml"
    path.write_text(text, encoding="utf-8")
    return load_settings(path, environ=environ).registry.mlflow


def test_defaults_watch_nothing() -> None:
    mlflow = load_settings(environ={}).registry.mlflow
    assert mlflow == MlflowSettings()
    assert (mlflow.tracking_uri, mlflow.poll_interval, mlflow.champion_alias,
            mlflow.reference_artifact) == (None, 30.0, "champion", "reference/reference.parquet")
    assert mlflow.model_id("anything") == "anything"  # no models listed: every one, same name


def test_values_from_the_file_and_the_environment(tmp_path: Path) -> None:
    mlflow = _load(tmp_path, "registry:\n  mlflow:\n    tracking_uri: http://m:5000\n"
                   "    poll_interval: 2m\n    champion_alias: prod\n"
                   "    reference_artifact: data/ref.csv\n"
                   "    models: {fraud-classifier: fraud}\n",
                   DRIFTLINE_REGISTRY__MLFLOW__POLL_INTERVAL="5s")
    assert mlflow.tracking_uri == "http://m:5000"
    assert mlflow.poll_interval == 5.0
    assert (mlflow.champion_alias, mlflow.reference_artifact) == ("prod", "data/ref.csv")
    assert mlflow.model_id("fraud-classifier") == "fraud"
    assert mlflow.model_id("churn") is None  # models listed: only those


@pytest.mark.parametrize(("text", "message"), [
    ("registry: {mlflow: {tracking_uri: mlflow:5000}}",
     "registry.mlflow.tracking_uri: must be an http:// or https:// URL of an MLflow tracking "
     "server, got 'mlflow:5000'"),
    ("registry: {mlflow: {poll_interval: 0}}",
     "registry.mlflow.poll_interval: must be a duration in [1s, 1d], got 0"),
    ("registry: {mlflow: {champion_alias: 'my alias'}}",
     "registry.mlflow.champion_alias: must be an alias name (1-255 of A-Z a-z 0-9 _ -), "
     "got 'my alias'"),
    ("registry: {mlflow: {reference_artifact: /abs/ref.txt}}",
     "registry.mlflow.reference_artifact: must be a relative artifact path ending in .csv, "
     ".parquet or .jsonl, got '/abs/ref.txt'"),
    ("registry: {mlflow: {models: {fraud: 'two words'}}}",
     "registry.mlflow.models.fraud: must be a driftline model id (text without spaces), "
     "got 'two words'"),
    ("registry: {mlflow: {models: {a/b: x}}}",
     "registry.mlflow.models: must be a mapping of registered model names (without '/') "
     "to model ids, got 'a/b'"),
    ("registry: {mlflow: {url: x}}",
     "unknown key 'url' in registry.mlflow (allowed: tracking_uri, poll_interval, "
     "champion_alias, reference_artifact, models)"),
    ("registry: {wandb: {}}", "unknown key 'wandb' in registry (allowed: mlflow)"),
])
def test_bad_values_are_one_line_errors(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(SettingsError) as caught:
        _load(tmp_path, text + "\n")
    assert str(caught.value) == message


def test_the_version_page_leaves_the_password_out() -> None:
    plain = MlflowSettings(tracking_uri="http://mlflow:5000/")
    secret = MlflowSettings(tracking_uri="https://ml:pw@mlflow.example/base")
    assert plain.version_url("fraud", "3") == "http://mlflow:5000/#/models/fraud/versions/3"
    assert secret.version_url("a b", "3") == "https://mlflow.example/base/#/models/a%20b/versions/3"
    assert MlflowSettings().version_url("fraud", "3") is None
