"""Receivers as configured, and secrets that never show themselves.

A receiver is where notifications go: a Slack incoming webhook, the PagerDuty
Events API v2, a generic CloudEvents webhook, or a model deployer (a webhook
that receives retrain requests). Webhook URLs, routing keys and signing secrets
are ``Secret`` values: their ``repr`` and ``str`` are masked, so a log line or
an error message cannot carry them; ``reveal()`` is called only where a request
is built.

What a receiver type is — which secret keys it takes, what it is sent and how —
is one ``ReceiverKind``, defined in a module of ``alerting/kinds`` and listed in
that package's ``REGISTRY``; the types here know no receiver type by name.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit

from alerting.config_values import url_origin
from alerting.model import AlertEvent, AlertingConfigError
from alerting.signing import PREFIX, secret_key
from store.outbox import OutboxRow

ReceiverType = str  # a key of ``alerting.kinds.REGISTRY``
Request = tuple[str, bytes, dict[str, str]]  # the URL, body and headers of one attempt


class Secret:
    """A secret string; it shows as ``***`` everywhere but ``reveal()``."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def _no_secrets() -> Mapping[str, Secret]:
    return MappingProxyType({})


@dataclass(frozen=True)
class ReceiverSettings:
    """One receiver. ``signing_secret`` is required for webhook and deployer receivers,
    ``routing_key`` for PagerDuty; ``url`` is a Secret because Slack's URL is one.
    ``secrets`` holds the secret keys of the receiver's type that have no field
    of their own (none of the built-in types has one)."""

    name: str
    type: ReceiverType
    url: Secret
    signing_secret: Secret | None = None
    routing_key: Secret | None = None
    timeout: float = 10.0
    secrets: Mapping[str, Secret] = field(default_factory=_no_secrets)


def check_url(url: str, where: str) -> Secret:
    """An http(s) URL with a host; ``where`` is the key path (and where the value came from)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise AlertingConfigError(
            f"{where}: must be an http(s) URL with a host, got {url_origin(url)}",
            where.split(" ")[0])
    return Secret(url)


def check_signing_secret(secret: str, where: str) -> Secret:
    """A Standard Webhooks signing secret: ``whsec_`` and the base64 of a non-empty key."""
    try:
        key = secret_key(secret) if secret.startswith(PREFIX) else b""
    except ValueError:
        key = b""
    if not key:
        raise AlertingConfigError(
            f"{where}: must be {PREFIX!r} followed by the base64 of a non-empty key "
            "(value not shown)", where.split(" ")[0])
    return Secret(secret)


def any_secret(value: str, where: str) -> Secret:
    """Any non-empty value (emptiness is refused when the value is read)."""
    return Secret(value)


HTTP_URL = r"^https?://[^/\s]+"


@dataclass(frozen=True)
class SecretKey:
    """A secret-bearing key of a receiver type, given as ``<name>``, ``<name>_env`` or
    ``<name>_file``. ``check(value, where)`` turns the value read into a ``Secret`` or
    raises ``AlertingConfigError``; ``schema`` is the JSON Schema of the literal value;
    an optional key with a ``default`` takes it when none of the three forms is given."""

    name: str
    check: Callable[[str, str], Secret]
    schema: Mapping[str, Any]
    required: bool = True
    default: str | None = None


URL = SecretKey("url", check_url, {"type": "string", "pattern": HTTP_URL})
SIGNING_SECRET = SecretKey("signing_secret", check_signing_secret,
                           {"type": "string", "pattern": r"^whsec_[A-Za-z0-9+/=]+$"})


def always(event: AlertEvent) -> bool:
    return True


@dataclass(frozen=True)
class ReceiverKind:
    """One receiver type: everything that differs from one type to another.

    - ``keys``: its secret keys, in the order they are read, checked and listed in
      errors and in the JSON Schema (``url`` must be one of them: it is where
      requests go); every type also takes ``type`` and ``timeout``.
    - ``render(event, receiver, grafana_url)``: the payload stored in the outbox
      (no secrets in it: they are added by ``request``).
    - ``request(row, receiver, now)``: the URL, body and headers of one attempt to
      send the stored payload; ``ValueError`` (naming the receiver, never a
      secret) when it cannot be sent.
    - ``alerts``: whether it is told of alert events; ``sends(event)`` narrows
      which ones ``render`` accepts. ``retrain``: whether it is sent the
      retrain requests of rules with ``retrain: true``.
    """

    name: str
    keys: tuple[SecretKey, ...]
    render: Callable[[AlertEvent, ReceiverSettings, str | None], dict[str, Any]]
    request: Callable[[OutboxRow, ReceiverSettings, float], Request]
    alerts: bool = True
    retrain: bool = False
    sends: Callable[[AlertEvent], bool] = always

    def __post_init__(self) -> None:
        url = [key for key in self.keys if key.name == "url"]
        if not url or not (url[0].required or url[0].default is not None):
            raise ValueError(f"receiver type {self.name!r}: needs a url key, required or "
                             "with a default")


@dataclass(frozen=True)
class DispatchSettings:
    """How the outbox dispatcher retries: capped exponential backoff with full jitter.

    Attempt ``n`` (from 0) waits a uniform draw in [0, min(max_delay, base_delay * 2**n)],
    or the receiver's ``Retry-After`` when that is longer. After ``max_attempts``
    failed attempts a row is dead-lettered. A claimed row is leased for ``lease``
    seconds: a dispatcher that dies mid-send leaves it to be claimed again.
    """

    max_attempts: int = 10
    base_delay: float = 1.0
    max_delay: float = 300.0
    batch: int = 50
    lease: float = 60.0
    poll_interval: float = 0.5
