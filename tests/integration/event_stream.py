"""Simulated prediction events for the integration tests: when they start, which window
each falls in, and producing them to a topic keyed by model."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from streams.transport.producer import send_events
from tests.integration.worker_harness import WINDOW


def first_event_time() -> datetime:
    """Event time of the first simulated event: two hours ago, on a whole hour."""
    return (datetime.now(UTC) - timedelta(hours=2)).replace(minute=0, second=0, microsecond=0)


def window_of(event: dict[str, Any]) -> float:
    moment = datetime.fromisoformat(str(event["event_time"]).replace("Z", "+00:00"))
    return float(np.floor(moment.timestamp() / WINDOW) * WINDOW)


def produce(bootstrap: str, topic: str, events: list[dict[str, Any]]) -> None:
    sent = asyncio.run(send_events(bootstrap, topic, events,
                                   key=lambda e: str(e["model_id"]).encode()))
    assert sent == len(events)
