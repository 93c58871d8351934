"""``AlertHub``: how a store that enqueued notifications wakes this process's dispatcher."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from alerting.model import AlertEvent
from streams.runtime import loglines


class AlertHub:
    """Tells the dispatcher of this process that a commit enqueued notifications.

    ``committed`` may be called from any thread (stores run in threads). Every
    store that applies alert rules calls it after its commit, so it is also where
    each firing and resolution gets its log line.
    """

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: Callable[[], None] | None = None

    def attach(self, loop: asyncio.AbstractEventLoop, wake: Callable[[], None]) -> None:
        self._loop, self._wake = loop, wake

    def committed(self, events: list[AlertEvent]) -> None:
        loglines.alerts(events)
        if events and self._loop is not None and self._wake is not None:
            self._loop.call_soon_threadsafe(self._wake)
