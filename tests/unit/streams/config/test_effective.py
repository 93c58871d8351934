"""The effective settings: every key, secrets masked by the one list, sources of values."""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.config.effective import (
    SECRET_SETTINGS,
    effective_settings,
    leaves,
    secret_mask,
    unlisted_secrets,
    value_sources,
)
from streams.config.settings import Settings, load_settings, load_settings_with_sources

SIGNING = "whsec_ZXhhbXBsZS1zZWNyZXQta2V5"
EVERY_SECRET = f"""
database_url: postgresql://u:db-pw@h/db?password=db-pw2
alerting:
  receivers:
    s: {{type: slack, url: "https://hooks.slack.com/services/slack-path"}}
    p: {{type: pagerduty, routing_key_file: KEYFILE, url: "https://pd.example/pd-path"}}
    w: {{type: webhook, url: "https://w.example/w-path", signing_secret_env: WEBHOOK_SECRET}}
    d: {{type: deployer, url: "https://d.example/d-path", signing_secret: {SIGNING}}}
  retrain: {{signing_secret: {SIGNING}}}
registry:
  mlflow: {{tracking_uri: "https://ml:mlflow-pw@mlflow.example"}}
"""
SECRET_TEXTS = ("db-pw", "db-pw2", "slack-path", "routing-file-key", "pd-path",
                "w-path", "d-path", "ZXhhbXBsZS1zZWNyZXQta2V5", "d2ViaG9vay1rZXk",
                "mlflow-pw")


@pytest.fixture
def every_secret(tmp_path: Path) -> Settings:
    key_file = tmp_path / "key"
    key_file.write_text("routing-file-key\n", encoding="utf-8")
    path = tmp_path / "c.yaml"
    path.write_text(EVERY_SECRET.replace("KEYFILE", str(key_file)), encoding="utf-8")
    return load_settings(path, environ={"WEBHOOK_SECRET": "whsec_d2ViaG9vay1rZXk="})


def test_every_secret_is_masked(every_secret: Settings) -> None:
    shown = effective_settings(every_secret)
    assert all(secret not in repr(shown) for secret in SECRET_TEXTS)
    assert shown["database_url"] == "postgresql://u:***@h/db?password=***"
    receivers = shown["alerting"]["receivers"]
    assert receivers["s"]["url"] == "https://hooks.slack.com/***"
    assert receivers["p"] == {"type": "pagerduty", "url": "https://pd.example/***",
                              "routing_key": "***", "timeout": 10.0}
    assert receivers["w"]["signing_secret"] == receivers["d"]["signing_secret"] == "***"
    assert shown["alerting"]["retrain"]["signing_secret"] == "***"
    assert shown["registry"]["mlflow"]["tracking_uri"] == "https://ml:***@mlflow.example"


def test_the_secret_list_covers_every_secret_value(every_secret: Settings) -> None:
    assert unlisted_secrets(every_secret) == []
    masked = {path for path, _ in leaves(effective_settings(every_secret))
              if secret_mask(path) is not None}
    # the three URLs, four receivers' URLs, a routing key and three signing secrets
    assert len(masked) == 11
    assert all(pattern.count("*") <= 1 for pattern in SECRET_SETTINGS)


def test_an_unlisted_secret_would_be_named(every_secret: Settings,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    import streams.config.effective as effective

    shorter = {k: v for k, v in SECRET_SETTINGS.items() if k != "alerting.retrain.signing_secret"}
    monkeypatch.setattr(effective, "SECRET_SETTINGS", shorter)
    assert unlisted_secrets(every_secret) == ["alerting.retrain.signing_secret"]
    assert effective_settings(every_secret)["alerting"]["retrain"]["signing_secret"] == "***"


def test_every_key_is_shown_and_loads_back(tmp_path: Path) -> None:
    shown = effective_settings(Settings())
    assert set(shown) == {"broker_url", "database_url", "topics", "ingest", "worker", "labels",
                          "models", "alerting", "api", "registry"}
    assert shown["api"] == {"open_reads": False, "max_page": 1000, "tokens": {}}
    assert shown["alerting"] == {
        "grafana_url": None, "receivers": {}, "rules": [],
        "dispatch": {"max_attempts": 10, "base_delay": 1.0, "max_delay": 300.0, "batch": 50,
                     "lease": 60.0, "poll_interval": 0.5},
        "retrain": {"cooldown": 86400.0, "topic": True}}


def test_sources_follow_the_models_default_and_the_environment(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("models:\n  default: {window: {grace: 5s}}\n  fraud: {window: {size: 1m}}\n"
                    "worker: {web_port: 7000}\n", encoding="utf-8")
    environ = {"DRIFTLINE_MODELS__DEFAULT__PROFILE__BINS": "20",
               "DRIFTLINE_WORKER__WEB_PORT": "7100"}
    settings, read = load_settings_with_sources(path, environ)
    sources = value_sources(settings, read)
    assert sources["models.fraud.window.size"] == "file"
    assert sources["models.fraud.window.grace"] == "file"  # from models.default
    assert sources["models.fraud.window.idle_timeout"] == "default"
    assert sources["models.fraud.profile.bins"] == "env DRIFTLINE_MODELS__DEFAULT__PROFILE__BINS"
    assert sources["worker.web_port"] == "env DRIFTLINE_WORKER__WEB_PORT"
    assert sources["broker_url"] == "default"
    assert set(sources) == {path for path, _ in leaves(effective_settings(settings))}
    assert read.path == path
    assert read.variables == {
        "models.default.profile.bins": "DRIFTLINE_MODELS__DEFAULT__PROFILE__BINS",
        "worker.web_port": "DRIFTLINE_WORKER__WEB_PORT"}
