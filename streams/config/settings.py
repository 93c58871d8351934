"""Settings: one YAML file plus ``DRIFTLINE_*`` environment variables, validated at start.

The file comes from ``load_settings(path)`` or ``DRIFTLINE_CONFIG``; with neither,
the defaults serve. ``DRIFTLINE_BROKER_URL`` and ``DRIFTLINE_DATABASE_URL`` set
the two URLs, and ``DRIFTLINE_<SECTION>__<KEY>`` any nested key (``__`` between
levels, names lower-cased: ``DRIFTLINE_MODELS__FRAUD__WINDOW__GRACE=1m``). An
empty variable counts as unset; an unknown ``DRIFTLINE_*`` name is an error, except
``DRIFTLINE_TEST_*``, which the test suite uses, and the client variables
``DRIFTLINE_API_URL`` and ``DRIFTLINE_API_TOKEN`` (``CLIENT_VARIABLES``: where and
with which token the CLI reads the HTTP API, ``streams.cli.remote``), which are
not settings and are read with ``client_variable``.
Every bad value raises ``SettingsError``: one line naming the key path and the
value (passwords masked). This is the only module that reads the environment.
Durations are seconds or ``250ms``, ``30s``, ``5m``, ``1h``, ``2d``; every key,
default and variable is listed in docs/configuration.md.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal, TypeVar

import yaml

from alerting.config_values import (
    ConfigError,
    Parser,
    as_int,
    as_number,
    bad,
    check_keys,
    choice,
    duration,
    format_duration,
    integer,
    mapping,
    matching,
    optional,
    word,
)
from alerting.settings import AlertingSettings, parse_alerting
from detectors import DEFAULT_THRESHOLDS, DriftPolicy, ProfileOptions
from detectors.policy import window_alpha
from streams.config.api import ApiSettings, parse_api
from streams.config.performance import KEYS as _PERFORMANCE_KEYS
from streams.config.performance import LabelSettings, PerformanceSettings, parse_performance
from streams.config.registry import RegistrySettings, parse_registry

ENV_PREFIX = "DRIFTLINE_"
TEST_PREFIX = "DRIFTLINE_TEST_"  # reserved for the test suite (DRIFTLINE_TEST_DATABASE_URL)
CONFIG_VARIABLE = "DRIFTLINE_CONFIG"
CLIENT_VARIABLES = ("DRIFTLINE_API_URL", "DRIFTLINE_API_TOKEN")
_ENVIRON: Mapping[str, str] = os.environ  # the one read of the process environment


def client_variable(name: str, environ: Mapping[str, str] = _ENVIRON) -> str | None:
    """The value of one of the ``CLIENT_VARIABLES``; None when unset or empty."""
    if name not in CLIENT_VARIABLES:
        raise ValueError(f"{name} is not one of {', '.join(CLIENT_VARIABLES)}")
    return environ.get(name) or None

Kind = Literal["numeric", "categorical"]
T = TypeVar("T")
# One error class for every bad setting (``alerting.config_values``).
SettingsError = ConfigError


_SIZES = {"": 1, "b": 1, "kib": 1024, "mib": 1024**2, "gib": 1024**3}


def _byte_size(low: int, high: int) -> Parser:
    def parse(value: object, path: str) -> int:
        written = value if isinstance(value, str) else ""
        match = re.fullmatch(r"\s*(\d+)\s*([a-zA-Z]*)\s*", written)
        number = as_int(value)
        if match and match[2].lower() in _SIZES:
            number = int(match[1]) * _SIZES[match[2].lower()]
        if number is None or not low <= number <= high:
            raise bad(path, f"a size in bytes in [{low}, {high}] such as 1048576 or 1MiB", value)
        return number
    return parse


_topic = matching(r"(?!\.{1,2}$)[A-Za-z0-9._-]{1,249}",
               "a Kafka topic name (1-249 of A-Z a-z 0-9 . _ -)")


MIN_SPAN = 0.001  # seconds: a count window's end is at least this after its start


@dataclass(frozen=True)
class WindowSettings:
    """``models.<id>.window``: tumbling event-time windows (durations in seconds)."""

    size: float = 300.0
    count: int | None = None
    grace: float = 30.0
    idle_timeout: float = 60.0


@dataclass(frozen=True)
class ReferenceSettings:
    """``models.<id>.reference``: which window a new window is compared with."""

    policy: Literal["first_window", "previous_window"] = "first_window"


@dataclass(frozen=True)
class TopicSettings:
    """``topics``: the Kafka topics driftline reads and writes, and how to create them."""

    predictions: str = "driftline.predictions"
    labels: str = "driftline.labels"
    deadletter: str = "driftline.deadletter"
    retrain: str = "driftline.retrain"
    partitions: int = 4
    replication_factor: int = 1
    join: str = "driftline.join"
    outcomes: str = "driftline.outcomes"

    def __post_init__(self) -> None:
        seen: dict[str, str] = {}
        for key in ("predictions", "labels", "deadletter", "retrain", "join", "outcomes"):
            name = getattr(self, key)
            if name in seen:
                raise bad(f"topics.{key}", f"different from topics.{seen[name]}", name)
            seen[name] = key


@dataclass(frozen=True)
class IngestSettings:
    """``ingest``: what the batched decoder accepts (see ``streams.decoding.events``)."""

    max_event_bytes: int = 1024 * 1024
    max_future: float = 3600.0
    max_past: float = 7 * 86400.0
    unknown_models: Literal["allow", "reject"] = "allow"
    max_batch: int = 10_000
    max_features_per_model: int = 1_000
    # Model versions a worker holds open state for (``streams.ingest.model_cap``); events of
    # further versions are dead-lettered as too_many_models.
    max_models: int = 50
    # Features per model version with series on /metrics (``streams.runtime.metrics``).
    max_metric_features: int = 50
    # Events marked as a backfill (``streams.decoding.backfill``) are bounded by this instead of
    # max_past: history may be replayed, but a year-1970 timestamp is still refused.
    backfill_max_past: float = 730 * 86400.0


@dataclass(frozen=True)
class WorkerSettings:
    """``worker``: consumer group, web server, checkpoint timing (seconds), logs, health."""

    group_id: str = "driftline"
    web_host: str = "127.0.0.1"
    web_port: int = 6066
    checkpoint_interval: float = 5.0
    session_timeout: float = 6.0
    heartbeat_interval: float = 1.0
    log_format: Literal["text", "json"] = "text"
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    framework_log_level: Literal["debug", "info", "warning", "error"] = "warning"
    stall_timeout: float = 120.0
    store_failure_timeout: float = 300.0

    def __post_init__(self) -> None:
        if self.heartbeat_interval * 3 > self.session_timeout:
            limit = format_duration(self.session_timeout / 3)
            raise bad("worker.heartbeat_interval",
                       f"at most a third of worker.session_timeout ({limit})",
                       format_duration(self.heartbeat_interval))


DEFAULT_FALSE_ALARMS = (1.0, 30 * 86400.0)  # one false drift window per 30 days


@dataclass(frozen=True)
class ModelSettings:
    """``models.<id>``: the ``default`` entry with the model's own keys merged on."""

    window: WindowSettings = field(default_factory=WindowSettings)
    reference: ReferenceSettings = field(default_factory=ReferenceSettings)
    policy: DriftPolicy = field(default_factory=DriftPolicy)
    profile: ProfileOptions = field(default_factory=ProfileOptions)
    features: Mapping[str, Kind] = field(default_factory=lambda: MappingProxyType({}))
    performance: PerformanceSettings = field(default_factory=PerformanceSettings)
    # thresholds.false_alarms per thresholds.false_alarm_period (seconds)
    budget: tuple[float, float] = DEFAULT_FALSE_ALARMS

    def to_dict(self) -> dict[str, Any]:
        """This model's settings in the shape of the configuration file."""
        thresholds = {k: v for k, v in self.policy.to_dict().items()
                      if k in _POLICY_SCALARS}
        thresholds.update(zip(_BUDGET_KEYS, self.budget, strict=True))
        thresholds.update({name: {"warn": warn, "critical": critical}
                           for name, (warn, critical) in self.policy.thresholds.items()})
        return {"window": dataclasses.asdict(self.window),
                "reference": dataclasses.asdict(self.reference), "thresholds": thresholds,
                "profile": dataclasses.asdict(self.profile), "features": dict(self.features),
                "performance": self.performance.to_dict()}


DEFAULT_BROKER_URL = "kafka://localhost:9092"
DEFAULT_DATABASE_URL = "sqlite:///driftline.db"


def _default_models() -> Mapping[str, ModelSettings]:
    return MappingProxyType({"default": ModelSettings()})


@dataclass(frozen=True)
class Settings:
    """Everything driftline is configured with; build it with ``load_settings``."""

    broker_url: str = DEFAULT_BROKER_URL
    database_url: str = DEFAULT_DATABASE_URL
    topics: TopicSettings = field(default_factory=TopicSettings)
    ingest: IngestSettings = field(default_factory=IngestSettings)
    worker: WorkerSettings = field(default_factory=WorkerSettings)
    labels: LabelSettings = field(default_factory=LabelSettings)
    models: Mapping[str, ModelSettings] = field(default_factory=_default_models)
    alerting: AlertingSettings = field(default_factory=AlertingSettings)
    api: ApiSettings = field(default_factory=ApiSettings)
    registry: RegistrySettings = field(default_factory=RegistrySettings)

    def __post_init__(self) -> None:
        _brokers(self.broker_url, "broker_url")
        if not isinstance(self.database_url, str) or not re.fullmatch(
                r"[A-Za-z][A-Za-z0-9+.-]*://\S*", self.database_url):
            raise bad("database_url", "a URL such as sqlite:///driftline.db or "
                       "postgresql+psycopg://user:password@host/db", self.database_url)
        if "default" not in self.models:
            raise SettingsError("models: must have a 'default' entry", "models")
        if self.ingest.unknown_models == "reject" and not self.known_models:
            raise bad("ingest.unknown_models", "allow when no model is listed under models",
                       "reject")

    @property
    def bootstrap_servers(self) -> str:
        """The brokers as ``host:port,host:port`` (Kafka clients' ``bootstrap_servers``)."""
        return ",".join(_brokers(self.broker_url, "broker_url"))

    @property
    def known_models(self) -> frozenset[str]:
        """The model ids listed under ``models:`` (besides ``default``)."""
        return frozenset(self.models) - {"default"}

    def model(self, model_id: str) -> ModelSettings:
        """The settings of ``model_id``: its own entry, or ``default``."""
        return self.models.get(model_id, self.models["default"])


def _brokers(value: object, path: str) -> tuple[str, ...]:
    hosts: list[str] = []
    for part in re.split(r"[,;]", value) if isinstance(value, str) else [""]:
        scheme, sep, rest = part.strip().rstrip("/").rpartition("://")
        host, _, port = rest.rpartition(":") if ":" in rest else (rest, ":", "9092")
        if (sep and scheme != "kafka") or not re.fullmatch(r"[\w.\[\]:-]+", host) \
                or not port.isdigit() or not 1 <= int(port) <= 65535:
            raise bad(path, "kafka://host:port[,host:port] or host:port", value)
        hosts.append(f"{host}:{int(port)}")
    return tuple(hosts)


_WINDOW = {"size": duration(0, low_open=True), "count": optional(integer(1)),
           "grace": duration(0), "idle_timeout": duration(0, low_open=True)}
_REFERENCE = {"policy": choice("first_window", "previous_window")}
_TOPICS = {"predictions": _topic, "labels": _topic, "deadletter": _topic, "retrain": _topic,
           "join": _topic, "outcomes": _topic,
           "partitions": integer(1, 10_000), "replication_factor": integer(1, 100)}
_INGEST = {"max_event_bytes": _byte_size(64, 1024**3), "max_future": duration(0),
           "max_past": duration(0, low_open=True),
           "unknown_models": choice("allow", "reject"), "max_batch": integer(1, 1_000_000),
           "max_features_per_model": integer(1, 100_000),
           "max_models": integer(1, 100_000), "max_metric_features": integer(0, 100_000),
           "backfill_max_past": duration(0, low_open=True)}
_LEVELS = ("debug", "info", "warning", "error")
_WORKER = {"group_id": matching(r"\S+", "a non-empty name without spaces"),
           "web_host": matching(r"\S+", "a host name or address"),
           "web_port": integer(1, 65535), "checkpoint_interval": duration(0, low_open=True),
           "session_timeout": duration(6, 1800),
           "heartbeat_interval": duration(0, low_open=True),
           "log_format": word("text", "json"),
           "log_level": word(*_LEVELS), "framework_log_level": word(*_LEVELS),
           "stall_timeout": duration(1), "store_failure_timeout": duration(1)}
_LABELS = {"prediction_ttl": duration(0, low_open=True), "early_label_hold": duration(0),
           "horizon": duration(0, low_open=True), "max_batch": integer(1, 1_000_000)}


def _same(value: object) -> object:
    return value


_POLICY_SCALARS: dict[str, Callable[[object], object]] = {
    "verdict": _same, "alpha": as_number, "min_samples": as_int, "min_reference_rows": as_int,
    "drift_share_threshold": as_number, "numeric_effect": _same, "categorical_effect": _same,
    "correction": _same, "ks_method": _same}
# The false-alarm budget: the budget verdict's alpha unless ``alpha`` is given.
_BUDGET_KEYS = ("false_alarms", "false_alarm_period")
_PROFILE_KEYS = tuple(f.name for f in dataclasses.fields(ProfileOptions))
_MODEL_KEYS = ("window", "reference", "thresholds", "profile", "features", "performance")
_TOP_KEYS = ("broker_url", "database_url", "topics", "ingest", "worker", "labels", "models",
             "alerting", "api", "registry")
_SECTIONS = {"topics": (TopicSettings, _TOPICS), "ingest": (IngestSettings, _INGEST),
             "worker": (WorkerSettings, _WORKER), "labels": (LabelSettings, _LABELS)}


def _section(cls: Callable[..., T], raw: object, path: str, parsers: Mapping[str, Parser]) -> T:
    values = mapping(raw, path)
    check_keys(values, tuple(parsers), path)
    return cls(**{key: parsers[key](value, f"{path}.{key}") for key, value in values.items()})


def _detector_error(prefix: str, error: ValueError) -> SettingsError:
    """Re-raise a detectors' message (``name must ...``) at its key path."""
    name, sep, rest = str(error).partition(" must ")
    if sep and re.fullmatch(r"[a-z_][a-z0-9_.]*", name):
        path = f"{prefix}.{name.removeprefix('thresholds.')}"
        return SettingsError(f"{path}: must {rest}", path)
    return SettingsError(f"{prefix}: {error}", prefix)


def _coerce(convert: Callable[[object], object], value: object) -> object:
    """A string converted (numbers from the environment); anything else as given."""
    converted = convert(value) if isinstance(value, str) else None
    return value if converted is None else converted


def _budget(values: Mapping[Any, Any], path: str) -> tuple[float, float]:
    """``thresholds.false_alarms`` per ``thresholds.false_alarm_period``."""
    count, period = DEFAULT_FALSE_ALARMS
    if "false_alarms" in values:
        count = as_number(values["false_alarms"]) or 0.0
        if count <= 0:
            raise bad(f"{path}.false_alarms", "a number > 0", values["false_alarms"])
    if "false_alarm_period" in values:
        period = duration(0, low_open=True)(values["false_alarm_period"],
                                             f"{path}.false_alarm_period")
    return count, period


def _policy(raw: object, path: str, window: float, budget: tuple[float, float]
            ) -> DriftPolicy:
    """The verdict policy; the budget verdict's alpha follows from ``budget`` (false
    alarms per period) at the model's window size (``window`` seconds) unless ``alpha``
    is given."""
    values = mapping(raw, path)
    check_keys(values, (*_POLICY_SCALARS, *_BUDGET_KEYS, *DEFAULT_THRESHOLDS), path)
    kwargs: dict[str, Any] = {}
    pairs: dict[str, tuple[Any, Any]] = {}
    verdict = values.get("verdict", "budget")
    if verdict == "budget" and "alpha" not in values:
        kwargs["alpha"] = window_alpha(*budget, window)
    for key, value in values.items():
        if key in _BUDGET_KEYS or key == "verdict":
            continue
        if key in DEFAULT_THRESHOLDS:
            pair = mapping(value, f"{path}.{key}")
            check_keys(pair, ("warn", "critical"), f"{path}.{key}")
            warn, critical = (pair.get(k, d) for k, d in zip(
                ("warn", "critical"), DEFAULT_THRESHOLDS[key], strict=True))
            pairs[key] = (_coerce(as_number, warn), _coerce(as_number, critical))
        else:
            kwargs[key] = _coerce(_POLICY_SCALARS[key], value)
    try:
        return DriftPolicy.of(verdict, **kwargs, thresholds=pairs)
    except ValueError as error:
        raise _detector_error(path, error) from None


def _profile(raw: object, path: str) -> ProfileOptions:
    values = mapping(raw, path)
    check_keys(values, _PROFILE_KEYS, path)
    kwargs: dict[str, Any] = {key: _coerce(as_int, value) for key, value in values.items()}
    try:
        return ProfileOptions(**kwargs)
    except ValueError as error:
        raise _detector_error(path, error) from None


def _features(raw: object, path: str) -> Mapping[str, Kind]:
    kinds: dict[str, Kind] = {}
    parse = choice("numeric", "categorical")
    for name, kind in mapping(raw, path).items():
        if not isinstance(name, str) or not name:
            raise bad(path, "a mapping of feature names to kinds", name)
        kinds[name] = parse(kind, f"{path}.{name}")
    return MappingProxyType(kinds)


def _model(raw: object, path: str) -> ModelSettings:
    values = mapping(raw, path)
    check_keys(values, _MODEL_KEYS, path)
    window = _section(WindowSettings, values.get("window"), f"{path}.window", _WINDOW)
    thresholds = values.get("thresholds")
    budget = _budget(mapping(thresholds, f"{path}.thresholds"), f"{path}.thresholds")
    return ModelSettings(
        window=window,
        reference=_section(ReferenceSettings, values.get("reference"), f"{path}.reference",
                           _REFERENCE),
        policy=_policy(thresholds, f"{path}.thresholds", window.size, budget),
        budget=budget,
        profile=_profile(values.get("profile"), f"{path}.profile"),
        features=_features(values.get("features"), f"{path}.features"),
        performance=parse_performance(mapping(values.get("performance"),
                                               f"{path}.performance"),
                                      f"{path}.performance"))


def _deep_merge(base: Mapping[Any, Any], override: Mapping[Any, Any]) -> dict[Any, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            value = _deep_merge(merged[key], value)
        merged[key] = value
    return merged


def _models(raw: object) -> Mapping[str, ModelSettings]:
    values = mapping(raw, "models")
    default = mapping(values.get("default"), "models.default")
    built = {"default": _model(default, "models.default")}
    for model_id, override in values.items():
        if not isinstance(model_id, str) or not model_id:
            raise bad("models", "a mapping of model ids (text) to settings", model_id)
        if model_id != "default":
            merged = _deep_merge(default, mapping(override, f"models.{model_id}"))
            built[model_id] = _model(merged, f"models.{model_id}")
    return MappingProxyType(built)


def _build(raw: object, environ: Mapping[str, str] = _ENVIRON) -> Settings:
    values = mapping(raw, "")
    check_keys(values, _TOP_KEYS, "")
    sections = {name: _section(cls, values.get(name), name, parsers)
                for name, (cls, parsers) in _SECTIONS.items()}
    return Settings(broker_url=values.get("broker_url", DEFAULT_BROKER_URL),
                    database_url=values.get("database_url", DEFAULT_DATABASE_URL),
                    models=_models(values.get("models")),
                    alerting=parse_alerting(values.get("alerting"), environ),
                    api=parse_api(values.get("api"), environ),
                    registry=parse_registry(values.get("registry")), **sections)


class _UniqueKeyLoader(yaml.SafeLoader):
    """A safe YAML loader that refuses a key given twice in one mapping."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[object] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.MarkedYAMLError(problem=f"duplicate key {key!r}",
                                           problem_mark=key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep)


def _read_file(path: Path, origin: str) -> object:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SettingsError(f"configuration file not found: {path}{origin}") from None
    except (OSError, UnicodeDecodeError) as error:
        reason = getattr(error, "strerror", None) or error
        raise SettingsError(f"cannot read configuration file {path}{origin}: {reason}") from None
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader subclass
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        raise SettingsError(f"{where}: invalid YAML: {error.problem or error.context}") from None
    except yaml.YAMLError as error:
        raise SettingsError(f"{path}: invalid YAML: {error}") from None


def _overlay_environment(raw: dict[Any, Any], environ: Mapping[str, str]) -> dict[str, str]:
    """Write every ``DRIFTLINE_*`` value into ``raw``; return key path -> variable name."""
    sources: dict[str, str] = {}
    for name, text in sorted(environ.items()):
        if (not name.startswith(ENV_PREFIX) or name == CONFIG_VARIABLE or text == ""
                or name.startswith(TEST_PREFIX) or name in CLIENT_VARIABLES):
            continue
        keys = [part.lower() for part in name.removeprefix(ENV_PREFIX).split("__")]
        if not all(keys):
            raise SettingsError(f"{name}: empty key between '__' separators")
        node = raw
        for depth, key in enumerate(keys[:-1]):
            node[key] = dict(mapping(node.get(key), ".".join(keys[: depth + 1])))
            node = node[key]
        node[keys[-1]] = text
        sources[".".join(keys)] = name
    return sources


@dataclass(frozen=True)
class Sources:
    """What ``load_settings`` read: the file (None without one), the file's mapping as
    written, and the key path each ``DRIFTLINE_*`` variable set (path -> variable name)."""

    path: Path | None
    file: Mapping[Any, Any]
    variables: Mapping[str, str]


def load_settings(path: Path | None = None, environ: Mapping[str, str] = _ENVIRON) -> Settings:
    """Read the configuration file (``path`` or ``DRIFTLINE_CONFIG``) and the environment."""
    return load_settings_with_sources(path, environ)[0]


def load_settings_with_sources(
    path: Path | None = None, environ: Mapping[str, str] = _ENVIRON
) -> tuple[Settings, Sources]:
    """``load_settings``, and where the values came from (``driftline config check``)."""
    origin = ""
    if path is None and environ.get(CONFIG_VARIABLE):
        path, origin = Path(environ[CONFIG_VARIABLE]), f" (from {CONFIG_VARIABLE})"
    written = mapping(_read_file(path, origin), f"{path}") if path is not None else {}
    raw = dict(written)
    variables = _overlay_environment(raw, environ)
    try:
        return _build(raw, environ), Sources(path, written, MappingProxyType(variables))
    except SettingsError as error:
        for key, variable in variables.items():
            if error.path == key or error.path.startswith(f"{key}."):
                raise SettingsError(f"{error} (from {variable})", error.path) from None
        raise


def process_environment() -> Mapping[str, str]:
    """The process environment, for the few readers outside the settings
    (``streams.runtime.memory``)."""
    return _ENVIRON


def child_environment(
    overrides: Mapping[str, str], environ: Mapping[str, str] = _ENVIRON
) -> dict[str, str]:
    """The environment for a child process: ``environ`` with ``overrides`` applied."""
    return {**environ, **overrides}


# The registry keys a variable may set (``registry.mlflow.models`` is read from YAML only).
_REGISTRY_VARIABLES = ("tracking_uri", "poll_interval", "champion_alias", "reference_artifact")


def _model_keys() -> Iterator[str]:
    for section, keys in (("window", _WINDOW), ("reference", _REFERENCE),
                          ("profile", _PROFILE_KEYS),
                          ("thresholds", (*_POLICY_SCALARS, *_BUDGET_KEYS)),
                          ("performance", _PERFORMANCE_KEYS)):
        yield from (f"{section}__{key}" for key in keys)
    for statistic in DEFAULT_THRESHOLDS:
        yield from (f"thresholds__{statistic}__{level}" for level in ("warn", "critical"))


def accepted_environment_variables() -> frozenset[str]:
    """Every fixed variable name the settings accept (model overrides use ``MODELS__DEFAULT``)."""
    names = [CONFIG_VARIABLE, f"{ENV_PREFIX}BROKER_URL", f"{ENV_PREFIX}DATABASE_URL"]
    names += [f"{ENV_PREFIX}{section}__{key}" for section, (_, parsers) in _SECTIONS.items()
              for key in parsers]
    names += [f"{ENV_PREFIX}MODELS__DEFAULT__{key}" for key in _model_keys()]
    names += [f"{ENV_PREFIX}REGISTRY__MLFLOW__{key}" for key in _REGISTRY_VARIABLES]
    return frozenset(name.upper() for name in names)


def is_accepted_environment_variable(name: str) -> bool:
    """Whether ``name`` is a fixed name, a per-model override or a feature kind."""
    parts = name.removeprefix(ENV_PREFIX).split("__")
    if name in accepted_environment_variables():
        return True
    if not name.startswith(ENV_PREFIX) or len(parts) < 3 or parts[0] != "MODELS" or not parts[1]:
        return False
    as_default = ENV_PREFIX + "__".join(["MODELS", "DEFAULT", *parts[2:]])
    is_feature = len(parts) == 4 and parts[2] == "FEATURES" and bool(parts[3])
    return is_feature or as_default in accepted_environment_variables()
