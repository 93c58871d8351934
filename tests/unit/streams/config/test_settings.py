"""Settings: defaults, the YAML file, ``DRIFTLINE_*`` overrides and one-line errors."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from alerting.config_values import parse_duration
from detectors import DriftPolicy, ProfileOptions
from streams.config.effective import effective_settings
from streams.config.settings import (
    IngestSettings,
    ModelSettings,
    Settings,
    SettingsError,
    TopicSettings,
    WindowSettings,
    WorkerSettings,
    accepted_environment_variables,
    child_environment,
    client_variable,
    is_accepted_environment_variable,
    load_settings,
)

ROOT = Path(__file__).resolve().parents[4]
DOCS = ROOT / "docs" / "configuration.md"


def _load(tmp_path: Path, text: str | None = None, **environ: str) -> Settings:
    path = None
    if text is not None:
        path = tmp_path / "driftline.yaml"
        path.write_text(text, encoding="utf-8")
    return load_settings(path, environ=environ)


def _error(tmp_path: Path, text: str | None = None, **environ: str) -> str:
    with pytest.raises(SettingsError) as caught:
        _load(tmp_path, text, **environ)
    message = str(caught.value)
    assert "\n" not in message
    return message


# ----- defaults ------------------------------------------------------------------------
def test_defaults_without_a_file_serve_a_new_user() -> None:
    settings = load_settings(environ={})
    assert settings == Settings()
    assert settings.broker_url == "kafka://localhost:9092"
    assert settings.bootstrap_servers == "localhost:9092"
    assert settings.database_url == "sqlite:///driftline.db"
    assert settings.topics == TopicSettings("driftline.predictions", "driftline.labels",
                                            "driftline.deadletter", "driftline.retrain", 4, 1)
    assert settings.ingest == IngestSettings(1024 * 1024, 3600.0, 7 * 86400.0, "allow", 10_000)
    assert settings.worker == WorkerSettings("driftline", "127.0.0.1", 6066, 5.0, 6.0, 1.0)
    model = settings.model("anything")
    assert model.window == WindowSettings(size=300.0, count=None, grace=30.0, idle_timeout=60.0)
    assert model.reference.policy == "first_window"
    assert model.policy == DriftPolicy()
    assert model.profile == ProfileOptions()
    assert model.profile.sample_cap == 100_000
    assert dict(model.features) == {}
    assert settings.known_models == frozenset()


def test_empty_file_and_empty_config_variable_give_defaults(tmp_path: Path) -> None:
    assert _load(tmp_path, "") == Settings()
    assert load_settings(environ={"DRIFTLINE_CONFIG": ""}) == Settings()


# ----- the file ----------------------------------------------------------------------------
FULL = """
broker_url: kafka://k1:9092,k2:9093
database_url: postgresql+psycopg://driftline:s3cret@db:5432/driftline
topics: {predictions: p, labels: l, deadletter: d, retrain: r, partitions: 8,
         replication_factor: 3}
ingest: {max_event_bytes: 512KiB, max_future: 10m, max_past: 2d, unknown_models: reject,
         max_batch: 500}
worker: {group_id: g, web_host: 0.0.0.0, web_port: 7000, checkpoint_interval: 250ms,
         session_timeout: 10s, heartbeat_interval: 2s}
models:
  default:
    window: {size: 1m, grace: 5s, idle_timeout: 2m}
    reference: {policy: previous_window}
    thresholds:
      alpha: 0.01
      min_samples: 50
      numeric_effect: wasserstein
      drift_share_threshold: 0.3
      psi: {warn: 0.2}
    profile: {bins: 20, sample_cap: 5000, top_k: 10, max_unseen: 7}
    features: {zip: categorical}
  fraud:
    window: {count: 1000}
    thresholds: {psi: {critical: 0.5}}
    features: {age: numeric}
"""


def test_file_sets_every_section(tmp_path: Path) -> None:
    settings = _load(tmp_path, FULL)
    assert settings.bootstrap_servers == "k1:9092,k2:9093"
    assert settings.topics == TopicSettings("p", "l", "d", "r", 8, 3)
    assert settings.ingest == IngestSettings(512 * 1024, 600.0, 172800.0, "reject", 500)
    assert settings.worker == WorkerSettings("g", "0.0.0.0", 7000, 0.25, 10.0, 2.0)
    default = settings.model("other")
    assert default.window == WindowSettings(size=60.0, count=None, grace=5.0, idle_timeout=120.0)
    assert default.reference.policy == "previous_window"
    assert (default.policy.alpha, default.policy.min_samples) == (0.01, 50)
    assert default.policy.numeric_effect == "wasserstein"
    assert default.policy.drift_share_threshold == 0.3
    assert default.policy.thresholds["psi"] == (0.2, 0.25)
    assert default.profile == ProfileOptions(bins=20, sample_cap=5000, top_k=10, max_unseen=7)
    assert settings.known_models == frozenset({"fraud"})


def test_model_overrides_are_deep_merged_onto_default(tmp_path: Path) -> None:
    fraud = _load(tmp_path, FULL).model("fraud")
    assert fraud.window == WindowSettings(size=60.0, count=1000, grace=5.0, idle_timeout=120.0)
    assert fraud.policy.thresholds["psi"] == (0.2, 0.5)  # warn from default, critical its own
    assert fraud.policy.alpha == 0.01
    assert dict(fraud.features) == {"zip": "categorical", "age": "numeric"}
    assert fraud.profile.bins == 20


def test_model_without_default_section_inherits_builtin_defaults(tmp_path: Path) -> None:
    settings = _load(tmp_path, "models:\n  churn:\n    window: {size: 10m}\n")
    assert settings.model("churn").window.size == 600.0
    assert settings.model("churn").window.grace == 30.0
    assert settings.model("other") == ModelSettings()


def test_config_file_can_come_from_the_environment(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("worker: {web_port: 7001}\n", encoding="utf-8")
    assert load_settings(environ={"DRIFTLINE_CONFIG": str(path)}).worker.web_port == 7001
    other = tmp_path / "d.yaml"
    other.write_text("worker: {web_port: 7002}\n", encoding="utf-8")
    explicit = load_settings(other, environ={"DRIFTLINE_CONFIG": str(path)})
    assert explicit.worker.web_port == 7002


# ----- environment overrides -------------------------------------------------------------
def test_environment_overrides_top_level_and_nested_keys(tmp_path: Path) -> None:
    settings = _load(
        tmp_path, FULL,
        DRIFTLINE_BROKER_URL="b1:1,b2:2", DRIFTLINE_DATABASE_URL="sqlite:///Data/X.db",
        DRIFTLINE_TOPICS__LABELS="Labels",
        DRIFTLINE_WORKER__WEB_PORT="7000", DRIFTLINE_TOPICS__PARTITIONS="16",
        DRIFTLINE_INGEST__MAX_FUTURE="90s", DRIFTLINE_MODELS__FRAUD__WINDOW__GRACE="1m",
        DRIFTLINE_MODELS__DEFAULT__THRESHOLDS__ALPHA="0.02",
        DRIFTLINE_MODELS__DEFAULT__THRESHOLDS__PSI__WARN="0.15",
        DRIFTLINE_MODELS__DEFAULT__PROFILE__BINS="12",
        DRIFTLINE_MODELS__FRAUD__WINDOW__COUNT="none",
        DRIFTLINE_MODELS__FRAUD__FEATURES__COUNTRY="categorical",
        HOME="/root", KAFKA_HEAP_OPTS="-Xmx1g")
    assert settings.bootstrap_servers == "b1:1,b2:2"
    assert settings.database_url == "sqlite:///Data/X.db"
    assert settings.topics.labels == "Labels"
    assert settings.worker.web_port == 7000
    assert settings.topics.partitions == 16
    assert settings.ingest.max_future == 90.0
    fraud = settings.model("fraud")
    assert fraud.window.grace == 60.0
    assert fraud.window.count is None
    assert fraud.policy.alpha == 0.02
    assert fraud.policy.thresholds["psi"] == (0.15, 0.5)
    assert fraud.profile.bins == 12
    assert fraud.features["country"] == "categorical"


def test_environment_adds_a_model_and_empty_values_count_as_unset(tmp_path: Path) -> None:
    settings = _load(tmp_path, None, DRIFTLINE_MODELS__CHURN__WINDOW__SIZE="2h",
                     DRIFTLINE_WORKER__WEB_PORT="")
    assert settings.model("churn").window.size == 7200.0
    assert settings.worker.web_port == 6066


def test_every_accepted_variable_is_parsed_by_its_field_type() -> None:
    defaults = effective_settings(Settings())
    for name in sorted(accepted_environment_variables() - {"DRIFTLINE_CONFIG"}):
        node: Any = defaults
        for key in name.removeprefix("DRIFTLINE_").lower().split("__"):
            node = node[key]
        text = "none" if node is None else str(node)
        assert load_settings(environ={name: text}) == Settings(), name


def test_accepted_environment_variables_list_fixed_names() -> None:
    names = accepted_environment_variables()
    expected = {"DRIFTLINE_CONFIG", "DRIFTLINE_BROKER_URL", "DRIFTLINE_DATABASE_URL",
                "DRIFTLINE_WORKER__WEB_PORT", "DRIFTLINE_TOPICS__PARTITIONS",
                "DRIFTLINE_INGEST__UNKNOWN_MODELS", "DRIFTLINE_MODELS__DEFAULT__WINDOW__GRACE",
                "DRIFTLINE_MODELS__DEFAULT__THRESHOLDS__PSI__CRITICAL",
                "DRIFTLINE_MODELS__DEFAULT__PROFILE__SAMPLE_CAP"}
    assert expected <= names
    assert all(re.fullmatch(r"DRIFTLINE_[A-Z_]+", name) for name in names)
    assert "DRIFTLINE_WORKER__WEB_PROT" not in names


@pytest.mark.parametrize(("name", "accepted"), [
    ("DRIFTLINE_WORKER__WEB_PORT", True),
    ("DRIFTLINE_MODELS__FRAUD__WINDOW__SIZE", True),
    ("DRIFTLINE_MODELS__FRAUD__FEATURES__AMOUNT", True),
    ("DRIFTLINE_MODELS__FRAUD__PERFORMANCE__ALERT_AFTER", True),
    ("DRIFTLINE_MODELS__FRAUD__WINDOW__SIZ", False),
    ("DRIFTLINE_MODELS____WINDOW__SIZE", False),
    ("DRIFTLINE_WORKER__WEB_PROT", False),
    ("WORKER__WEB_PORT", False),
])
def test_is_accepted_environment_variable(name: str, accepted: bool) -> None:
    assert is_accepted_environment_variable(name) is accepted


# ----- durations -------------------------------------------------------------------------
@pytest.mark.parametrize(("value", "seconds"), [
    ("250ms", 0.25), ("30s", 30.0), ("5m", 300.0), ("1h", 3600.0), ("2d", 172800.0),
    (45, 45.0), (1.5, 1.5), ("90", 90.0), (" 1.5m ", 90.0),
])
def test_durations(value: object, seconds: float) -> None:
    assert parse_duration(value) == seconds


@pytest.mark.parametrize("value", ["abc", "5 minutes", "-1s", "1w", "", True, None, [1]])
def test_unreadable_durations(value: object) -> None:
    assert parse_duration(value) is None


# ----- validation messages ---------------------------------------------------------------
ALLOWED_MODEL = "window, reference, thresholds, profile, features, performance"


@pytest.mark.parametrize(("text", "message"), [
    ("models:\n  fraud:\n    window: {grace: abc}\n",
     "models.fraud.window.grace: must be a duration such as 30s or 5m, got 'abc'"),
    ("worker: {web_port: 70000}\n",
     "worker.web_port: must be an integer in [1, 65535], got 70000"),
    ("worker: {web_port: true}\n", "worker.web_port: must be an integer in [1, 65535], got True"),
    ("topics: {partitions: 0}\n", "topics.partitions: must be an integer in [1, 10000], got 0"),
    ("topics: {labels: 'bad topic'}\n", "topics.labels: must be a Kafka topic name "
     "(1-249 of A-Z a-z 0-9 . _ -), got 'bad topic'"),
    ("topics: {labels: driftline.predictions}\n",
     "topics.labels: must be different from topics.predictions, got 'driftline.predictions'"),
    ("models:\n  default:\n    windw: {}\n",
     f"unknown key 'windw' in models.default (allowed: {ALLOWED_MODEL})"),
    ("colour: blue\n", "unknown key 'colour' in the configuration (allowed: broker_url, "
     "database_url, topics, ingest, worker, labels, models, alerting, api, registry)"),
    ("models:\n  default:\n    window: {size: 0}\n",
     "models.default.window.size: must be a duration > 0s, got 0"),
    ("models:\n  default:\n    window: {count: 0}\n",
     "models.default.window.count: must be an integer >= 1, got 0"),
    ("models:\n  default:\n    reference: {policy: latest}\n",
     "models.default.reference.policy: must be one of first_window, previous_window, "
     "got 'latest'"),
    ("models:\n  m:\n    features: {age: number}\n",
     "models.m.features.age: must be one of numeric, categorical, got 'number'"),
    ("ingest: {unknown_models: deny}\n",
     "ingest.unknown_models: must be one of allow, reject, got 'deny'"),
    ("ingest: {unknown_models: reject}\n",
     "ingest.unknown_models: must be allow when no model is listed under models, got 'reject'"),
    ("ingest: {max_event_bytes: 1TiB}\n", "ingest.max_event_bytes: must be a size in bytes in "
     "[64, 1073741824] such as 1048576 or 1MiB, got '1TiB'"),
    ("worker: {session_timeout: 1s}\n",
     "worker.session_timeout: must be a duration in [6s, 30m], got '1s'"),
    ("worker: {heartbeat_interval: 3s}\n", "worker.heartbeat_interval: must be at most a third "
     "of worker.session_timeout (2s), got '3s'"),
    ("worker: 5\n", "worker: must be a mapping of keys, got 5"),
    ("broker_url: http://k:9092\n",
     "broker_url: must be kafka://host:port[,host:port] or host:port, got 'http://k:9092'"),
    ("broker_url: 'k:99999'\n",
     "broker_url: must be kafka://host:port[,host:port] or host:port, got 'k:99999'"),
])
def test_validation_messages_name_the_key_and_the_value(
    tmp_path: Path, text: str, message: str
) -> None:
    assert _error(tmp_path, text) == message


@pytest.mark.parametrize(("text", "message"), [
    ("models:\n  fraud:\n    thresholds: {alpha: 2}\n",
     "models.fraud.thresholds.alpha: must be a number in (0.0, 1.0), got 2"),
    ("models:\n  fraud:\n    thresholds: {psi: {warn: 0.3}}\n",
     "models.fraud.thresholds.psi.critical: must be a number in [0.3, inf], got 0.25"),
    ("models:\n  default:\n    thresholds: {numeric_effect: mean}\n",
     "models.default.thresholds.numeric_effect: must be one of psi, wasserstein, ks_statistic, "
     "js_distance, hellinger; got 'mean'"),
    ("models:\n  default:\n    profile: {bins: 1}\n",
     "models.default.profile.bins: must be an integer in [2, 1000], got 1"),
    ("models:\n  default:\n    thresholds: {psi: {wran: 1}}\n",
     "unknown key 'wran' in models.default.thresholds.psi (allowed: warn, critical)"),
])
def test_detector_errors_are_reraised_at_their_key_path(
    tmp_path: Path, text: str, message: str
) -> None:
    assert _error(tmp_path, text) == message


@pytest.mark.parametrize(("environ", "message"), [
    ({"DRIFTLINE_WORKER__WEB_PORT": "70000"}, "worker.web_port: must be an integer in "
     "[1, 65535], got '70000' (from DRIFTLINE_WORKER__WEB_PORT)"),
    ({"DRIFTLINE_MODELS__FRAUD__WINDOW__GRACE": "abc"},
     "models.fraud.window.grace: must be a duration such as 30s or 5m, got 'abc' "
     "(from DRIFTLINE_MODELS__FRAUD__WINDOW__GRACE)"),
    ({"DRIFTLINE_MODELS__DEFAULT__THRESHOLDS__ALPHA": "x"},
     "models.default.thresholds.alpha: must be a number in (0.0, 1.0), got 'x' "
     "(from DRIFTLINE_MODELS__DEFAULT__THRESHOLDS__ALPHA)"),
    ({"DRIFTLINE_WORKER__WEB_PROT": "7000"}, "unknown key 'web_prot' in worker (allowed: "
     "group_id, web_host, web_port, checkpoint_interval, session_timeout, heartbeat_interval, "
     "log_format, log_level, framework_log_level, stall_timeout, store_failure_timeout) "
     "(from DRIFTLINE_WORKER__WEB_PROT)"),
    ({"DRIFTLINE_TOKEN": "x"}, "unknown key 'token' in the configuration (allowed: broker_url, "
     "database_url, topics, ingest, worker, labels, models, alerting, api, registry) "
     "(from DRIFTLINE_TOKEN)"),
    ({"DRIFTLINE_WORKER____PORT": "1"}, "DRIFTLINE_WORKER____PORT: empty key between '__' "
     "separators"),
])
def test_environment_errors_name_the_variable(
    tmp_path: Path, environ: dict[str, str], message: str
) -> None:
    assert _error(tmp_path, None, **environ) == message


def test_yaml_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    message = _error(tmp_path, "worker:\n  web_port: 1\n  web_host: [\n")
    assert message.startswith(f"{tmp_path / 'driftline.yaml'}:4:1: invalid YAML: ")


def test_duplicate_yaml_key_is_an_error(tmp_path: Path) -> None:
    message = _error(tmp_path, "worker: {}\nworker: {}\n")
    assert message == f"{tmp_path / 'driftline.yaml'}:2:1: invalid YAML: duplicate key 'worker'"


def test_top_level_must_be_a_mapping(tmp_path: Path) -> None:
    message = _error(tmp_path, "- 1\n")
    assert message == f"{tmp_path / 'driftline.yaml'}: must be a mapping of keys, got [1]"


def test_missing_file_names_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(SettingsError, match=r"^configuration file not found: .*nope\.yaml$"):
        load_settings(missing, environ={})
    with pytest.raises(SettingsError) as caught:
        load_settings(environ={"DRIFTLINE_CONFIG": str(missing)})
    assert str(caught.value) == f"configuration file not found: {missing} (from DRIFTLINE_CONFIG)"


def test_settings_error_is_a_value_error_with_a_path(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="web_port") as caught:
        _load(tmp_path, "worker: {web_port: 0}\n")
    assert isinstance(caught.value, SettingsError)
    assert caught.value.path == "worker.web_port"


# ----- passwords ---------------------------------------------------------------------------
def test_effective_settings_mask_passwords_and_round_trips(tmp_path: Path) -> None:
    settings = _load(tmp_path, FULL)
    shown = effective_settings(settings)
    assert shown["database_url"] == "postgresql+psycopg://driftline:***@db:5432/driftline"
    assert "s3cret" not in repr(shown)
    again = _load(tmp_path, yaml.safe_dump(shown))
    assert again.model("fraud") == settings.model("fraud")
    assert (again.topics, again.ingest, again.worker) == (
        settings.topics, settings.ingest, settings.worker)


@pytest.mark.parametrize("url", [
    "postgresql//user:s3cret@host/db", "postgres ql://user:s3cret@host/db",
    "mysql:user:s3cret@host", "postgresql://h/db?password=s3cret&x=1 x",
])
def test_errors_never_echo_a_password(tmp_path: Path, url: str) -> None:
    from_file = _error(tmp_path, yaml.safe_dump({"database_url": url}))
    from_env = _error(tmp_path, None, DRIFTLINE_DATABASE_URL=url)
    for message in (from_file, from_env):
        assert message.startswith("database_url: must be a URL")
        assert "s3cret" not in message
        assert "***" in message


def test_yaml_error_does_not_echo_the_line(tmp_path: Path) -> None:
    message = _error(tmp_path, "database_url: postgresql://u:s3cret@h/db: [\n")
    assert "s3cret" not in message


# ----- docs and house rules -------------------------------------------------------------------
def test_docs_list_every_variable_and_their_example_loads(tmp_path: Path) -> None:
    text = DOCS.read_text(encoding="utf-8")
    missing = sorted(n for n in accepted_environment_variables() if f"`{n}`" not in text)
    assert missing == []
    examples = re.findall(r"```yaml\n(.*?)```", text, flags=re.DOTALL)
    assert examples
    for example in examples:
        settings = _load(tmp_path, example)
        assert isinstance(settings, Settings)


def _environment_reads(path: Path) -> int:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    reads = 0
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) \
                and node.value.id == "os" and node.attr in ("environ", "getenv", "environb"):
            reads += 1
        elif isinstance(node, ast.ImportFrom) and node.module == "os":
            reads += sum(a.name in ("environ", "getenv", "environb") for a in node.names)
    return reads


def test_settings_reads_the_environment_once_and_the_event_path_never() -> None:
    assert _environment_reads(ROOT / "streams" / "config" / "settings.py") == 1
    for name in ("decoding/events.py", "decoding/columns.py", "decoding/fastdecode.py"):
        assert _environment_reads(ROOT / "streams" / name) == 0


def test_the_clis_api_variables_are_not_settings() -> None:
    """``DRIFTLINE_API_URL`` and ``DRIFTLINE_API_TOKEN`` (``driftline windows --api``) in
    an engineer's shell do not make the settings fail, and are read as they are."""
    environ = {"DRIFTLINE_API_URL": "http://api:8000", "DRIFTLINE_API_TOKEN": "t-1"}
    assert load_settings(environ=environ) == Settings()
    assert client_variable("DRIFTLINE_API_TOKEN", environ) == "t-1"
    assert client_variable("DRIFTLINE_API_URL", {"DRIFTLINE_API_URL": ""}) is None
    with pytest.raises(ValueError, match="not one of"):
        client_variable("DRIFTLINE_DATABASE_URL", environ)
    with pytest.raises(SettingsError, match="api_tokens"):
        load_settings(environ={"DRIFTLINE_API_TOKENS": "t-1"})  # a near miss still fails


def test_child_environment_copies_the_given_environment() -> None:
    parent = {"PATH": "/bin", "DRIFTLINE_BROKER_URL": "a:1"}
    child = child_environment({"DRIFTLINE_BROKER_URL": "b:2"}, environ=parent)
    assert child == {"PATH": "/bin", "DRIFTLINE_BROKER_URL": "b:2"}
    assert parent["DRIFTLINE_BROKER_URL"] == "a:1"


def test_environment_read_checker_sees_reads(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text("import os\nfrom os import getenv\nx = os.environ['A']\n", encoding="utf-8")
    assert _environment_reads(probe) == 2


# ----- performance.detector_delay ---------------------------------------------------------
def test_detector_delay_defaults_to_15_minutes_and_reads_durations(tmp_path: Path) -> None:
    assert _load(tmp_path).model("fraud").performance.detector_delay == 900.0
    text = "models:\n  fraud:\n    performance: {detector_delay: 1h}\n"
    assert _load(tmp_path, text).model("fraud").performance.detector_delay == 3600.0
    from_env = _load(tmp_path, None,
                     DRIFTLINE_MODELS__DEFAULT__PERFORMANCE__DETECTOR_DELAY="0s")
    assert from_env.model("fraud").performance.detector_delay == 0.0


@pytest.mark.parametrize("value", ["-5m", "soon", "true"])
def test_a_bad_detector_delay_names_the_key_and_the_value(tmp_path: Path, value: str) -> None:
    text = f"models:\n  fraud:\n    performance: {{detector_delay: {value}}}\n"
    assert _error(tmp_path, text).startswith(
        "models.fraud.performance.detector_delay: must be a duration >= 0 such as 15m, got ")


def test_the_false_alarm_budget_sets_alpha_at_the_model_window_size() -> None:
    default = load_settings(None, {}).model("m").policy
    assert default.verdict == "budget"
    assert default.alpha == pytest.approx(300 / (30 * 86400))
    hourly = load_settings(None, {
        "DRIFTLINE_MODELS__DEFAULT__WINDOW__SIZE": "1h",
        "DRIFTLINE_MODELS__DEFAULT__THRESHOLDS__FALSE_ALARMS": "2",
        "DRIFTLINE_MODELS__DEFAULT__THRESHOLDS__FALSE_ALARM_PERIOD": "1d"}).model("m")
    assert hourly.policy.alpha == pytest.approx(2 * 3600 / 86400)
    assert hourly.budget == (2.0, 86400.0)
    given = load_settings(None, {"DRIFTLINE_MODELS__DEFAULT__THRESHOLDS__ALPHA": "0.01",
                                 "DRIFTLINE_MODELS__DEFAULT__THRESHOLDS__FALSE_ALARMS": "5"})
    assert given.model("m").policy.alpha == 0.01  # given, alpha wins over the budget
    classic = load_settings(None, {"DRIFTLINE_MODELS__DEFAULT__THRESHOLDS__VERDICT": "classic"})
    assert classic.model("m").policy == DriftPolicy.of("classic")


@pytest.mark.parametrize(("key", "value", "message"), [
    ("FALSE_ALARMS", "0", "models.default.thresholds.false_alarms: must be a number > 0, got"),
    ("FALSE_ALARM_PERIOD", "soon",
     "models.default.thresholds.false_alarm_period: must be a duration"),
    ("VERDICT", "strict", "models.default.thresholds.verdict: must be one of budget, classic"),
])
def test_a_bad_budget_names_its_key_and_value(key: str, value: str, message: str) -> None:
    with pytest.raises(SettingsError, match=re.escape(message)):
        load_settings(None, {f"DRIFTLINE_MODELS__DEFAULT__THRESHOLDS__{key}": value})
