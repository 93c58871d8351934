"""``PUT .../reference/range``: set a reference from a time range of past traffic.

Decisions:

- The body is ``{"start": ..., "end": ...}`` (ISO 8601; a time without a timezone is
  UTC, as in the read routes), the events of ``[start, end)`` by ``event_time``, at
  most 31 days (``streams.ingest.range_reference.MAX_SPAN``). ``timeout`` (seconds,
  default 60, at most ``MAX_TIMEOUT``) bounds the read of the predictions topic;
  60 s is what proxies in front of an API commonly allow a request.
- The events come from the predictions topic of the process's settings (``broker_url``,
  ``topics.predictions``, the model's settings), read and profiled as
  ``driftline reference from-range`` does (``profile_range``). So only events the
  topic still holds (its retention) can make the reference.
- A write (``write`` scope), audited as ``reference.set`` with source ``range``; the
  audit row's ``after`` records the range and the counts (``RangeProfile.audit``).
  The answer is the reference summary of the upload route, plus ``range`` and
  ``counts``.
- Errors: 422 for a bad range or a range without a matching event (naming the model,
  version and range); 503 when the broker does not answer, or the topic does not
  exist (naming the bootstrap address, which holds no credentials); 504 when the read
  did not finish within ``timeout``.
- The process's full ``Settings`` are given to ``create_app``; an app made without
  them loads them (``load_settings``: ``DRIFTLINE_CONFIG`` and the variables) at the
  first range request.
- There is no ``from __future__ import annotations`` here: FastAPI reads the routes'
  annotations.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.engine import Engine

from store import pages, reference_writes
from store.records import NotFoundError
from store.tables import reference_profiles
from streams.api.auth import require
from streams.api.problems import MEDIA_TYPE, Problem, ProblemError
from streams.api.schemas import ReferenceSummary
from streams.config.api import ApiSettings
from streams.config.settings import Settings, SettingsError, load_settings
from streams.ingest.range_reference import DEFAULT_TIMEOUT, RangeProfile, profile_range

VERSION_PATH = "/v1/models/{model_id}/versions/{model_version}/reference/range"
MODEL_PATH = "/v1/models/{model_id}/reference/range"
MAX_TIMEOUT = 600.0
BROKER_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": Problem, "description": text, "content": {MEDIA_TYPE: {}}}
    for status, text in ((503, "The broker does not answer, or the topic does not exist"),
                         (504, "The read did not finish within the timeout"))}


class RangeRequest(BaseModel):
    """The time range of past traffic to build the reference from."""

    start: datetime = Field(description="Events with event_time at or after this time.")
    end: datetime = Field(description="Events with event_time before this time.")
    timeout: float = Field(DEFAULT_TIMEOUT, gt=0, le=MAX_TIMEOUT,
                           description="Seconds to allow for reading the topic.")


class EventRange(BaseModel):
    start: str
    end: str


class RangeCounts(BaseModel):
    """What the read found."""

    records_read: int = Field(description="Records of the topic read (any model).")
    events_in_range: int = Field(description="Valid events of the model (and version) in "
                                             "the range: the reference's n_rows.")
    rows_kept: int = Field(description="Rows profiled (a uniform sample beyond the model's "
                                       "profile.sample_cap).")
    skipped_invalid: int = Field(description="Records read that the worker would have "
                                             "dead-lettered (any model).")
    features_dropped: int = Field(description="Values of feature names past "
                                              "ingest.max_features_per_model.")
    sampled: bool


class RangeReferenceSummary(ReferenceSummary):
    """The stored reference, the range it was built from and what reading it found."""

    range: EventRange
    counts: RangeCounts


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


@contextmanager
def _read_errors(bootstrap: str) -> Iterator[None]:
    """The reader's failures as problems (the module docstring's statuses)."""
    from kafka.errors import KafkaError, KafkaTimeoutError

    try:
        yield
    except ConnectionError:
        raise ProblemError(503, f"cannot reach the broker at {bootstrap}") from None
    except LookupError as exc:
        raise ProblemError(503, f"{bootstrap}: {exc}") from None
    except (TimeoutError, KafkaTimeoutError) as exc:
        said = str(exc) or "the broker did not answer in time"
        raise ProblemError(504, f"{bootstrap}: {said}") from None
    except KafkaError as exc:
        raise ProblemError(503, f"{bootstrap}: {str(exc) or type(exc).__name__}") from None
    except ValueError as exc:
        raise ProblemError(422, str(exc)) from None


def add_range_routes(app: FastAPI, engine: Engine, settings: ApiSettings,
                     stream: Settings | None = None) -> None:
    """Add the two ``PUT .../reference/range`` routes to ``app``."""
    write = [Depends(require(settings, "write"))]
    loaded: list[Settings] = [] if stream is None else [stream]

    def current() -> Settings:
        if not loaded:
            try:
                loaded.append(load_settings(None))
            except SettingsError as exc:
                raise ProblemError(503, f"the settings do not load: {exc}") from None
        return loaded[0]

    def set_from_range(actor: str, model_id: str, model_version: str | None,
                       body: RangeRequest) -> dict[str, Any]:
        found = current()
        bootstrap = found.bootstrap_servers
        with _read_errors(bootstrap):
            built: RangeProfile = profile_range(found, model_id, model_version,
                                                _utc(body.start), _utc(body.end),
                                                timeout=body.timeout)
        return _store(engine, actor, model_id, model_version, built)

    @app.put(VERSION_PATH, response_model=RangeReferenceSummary, dependencies=write,
             tags=["references"], responses=BROKER_ERRORS)
    async def put_version_range(request: Request, model_id: str, model_version: str,
                                body: RangeRequest) -> dict[str, Any]:
        """Set the version's reference from the events of a time range still held in the
        predictions topic; replaces the one stored before. Audited as reference.set."""
        return await run_in_threadpool(set_from_range, _actor(request), model_id,
                                       model_version, body)

    @app.put(MODEL_PATH, response_model=RangeReferenceSummary, dependencies=write,
             tags=["references"], responses=BROKER_ERRORS)
    async def put_model_range(request: Request, model_id: str,
                              body: RangeRequest) -> dict[str, Any]:
        """Set the model-wide reference (version '', used by versions without their own)
        from the events of every version in a time range. Audited as reference.set."""
        return await run_in_threadpool(set_from_range, _actor(request), model_id, None, body)


def _actor(request: Request) -> str:
    name: str = request.state.token_name
    return name


def _store(engine: Engine, actor: str, model_id: str, model_version: str | None,
           built: RangeProfile) -> dict[str, Any]:
    details = built.audit()
    try:
        with engine.begin() as conn:
            ref_id = reference_writes.set_reference(conn, actor, model_id, model_version,
                                                    built.profile, "range", details=details)
            row = conn.execute(select(reference_profiles).where(
                reference_profiles.c.id == ref_id)).mappings().one()
    except NotFoundError as exc:
        raise ProblemError(404, str(exc)) from None
    except ValueError as exc:
        raise ProblemError(422, str(exc)) from None
    return {**pages.reference_summary(dict(row)), **details}

