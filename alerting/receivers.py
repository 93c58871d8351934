"""Receivers as configured, and secrets that never show themselves.

A receiver is where notifications go: a Slack incoming webhook, the PagerDuty
Events API v2, a generic CloudEvents webhook, or a model deployer (a webhook
that receives retrain requests). Webhook URLs, routing keys and signing secrets
are ``Secret`` values: their ``repr`` and ``str`` are masked, so a log line or
an error message cannot carry them; ``reveal()`` is called only where a request
is built.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ReceiverType = Literal["slack", "pagerduty", "webhook", "deployer"]
RECEIVER_TYPES: tuple[ReceiverType, ...] = ("slack", "pagerduty", "webhook", "deployer")


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


@dataclass(frozen=True)
class ReceiverSettings:
    """One receiver. ``signing_secret`` is required for webhook and deployer receivers,
    ``routing_key`` for PagerDuty; ``url`` is a Secret because Slack's URL is one."""

    name: str
    type: ReceiverType
    url: Secret
    signing_secret: Secret | None = None
    routing_key: Secret | None = None
    timeout: float = 10.0


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
