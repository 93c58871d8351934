"""The outbox dispatcher: claims notification rows, sends them, records each outcome.

Decisions:

- Delivery is at least once. Rows are claimed with a lease (``store.outbox.claim``)
  in one short transaction, sent outside any transaction, and each outcome is
  recorded in its own short transaction. A dispatcher that dies (or a database
  write that fails) leaves its rows claimed until the lease passes; then any
  dispatcher claims them again. A receiver may therefore see a key twice; every
  row carries a stable idempotency key for it to drop the repeat.
- Outcomes: ``delivered``; ``retry`` (429, 408, 5xx, connection errors and
  timeouts, and a transport that raised unexpectedly — never lost); ``dead_letter``
  (other 4xx, a receiver nobody configured, or ``max_attempts`` failed attempts).
  ``on_result(receiver, outcome)`` is called once per recorded outcome, for
  counters; an outcome not recorded (the row was no longer pending: another
  dispatcher finished it after this one's lease ran out) is not reported.
- Backoff: after the failure of attempt ``n`` (0-based) the row waits a uniform
  draw in ``[0, min(max_delay, base_delay * 2**n)]`` (full jitter), or the
  receiver's ``Retry-After`` when that is longer. The draw comes from ``rng``.
- ``run`` loops ``run_once`` and, when a batch was not full, waits
  ``poll_interval`` or until ``wake()`` — whichever comes first. ``wake()`` is for
  the code that just committed an enqueue; call it on the dispatcher's event loop
  (from another thread: ``loop.call_soon_threadsafe(dispatcher.wake)``).
- The lease (``DispatchSettings.lease``) should exceed the longest receiver
  timeout, or a slow send may be claimed and sent again by another dispatcher.
- Log lines and stored errors name the receiver and the row id, never a URL or
  a secret; an unexpected exception is logged by its type only. A row given up
  (``dead_letter`` recorded) logs one ``delivery given up`` line with the
  receiver, the row id, the attempts, the HTTP status (when the receiver
  answered) and the stored error.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal, Protocol

from sqlalchemy.engine import Engine

from alerting.receivers import DispatchSettings
from store.outbox import OutboxRow, claim, mark_dead, mark_delivered, mark_retry

log = logging.getLogger(__name__)

Outcome = Literal["delivered", "retry", "dead_letter"]
MAX_EXPONENT = 60  # 2**60 times any sane base_delay is past any max_delay


@dataclass(frozen=True)
class Delivery:
    """What one attempt gave: ``ok``, or whether to retry (and not before ``retry_after`` s)."""

    ok: bool
    retryable: bool = False
    retry_after: float | None = None
    error: str | None = None
    status: int | None = None  # the receiver's HTTP status, when it answered


class Transport(Protocol):
    """Sends one outbox row. Errors it reports must not contain secrets or URLs."""

    async def send(self, row: OutboxRow) -> Delivery: ...


def _check_settings(settings: DispatchSettings) -> None:
    checks = [("max_attempts", settings.max_attempts, settings.max_attempts >= 1, ">= 1"),
              ("base_delay", settings.base_delay, settings.base_delay >= 0, ">= 0"),
              ("max_delay", settings.max_delay, settings.max_delay >= 0, ">= 0"),
              ("batch", settings.batch, settings.batch >= 1, ">= 1"),
              ("lease", settings.lease, settings.lease > 0, "> 0"),
              ("poll_interval", settings.poll_interval, settings.poll_interval > 0, "> 0")]
    for name, value, good, allowed in checks:
        if not good:
            raise ValueError(f"dispatch.{name} must be {allowed}, got {value!r}")


class Dispatcher:
    """Delivers the outbox of ``engine`` through the transport of each receiver."""

    def __init__(self, engine: Engine, transport_for: Callable[[str], Transport | None],
                 settings: DispatchSettings,
                 on_result: Callable[[str, str], None] | None = None,
                 clock: Callable[[], float] = time.time,
                 rng: random.Random | None = None) -> None:
        _check_settings(settings)
        self._engine = engine
        self._transport_for = transport_for
        self._settings = settings
        self._on_result = on_result
        self._clock = clock
        self._rng = rng if rng is not None else random.Random()
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Dispatch now instead of at the next poll (call on the dispatcher's loop)."""
        self._wake.set()

    def delay(self, attempts: int, retry_after: float | None = None) -> float:
        """Seconds to wait after the failure of attempt ``attempts`` (0-based)."""
        cap = min(self._settings.max_delay,
                  self._settings.base_delay * 2 ** min(attempts, MAX_EXPONENT))
        wait = self._rng.uniform(0.0, cap)
        return wait if retry_after is None else max(wait, retry_after)

    async def run(self, stop: asyncio.Event) -> None:
        """Dispatch until ``stop`` is set; a failing round is logged and retried."""
        while not stop.is_set():
            self._wake.clear()
            try:
                claimed = await self.run_once()
            except Exception as exc:
                log.warning("outbox dispatch round failed (%s); next in %.2f s",
                            type(exc).__name__, self._settings.poll_interval)
                claimed = 0
            if claimed < self._settings.batch:
                await self._idle(stop)

    async def run_once(self) -> int:
        """Claim one batch, send it concurrently, record the outcomes; the number claimed."""
        rows = await asyncio.to_thread(self._claim)
        if rows:
            await asyncio.gather(*(self._handle(row) for row in rows))
        return len(rows)

    async def _idle(self, stop: asyncio.Event) -> None:
        waiters = [asyncio.create_task(stop.wait()), asyncio.create_task(self._wake.wait())]
        try:
            await asyncio.wait(waiters, timeout=self._settings.poll_interval,
                               return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
            await asyncio.gather(*waiters, return_exceptions=True)

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)

    def _claim(self) -> list[OutboxRow]:
        with self._engine.begin() as conn:
            return claim(conn, self._now(), self._settings.batch, self._settings.lease)

    async def _send(self, row: OutboxRow) -> Delivery:
        transport = self._transport_for(row.receiver)
        if transport is None:
            return Delivery(ok=False, error=f"receiver {row.receiver!r} is not configured")
        try:
            return await transport.send(row)
        except Exception as exc:  # a defect in a transport must not lose the row
            name = type(exc).__name__
            log.warning("sending outbox row %d to %r raised %s", row.id, row.receiver, name)
            return Delivery(ok=False, retryable=True,
                            error=f"receiver {row.receiver!r}: the send raised {name}")

    def _outcome(self, row: OutboxRow, delivery: Delivery) -> Outcome:
        if delivery.ok:
            return "delivered"
        if delivery.retryable and row.attempts + 1 < self._settings.max_attempts:
            return "retry"
        return "dead_letter"

    async def _handle(self, row: OutboxRow) -> None:
        delivery = await self._send(row)
        outcome = self._outcome(row, delivery)
        error = delivery.error
        if outcome == "dead_letter" and delivery.retryable:
            error = f"{error}; gave up after {row.attempts + 1} attempts"
        wait = self.delay(row.attempts, delivery.retry_after) if outcome == "retry" else 0.0
        try:
            recorded = await asyncio.to_thread(self._record, row.id, outcome, error, wait)
        except Exception as exc:  # the lease runs out and the row is sent again
            log.warning("could not record %s of outbox row %d (%s); it is retried after "
                        "its lease", outcome, row.id, type(exc).__name__)
            return
        if recorded and outcome == "dead_letter":
            log.warning("delivery given up: receiver %s, outbox row %d, %d attempts, last: %s",
                        row.receiver, row.id, row.attempts + 1, delivery.error,
                        extra={"event": "delivery_given_up", "receiver": row.receiver,
                               "row": row.id, "attempts": row.attempts + 1,
                               "http_status": delivery.status, "error": delivery.error})
        if recorded and self._on_result is not None:
            try:
                self._on_result(row.receiver, outcome)
            except Exception as exc:
                log.warning("on_result raised %s", type(exc).__name__)

    def _record(self, row_id: int, outcome: Outcome, error: str | None, wait: float) -> bool:
        now = self._now()
        with self._engine.begin() as conn:
            if outcome == "delivered":
                return mark_delivered(conn, row_id, now)
            if outcome == "retry":
                return mark_retry(conn, row_id, now + timedelta(seconds=wait), error)
            return mark_dead(conn, row_id, error, now)
