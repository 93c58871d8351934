"""Alert rules: the ``alerting.rules`` list of the configuration, parsed and validated.

``parse_rules`` takes the list as a safe YAML loader gives it and returns frozen
``Rule`` values, or raises ``AlertingConfigError`` with one line that names the
rule, the key and the bad value, e.g.
``alerting.rules[2] (psi-critical).resolve_below: must be at most above (0.25), got 0.3``.

Decided here (docs/alerting.md, "Rules", says the same for users):

- A numeric metric needs exactly one of ``above`` / ``below``. Boolean metrics
  (``feature.drifted``, ``dataset_drift``) take neither: true is a breach
  (stored as ``above: 0`` over the values 1.0 / 0.0). ``concept_drift`` without a
  threshold means ``above: 0``. ``no_data`` takes no threshold but ``after``.
- ``resolve_below`` goes with ``above`` and ``resolve_above`` with ``below``; it
  may equal the threshold (the default) but not lie past it.
- ``for`` / ``resolve_for`` / ``features`` / ``above`` / ``below`` do not apply to
  ``no_data`` and are refused there, so a rule cannot promise what it will not do.
- Scope lists (``models``, ``versions``, ``features``) are absent (everything) or
  non-empty lists of names; integers are read as names, because ``versions: [3]``
  is how people write it. An empty scope list is refused: it would match nothing.
- ``receivers`` may be empty (the state is still kept and shown), and every name
  must be a configured receiver.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import urlsplit

from alerting.config_values import (
    ConfigError,
    Parser,
    bad,
    choice,
    duration,
    flag,
    integer,
    matching,
    show,
)
from alerting.metrics import METRICS, Metric, Source
from alerting.model import SEVERITIES, AlertingConfigError, Severity

NAME_PATTERN = r"[a-z0-9][a-z0-9_.-]*"
KEYS = ("name", "metric", "above", "below", "resolve_below", "resolve_above", "for",
        "resolve_for", "severity", "cooldown", "models", "versions", "features", "receivers",
        "runbook_url", "retrain", "after")
NOT_FOR_NO_DATA = ("above", "below", "resolve_below", "resolve_above", "for", "resolve_for",
                   "features")
_COUNT = integer(1, text=False)
_DURATION = duration(0, expected="a duration >= 0 such as 30s or 15m")
_POSITIVE = duration(0, low_open=True, expected="a duration > 0 such as 30s or 15m")


@dataclass(frozen=True)
class Rule:
    """One validated alert rule (build it with ``parse_rules``).

    ``above`` / ``below`` is the firing threshold (exactly one is set, except for
    ``no_data``); ``resolve_below`` / ``resolve_above`` the resolve threshold when
    it differs from it. ``for_`` is the config key ``for``. A scope of None means
    every model, version or feature. ``cooldown`` and ``after`` are seconds.
    """

    name: str
    metric: str
    above: float | None = None
    below: float | None = None
    resolve_below: float | None = None
    resolve_above: float | None = None
    for_: int = 1
    resolve_for: int = 1
    severity: Severity = "warning"
    cooldown: float = 0.0
    models: tuple[str, ...] | None = None
    versions: tuple[str, ...] | None = None
    features: tuple[str, ...] | None = None
    receivers: tuple[str, ...] = ()
    runbook_url: str | None = None
    retrain: bool = False
    after: float | None = None

    @property
    def spec(self) -> Metric:
        return METRICS[self.metric]

    @property
    def source(self) -> Source:
        """Which facts the rule reads: ``drift``, ``performance`` or ``silence`` (no_data)."""
        return self.spec.source

    @property
    def per_feature(self) -> bool:
        return self.spec.per_feature

    @property
    def threshold(self) -> float:
        """The firing threshold (``after`` in seconds for no_data)."""
        for value in (self.above, self.below, self.after):
            if value is not None:
                return value
        raise ValueError(f"rule {self.name!r} has no threshold")

    def breaches(self, value: float) -> bool:
        """Strictly past the threshold: ``above`` v > t, ``below`` v < t."""
        if self.below is not None:
            return value < self.below
        return value > self.threshold

    def clears(self, value: float) -> bool:
        """Past the resolve threshold (``resolve_below`` v < r); without one, not a breach."""
        if self.resolve_below is not None:
            return value < self.resolve_below
        if self.resolve_above is not None:
            return value > self.resolve_above
        return not self.breaches(value)

    def matches(self, model_id: str, version: str, feature: str = "") -> bool:
        """True when (model, version, feature) is in the rule's scope.

        The feature scope applies to per-feature rules only; feature ``""`` checks
        the model and version alone.
        """
        if self.models is not None and model_id not in self.models:
            return False
        if self.versions is not None and version not in self.versions:
            return False
        return not (feature and self.features is not None and feature not in self.features)


def _suggest(word: str, options: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(options), n=1)
    return f", did you mean {close[0]!r}?" if close else ""


class _Reader:
    """Reads the keys of one rule; its errors name the rule, the key and the value."""

    def __init__(self, raw: Mapping[Any, Any], path: str, index: int) -> None:
        self.raw = raw
        self.base = f"{path}[{index}]"
        self.label = self.base

    def error(self, key: str, message: str) -> AlertingConfigError:
        return AlertingConfigError(f"{self.label}.{key}: {message}", f"{self.base}.{key}")

    def bad_value(self, key: str, expected: str, value: object) -> AlertingConfigError:
        error = bad(f"{self.label}.{key}", expected, value)
        error.path = f"{self.base}.{key}"
        return error

    def read(self, key: str, parser: Parser, default: object) -> Any:
        """``parser`` on the key's value (``default`` when absent); the message names the
        rule, ``path`` stays the plain key path."""
        try:
            return parser(self.raw.get(key, default), f"{self.label}.{key}")
        except ConfigError as error:
            error.path = f"{self.base}.{key}"
            raise

    def text(self, key: str, pattern: str, expected: str) -> str:
        if key not in self.raw:
            raise self.error(key, "required")
        return str(self.read(key, matching(pattern, expected), None))

    def number(self, key: str) -> float | None:
        value = self.raw.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float) \
                or not math.isfinite(value):
            raise self.bad_value(key, "a finite number", value)
        return float(value)

    def count(self, key: str) -> int:
        return int(self.read(key, _COUNT, 1))

    def duration(self, key: str, default: float | None, positive: bool = False) -> float | None:
        if self.raw.get(key) is None:
            return default
        return float(self.read(key, _POSITIVE if positive else _DURATION, None))

    def names(self, key: str, *, allow_empty: bool = False) -> tuple[str, ...] | None:
        value = self.raw.get(key)
        if value is None:
            return None
        expected = "a list of names" if allow_empty else "a non-empty list of names"
        if not isinstance(value, list) or not (value or allow_empty):
            raise self.bad_value(key, expected, value)
        for item in value:
            if isinstance(item, bool) or not isinstance(item, str | int) or item == "":
                raise self.bad_value(key, expected, value)
        return tuple(str(item) for item in value)

    def choice(self, key: str, options: tuple[str, ...], default: str) -> str:
        return str(self.read(key, choice(*options), default))

    def flag(self, key: str) -> bool:
        return bool(self.read(key, flag, False))

    def url(self, key: str) -> str | None:
        value = self.raw.get(key)
        if value is None:
            return None
        parts = urlsplit(value) if isinstance(value, str) else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
            raise self.bad_value(key, "an http(s) URL", value)
        return str(value)


def _threshold_keys(reader: _Reader, metric: Metric) -> dict[str, float | None]:
    """above / below / resolve_* after the checks that tie them to each other and the metric."""
    keys = ("above", "below", "resolve_below", "resolve_above")
    given = {key: reader.number(key) for key in keys}
    above, below = given["above"], given["below"]
    if metric.boolean:
        for key, value in given.items():
            if value is not None:
                raise reader.error(key, f"not allowed with boolean metric {metric.name} "
                                        f"(true is a breach), got {show(value)}")
    if above is not None and below is not None:
        raise reader.error("below", f"give one of above or below, not both "
                                    f"(above is {above:g}), got {below:g}")
    if above is None and below is None:
        if metric.default_above is None:
            raise reader.error("above", f"required (or below) for metric {metric.name}")
        given["above"] = metric.default_above
    for key, partner, other in (("resolve_below", "above", "below"),
                                ("resolve_above", "below", "above")):
        value, limit = given[key], given[partner]
        if value is None:
            continue
        if limit is None:
            raise reader.error(key, f"only allowed with {partner} (the rule uses {other}), "
                                    f"got {value:g}")
        if (key == "resolve_below" and value > limit) or (key == "resolve_above" and value < limit):
            side = "most" if key == "resolve_below" else "least"
            raise reader.error(key, f"must be at {side} {partner} ({limit:g}), got {value:g}")
    return given


def _no_data_keys(reader: _Reader, metric: Metric) -> float | None:
    if metric.name != "no_data":
        if "after" in reader.raw:
            raise reader.error("after", f"only allowed with metric no_data, "
                                        f"got {show(reader.raw['after'])}")
        return None
    for key in NOT_FOR_NO_DATA:
        if key in reader.raw:
            raise reader.error(key, f"does not apply to metric no_data, "
                                    f"got {show(reader.raw[key])}")
    if reader.raw.get("after") is None:
        raise reader.error("after", "required for metric no_data (e.g. 15m)")
    return reader.duration("after", None, positive=True)


def parse_rule(raw: object, receivers: Collection[str], path: str, index: int) -> Rule:
    """One rule of the list (``index`` is its position, for messages)."""
    if not isinstance(raw, Mapping):
        raise AlertingConfigError(f"{path}[{index}]: must be a mapping of rule keys, "
                                  f"got {show(raw)}", f"{path}[{index}]")
    reader = _Reader(raw, path, index)
    name = reader.text("name", NAME_PATTERN, f"a name matching {NAME_PATTERN}")
    reader.label = f"{reader.base} ({name})"
    for key in raw:
        if key not in KEYS:
            raise reader.error(str(key), f"unknown key{_suggest(str(key), KEYS)} "
                                         f"(allowed: {', '.join(KEYS)})")
    metric_name = reader.text("metric", r".+", "a metric name")
    metric = METRICS.get(metric_name)
    if metric is None:
        raise reader.error("metric", f"unknown metric {metric_name!r}"
                                     f"{_suggest(metric_name, METRICS)} "
                                     "(the catalogue is in docs/alerting.md)")
    after = _no_data_keys(reader, metric)
    thresholds = _threshold_keys(reader, metric) if after is None else {}
    features = reader.names("features")
    if features is not None and not metric.per_feature:
        raise reader.error("features", f"only allowed with feature.* metrics "
                                       f"(metric is {metric.name}), got {show(raw['features'])}")
    targets = reader.names("receivers", allow_empty=True) or ()
    unknown = [target for target in targets if target not in receivers]
    if unknown:
        known = ", ".join(sorted(receivers)) or "none"
        raise reader.error("receivers", f"unknown receiver {unknown[0]!r} (configured: {known})")
    return Rule(
        name=name, metric=metric.name, **thresholds,
        for_=reader.count("for"), resolve_for=reader.count("resolve_for"),
        severity=cast(Severity, reader.choice("severity", SEVERITIES, "warning")),
        cooldown=reader.duration("cooldown", 0.0) or 0.0,
        models=reader.names("models"), versions=reader.names("versions"), features=features,
        receivers=targets, runbook_url=reader.url("runbook_url"), retrain=reader.flag("retrain"),
        after=after)


def parse_rules(raw: object, receivers: Collection[str],
                path: str = "alerting.rules") -> tuple[Rule, ...]:
    """Every rule of the ``alerting.rules`` list; None (the key absent) gives no rules.

    ``receivers`` are the names of the configured receivers. Rule names are unique.
    """
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise AlertingConfigError(f"{path}: must be a list of rules, got {show(raw)}", path)
    rules: list[Rule] = []
    seen: dict[str, int] = {}
    for index, item in enumerate(raw):
        rule = parse_rule(item, receivers, path, index)
        if rule.name in seen:
            raise AlertingConfigError(
                f"{path}[{index}] ({rule.name}).name: duplicate rule name {rule.name!r} "
                f"(also {path}[{seen[rule.name]}])", f"{path}[{index}].name")
        seen[rule.name] = index
        rules.append(rule)
    return tuple(rules)

