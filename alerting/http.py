"""Sending outbox rows over HTTP: Slack, PagerDuty Events v2, signed webhooks.

Decisions:

- What is sent depends on the receiver's type (``ReceiverSettings.type``): its
  ``ReceiverKind.request`` in ``alerting.kinds.REGISTRY`` builds the URL, body
  and headers; a row whose kind is not that type is dead-lettered rather than
  sent somewhere wrong.
- Slack: the payload as JSON to the incoming-webhook URL. PagerDuty: the payload
  with ``routing_key`` added at send time, so the key is never stored in the
  outbox. Webhook and deployer: the payload is the CloudEvent; the body is its
  compact JSON with sorted keys, ``content-type: application/cloudevents+json``,
  and the Standard Webhooks headers computed per attempt (a fresh timestamp each
  time, the same ``webhook-id``: the row's idempotency key).
- Classification: 2xx delivered; 429, 408 and 5xx retryable, with ``Retry-After``
  read as seconds or an HTTP date (capped at ``MAX_RETRY_AFTER``); other
  statuses (4xx, and 3xx since redirects are not followed: a signed body does
  not go to a host nobody configured) are not retryable; connection errors and
  timeouts are retryable.
- Errors name the receiver and the status or the exception type — never the URL
  (a Slack URL is itself a secret), a key, or the response body (which might
  echo the request).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from datetime import UTC
from email.utils import parsedate_to_datetime

import aiohttp

from alerting.delivery import CLOUDEVENTS, compact_json
from alerting.dispatcher import Delivery
from alerting.kinds import kind_of
from alerting.receivers import ReceiverSettings
from store.outbox import OutboxRow

__all__ = ["CLOUDEVENTS", "HttpTransport", "classify", "compact_json", "parse_retry_after"]

MAX_RETRY_AFTER = 86_400.0  # a day: a longer Retry-After is taken as a day


def parse_retry_after(value: str | None, now: float) -> float | None:
    """``Retry-After`` in seconds from ``now``: delta-seconds or an HTTP date; None if unreadable.

    >>> parse_retry_after("2", 0.0), parse_retry_after("soon", 0.0)
    (2.0, None)
    >>> parse_retry_after("Thu, 01 Jan 1970 00:00:30 GMT", 10.0)
    20.0
    """
    if value is None:
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = when.timestamp() - now
    if not math.isfinite(seconds):
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


def classify(status: int, retry_after: str | None, receiver: str, now: float) -> Delivery:
    """The delivery an HTTP status means (module docstring)."""
    if 200 <= status < 300:
        return Delivery(ok=True)
    error = f"receiver {receiver!r}: HTTP {status}"
    if status in (408, 429) or 500 <= status < 600:
        return Delivery(ok=False, retryable=True,
                        retry_after=parse_retry_after(retry_after, now), error=error,
                        status=status)
    return Delivery(ok=False, retryable=False, error=error, status=status)


class HttpTransport:
    """A ``Transport`` for the HTTP receivers in ``receivers`` (by name), over ``session``."""

    def __init__(self, receivers: Mapping[str, ReceiverSettings],
                 session: aiohttp.ClientSession,
                 clock: Callable[[], float] = time.time) -> None:
        self._receivers = dict(receivers)
        self._session = session
        self._clock = clock

    def serves(self, receiver: str) -> bool:
        """Whether ``receiver`` is one of this transport's (for ``transport_for``)."""
        return receiver in self._receivers

    def request(self, row: OutboxRow) -> tuple[str, bytes, dict[str, str]]:
        """The URL, body and headers of the attempt to send ``row`` now.

        ``ValueError`` (naming the receiver, never a secret) when the row cannot be sent.
        """
        settings = self._receivers.get(row.receiver)
        if settings is None:
            raise ValueError(f"receiver {row.receiver!r} is not configured")
        if row.kind != settings.type:
            raise ValueError(f"receiver {row.receiver!r} is a {settings.type} receiver, "
                             f"but the row's kind is {row.kind!r}")
        return kind_of(settings).request(row, settings, self._clock())

    async def send(self, row: OutboxRow) -> Delivery:
        """POST ``row`` to its receiver and classify the answer."""
        try:
            url, body, headers = self.request(row)
        except ValueError as exc:
            return Delivery(ok=False, retryable=False, error=str(exc))
        name = row.receiver
        timeout = aiohttp.ClientTimeout(total=self._receivers[name].timeout)
        try:
            async with self._session.post(url, data=body, headers=headers, timeout=timeout,
                                          allow_redirects=False) as response:
                return classify(response.status, response.headers.get("Retry-After"), name,
                                self._clock())
        except aiohttp.InvalidURL:
            return Delivery(ok=False, retryable=False, error=f"receiver {name!r}: invalid URL")
        except TimeoutError:
            return Delivery(ok=False, retryable=True,
                            error=f"receiver {name!r}: timed out after "
                                  f"{self._receivers[name].timeout:g} s")
        except aiohttp.ClientError as exc:
            return Delivery(ok=False, retryable=True,
                            error=f"receiver {name!r}: {type(exc).__name__}")
