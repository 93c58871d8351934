"""A reference from a time range of past traffic: the predictions topic's events → a profile.

The API (``PUT .../reference/range``) and the CLI (``driftline reference from-range``)
both call ``profile_range``; it lives here, in ingest, because the profile must be
the one the worker builds from a stream (``profile_from_rows``) and the API and
CLI rooms may import ingest, while the reader (``streams.transport.history``) may not.

Decisions:

- The events are read and decoded as the worker reads them
  (``streams.transport.history``) and profiled as the worker profiles a reference it
  gathers: ``profile_from_rows`` with the model's ``profile`` options and the kinds
  named under its ``features``, the model's settings being ``Settings.model(model_id)``.
  ``n_rows`` of the profile is the number of events in the range, as a gathered
  reference counts every event it saw.
- The rows kept are at most the model's ``profile.sample_cap`` (100,000 by default):
  the capacity of the row sample the worker gathers a reference in, so a range
  yields the reference the worker would have built had it gathered exactly those
  events. More rows would not change the numeric columns (their profile keeps at
  most ``sample_cap`` values) and would cost memory (about a hundred bytes a row and
  column before packing).
- A range is at most ``MAX_SPAN`` (31 days): a month covers weekly cycles and
  month ends, and a predictions topic rarely keeps more (Kafka keeps 7 days by
  default); a longer read would mostly find nothing, slowly.
- A range without a single matching event is a ``NoEventsError`` (a
  ``ValueError``) naming the model, version and range; a bad range a ``ValueError``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from detectors import ReferenceProfile
from streams.config.settings import Settings
from streams.ingest.closing import profile_from_rows
from streams.transport.history import ConsumerFactory, RangeQuery, RangeRows, read_range

MAX_SPAN = timedelta(days=31)
DEFAULT_TIMEOUT = 60.0  # seconds for the whole read


class NoEventsError(ValueError):
    """No event of the model (and version) in the range."""


@dataclass(frozen=True)
class RangeProfile:
    """The profile of a range and what reading it found."""

    profile: ReferenceProfile
    found: RangeRows
    start: datetime
    end: datetime

    def audit(self) -> dict[str, Any]:
        """What the audit row's ``after`` records beside the reference summary."""
        return {"range": {"start": self.start.isoformat(), "end": self.end.isoformat()},
                "counts": self.found.counts()}


def check_range(start: datetime, end: datetime) -> None:
    """``ValueError`` unless both times have a timezone, end is after start, and the range
    spans at most ``MAX_SPAN``."""
    for name, moment in (("start", start), ("end", end)):
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise ValueError(f"{name} must have a timezone (Z or +02:00), got "
                             f"{moment.isoformat()}")
    if end <= start:
        raise ValueError(f"end ({end.isoformat()}) must be after start ({start.isoformat()})")
    if end - start > MAX_SPAN:
        raise ValueError(f"the range from {start.isoformat()} to {end.isoformat()} is longer "
                         f"than {MAX_SPAN.days} days")


def describe(model_id: str, model_version: str | None, start: datetime, end: datetime) -> str:
    """``model 'fraud' version '7' from ... to ...`` (every version when None)."""
    version = "every version" if model_version is None else f"version {model_version!r}"
    return f"model {model_id!r} {version} from {start.isoformat()} to {end.isoformat()}"


def profile_range(settings: Settings, model_id: str, model_version: str | None,
                  start: datetime, end: datetime, *, timeout: float = DEFAULT_TIMEOUT,
                  bootstrap: str | None = None,
                  consumer_factory: ConsumerFactory | None = None) -> RangeProfile:
    """The reference profile of the model's events with event_time in ``[start, end)``.

    ``bootstrap`` overrides the settings' brokers. Raises ``ValueError`` for a bad
    range, ``NoEventsError`` when no event matches, and ``ConnectionError``,
    ``LookupError`` or ``TimeoutError`` from the reader.
    """
    check_range(start, end)
    model = settings.model(model_id)
    query = RangeQuery(bootstrap or settings.bootstrap_servers, settings.topics.predictions,
                       model_id, model_version, start, end, grace=model.window.grace,
                       max_rows=model.profile.sample_cap, timeout=timeout,
                       seed=model.profile.seed)
    found = read_range(query, settings.ingest, settings.known_models, consumer_factory)
    if found.matched == 0:
        raise NoEventsError(
            f"no valid event of {describe(model_id, model_version, start, end)} in topic "
            f"{query.topic} ({found.records_read} records read, {found.invalid} invalid; "
            "the topic holds events only as long as its retention)")
    profile = profile_from_rows(found.rows, model.profile, model.features)
    return RangeProfile(profile, found, start, end)
