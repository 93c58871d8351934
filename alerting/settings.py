"""The ``alerting`` section of the settings: receivers, rules, dispatch, retrain requests.

```yaml
alerting:
  grafana_url: https://grafana.example      # links in Slack and PagerDuty messages
  receivers: {...}                           # alerting.config.parse_receivers
  rules: [...]                               # alerting.rules.parse_rules
  dispatch: {max_attempts: 10, ...}          # alerting.config.parse_dispatch
  retrain:
    cooldown: 24h                            # at most one open request per (model, version)
    topic: true                              # also publish requests to driftline.retrain
    signing_secret_env: RETRAIN_SIGNING_SECRET   # signs the topic records (or _file, or literal)
```

Decisions:

- Without the section, or with no rules, nothing is evaluated and nothing sent.
- The retrain topic records are signed like the HTTP deliveries (Standard
  Webhooks headers as Kafka record headers) with ``retrain.signing_secret``;
  when it is not given, with the signing secret of the only receiver of a type
  that takes retrain requests (``ReceiverKind.retrain``: ``deployer``); with
  neither (no deployer, or several) they go unsigned.
- The retrain cooldown is in event time (window ends), like the rules' cooldown,
  so a replay decides the same way. A newer model version is a new (model,
  version) key and may ask for a retrain at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from alerting.config import _read_secret, parse_dispatch, parse_receivers
from alerting.config_values import bad, duration, flag, secret_mapping
from alerting.kinds import kind_of
from alerting.model import AlertingConfigError
from alerting.receivers import (
    DispatchSettings,
    ReceiverSettings,
    Secret,
    check_signing_secret,
    check_url,
)
from alerting.rules import Rule, parse_rules

KEYS = ("grafana_url", "receivers", "rules", "dispatch", "retrain")
RETRAIN_KEYS = ("cooldown", "topic", "signing_secret", "signing_secret_env",
                "signing_secret_file")
DEFAULT_RETRAIN_COOLDOWN = 86400.0
_COOLDOWN = duration(0, expected="a duration >= 0 such as 6h")


@dataclass(frozen=True)
class RetrainSettings:
    cooldown: float = DEFAULT_RETRAIN_COOLDOWN
    topic: bool = True
    signing_secret: Secret | None = None


@dataclass(frozen=True)
class AlertingSettings:
    receivers: Mapping[str, ReceiverSettings] = field(
        default_factory=lambda: MappingProxyType({}))
    rules: tuple[Rule, ...] = ()
    dispatch: DispatchSettings = field(default_factory=DispatchSettings)
    retrain: RetrainSettings = field(default_factory=RetrainSettings)
    grafana_url: str | None = None

    @property
    def enabled(self) -> bool:
        return bool(self.rules)


def _unknown(values: Mapping[object, object], allowed: tuple[str, ...], path: str) -> None:
    for key in values:
        if key not in allowed:
            raise AlertingConfigError(
                f"{path}.{key}: unknown key (allowed: {', '.join(allowed)})", f"{path}.{key}")


def _retrain(raw: object, receivers: Mapping[str, ReceiverSettings], environ: Mapping[str, str],
             path: str) -> RetrainSettings:
    values = secret_mapping(raw, path)
    _unknown(values, RETRAIN_KEYS, path)
    cooldown = DEFAULT_RETRAIN_COOLDOWN
    if "cooldown" in values:
        cooldown = _COOLDOWN(values["cooldown"], f"{path}.cooldown")
    topic = flag(values.get("topic", True), f"{path}.topic")
    found = _read_secret(values, "signing_secret", environ, path)
    secret = check_signing_secret(*found) if found else None
    if secret is None:
        deployers = [r for r in receivers.values() if kind_of(r).retrain]
        if len(deployers) == 1:
            secret = deployers[0].signing_secret
    return RetrainSettings(cooldown, topic, secret)


def parse_alerting(raw: object, environ: Mapping[str, str],
                   path: str = "alerting") -> AlertingSettings:
    """The ``alerting`` section (None: no alerting); ``AlertingConfigError`` names the key."""
    if raw is None:
        return AlertingSettings()
    values = secret_mapping(raw, path)
    _unknown(values, KEYS, path)
    receivers = parse_receivers(values.get("receivers"), environ, f"{path}.receivers")
    rules = parse_rules(values.get("rules"), tuple(receivers), f"{path}.rules")
    dispatch = parse_dispatch(values.get("dispatch"), f"{path}.dispatch")
    grafana = values.get("grafana_url")
    if grafana is not None:
        if not isinstance(grafana, str):
            raise bad(f"{path}.grafana_url", "a URL", grafana)
        check_url(grafana, f"{path}.grafana_url")
    retrain = _retrain(values.get("retrain"), receivers, environ, f"{path}.retrain")
    return AlertingSettings(receivers, rules, dispatch, retrain,
                            grafana.rstrip("/") if isinstance(grafana, str) else None)
