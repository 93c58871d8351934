"""Sending events from a file with the worker's own checks first, and a report at the end.

``driftline replay`` and ``driftline backfill`` validate every event as the
worker will (``streams.decoding.events``: JSON, types, required fields, size, the
``ingest.max_future`` / ``ingest.max_past`` window of event time, or
``ingest.backfill_max_past`` for a backfill, and unknown models under
``reject``), with the limits of the settings they load. An event the worker
would dead-letter is *refused*: counted by reason and not sent (unless
``send_invalid``: then it is sent anyway, for exercising the dead-letter path).
The first event refused as ``past_timestamp`` triggers ``on_past`` at once,
before the rest is sent, so the user learns early that history needs
``--backfill`` (or, in a backfill, that an event is older than its bound).

Records the broker does not take are counted as *not delivered* by error name;
the other records are still sent. ``exit_status`` turns the report into the
commands' exit status:

====  =========================================================================
0     every event was valid and delivered
1     some events were refused by validation (not sent, or sent as invalid)
2     the command failed (bad option, unreadable file, broker unreachable)
3     some events were not delivered (this wins over 1)
====  =========================================================================
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import islice

from streams.config.settings import Settings
from streams.decoding.backfill import HEADERS, backfill_ingest
from streams.decoding.events import DeadLetter, RawMessage, decode_labels, decode_predictions
from streams.transport.producer import Progress, Routed, send_routed

CHUNK = 2_000
EXIT_OK, EXIT_REFUSED, EXIT_NOT_DELIVERED = 0, 1, 3


@dataclass
class SendReport:
    """What a send did: events acknowledged, refused by reason, not delivered by error."""

    sent: int = 0
    refused: Counter[str] = field(default_factory=Counter)
    failed: Counter[str] = field(default_factory=Counter)
    sent_invalid: bool = False

    def handled(self, sent: int) -> int:
        """Events ``sent`` so far plus those refused or not delivered (for a progress bar)."""
        refused = 0 if self.sent_invalid else self.refused.total()
        return sent + refused + self.failed.total()

    def summary(self) -> str:
        """``refused N (reason n, ...); not delivered M (error m, ...)``."""
        refused = "invalid, sent anyway" if self.sent_invalid else "refused"
        return f"{refused} {_counts(self.refused)}; not delivered {_counts(self.failed)}"


def _counts(counter: Counter[str]) -> str:
    total = f"{counter.total():,}"
    if not counter:
        return total
    parts = ", ".join(f"{name} {count:,}" for name, count in counter.most_common())
    return f"{total} ({parts})"


def exit_status(report: SendReport) -> int:
    """The exit status of a send (module docstring)."""
    if report.failed:
        return EXIT_NOT_DELIVERED
    return EXIT_REFUSED if report.refused else EXIT_OK


def check(records: Iterable[Routed], *, labels_topic: str, settings: Settings, backfill: bool,
          report: SendReport, on_past: Callable[[DeadLetter], None] | None = None,
          send_invalid: bool = False) -> Iterator[Routed]:
    """The records the worker would accept, in their order (module docstring).

    Records sent to ``labels_topic`` are checked as label events, the others as
    prediction events.
    """
    ingest = backfill_ingest(settings.ingest) if backfill else settings.ingest
    known = settings.known_models
    warned = on_past is None
    iterator = iter(records)
    while chunk := list(islice(iterator, CHUNK)):
        now = datetime.now(UTC)
        messages = [RawMessage(topic, 0, index, key, value)
                    for index, (topic, key, value) in enumerate(chunk)]
        dead = decode_predictions([m for m in messages if m.topic != labels_topic], now=now,
                                  ingest=ingest, known_models=known).dead_letters
        dead += decode_labels([m for m in messages if m.topic == labels_topic], now=now,
                              ingest=ingest, known_models=known).dead_letters
        refused = {d.offset for d in dead}
        for letter in sorted(dead, key=lambda d: d.offset):
            report.refused[letter.reason] += 1
            if not warned and letter.reason == "past_timestamp" and on_past is not None:
                on_past(letter)
                warned = True
        yield from (record for index, record in enumerate(chunk)
                    if send_invalid or index not in refused)


def send(bootstrap: str, records: Iterable[Routed], report: SendReport, *, backfill: bool,
         rate: float | None = None, on_progress: Progress | None = None) -> None:
    """Send checked records, counting what was delivered and what was not into ``report``."""
    report.sent = asyncio.run(send_routed(bootstrap, records, rate=rate, on_progress=on_progress,
                                          headers=HEADERS if backfill else None,
                                          failures=report.failed))
