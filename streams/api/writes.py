"""The write routes of the API: references, silences, acknowledgements, deletes, and
the audit trail that records them.

Decisions:

- Every write needs a token with the ``write`` scope, always (``api.open_reads``
  opens reads only). The token's name is the audit ``actor``; the token itself is
  never stored.
- Each write is one transaction (``engine.begin()``) around one store function
  (``store.reference_writes``, ``store.silences``, ``store.deletion``), which
  records its audit row in that same transaction: the change and its record
  commit together or not at all.
- ``store.records.NotFoundError`` answers 404; a ``ValueError`` of the store (a bad
  time, a blank reason, an instance that is not firing) and an unreadable file
  answer 422, with the store's sentence as the detail.
- A reference is set from a file of rows sent as the request body itself (``curl
  --data-binary @ref.csv -H 'Content-Type: text/csv'``), not as a multipart form:
  the locked dependencies have no multipart parser, and the body carries one
  file either way. The format comes from ``format`` (``csv``, ``parquet``,
  ``jsonl``: an enum of the document, so another value is refused by the
  validation) or else from the Content-Type. The document lists the body's media
  types (``UPLOAD_BODY``), which FastAPI cannot infer from a route reading the raw
  body. It is profiled as ``driftline reference set`` profiles it
  (``streams.batch.profiling.profile_file``). A body larger than
  ``MAX_UPLOAD_BYTES`` (256 MiB) is refused (413) while it is read, so a client
  cannot fill the process's memory (the body is held in memory, then in a
  temporary file, while it is profiled); a larger file is set with ``driftline
  reference set``, which reads it from disk.
- There is no route to build a reference from a stored time range: the store
  keeps a window's statistics, not its rows, and statistics do not merge into a
  profile (``store/reference_writes.py``).
- An alert instance's ``feature`` is in the body (or the query, to lift), not the
  path: it is ``''`` for rules not scoped per feature.
- The audit trail is a read (``read`` scope): newest first, keyset paged on the
  row id (``before``/``next_before``), as ``store.audit.list_audit`` pages it.
- There is no ``from __future__ import annotations`` here: FastAPI reads the
  routes' annotations.
"""

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, Query, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import select
from sqlalchemy.engine import Engine

from store import audit as audit_store
from store import deletion, pages, reference_writes
from store import silences as silence_store
from store.records import NotFoundError
from store.tables import reference_profiles
from streams.api import schemas
from streams.api.auth import require
from streams.api.problems import MEDIA_TYPE, Problem, ProblemError
from streams.batch.files import InputError
from streams.batch.profiling import profile_file
from streams.config.api import ApiSettings

VERSION_PATH = "/v1/models/{model_id}/versions/{model_version}"
ALERT_PATH = VERSION_PATH + "/alerts/{rule}"
FileFormat = Literal["csv", "parquet", "jsonl"]
MAX_UPLOAD_BYTES = 256 * 1024 * 1024
MEDIA_FORMATS = {
    "text/csv": "csv", "application/csv": "csv",
    "application/vnd.apache.parquet": "parquet", "application/x-parquet": "parquet",
    "application/parquet": "parquet",
    "application/jsonl": "jsonl", "application/x-ndjson": "jsonl",
    "application/x-jsonlines": "jsonl", "application/jsonlines": "jsonl",
}
# The upload's request body, which FastAPI cannot infer from a route that reads the raw
# body: the media types the format is read from, and application/octet-stream (any other
# Content-Type is the same) for a body whose format is given as ``format``.
UPLOAD_MEDIA_TYPES = ("text/csv", "application/vnd.apache.parquet", "application/x-ndjson",
                      "application/octet-stream")
UPLOAD_BODY = {"requestBody": {
    "required": True,
    "description": "The file of rows: CSV (text/csv), Parquet (application/vnd.apache.parquet) "
                   "or JSON Lines (application/x-ndjson), its format read from the "
                   "Content-Type; with `format`, any Content-Type (application/octet-stream).",
    "content": {media: {"schema": {"type": "string", "format": "binary"}}
                for media in UPLOAD_MEDIA_TYPES}}}

TOO_LARGE: dict[int | str, dict[str, Any]] = {
    413: {"model": Problem, "description": "Content Too Large", "content": {MEDIA_TYPE: {}}}}

Prediction = Annotated[list[str] | None, Query(
    description="The model's output columns (default: prediction and score when present).")]
Exclude = Annotated[list[str] | None, Query(description="Columns not to profile.")]
Format = Annotated[FileFormat | None, Query(description="The file's format (default: from the "
                                                        "Content-Type).")]


@contextmanager
def store_errors() -> Iterator[None]:
    """Answer the store's NotFoundError as 404 and its ValueError (or a bad file) as 422."""
    try:
        yield
    except NotFoundError as exc:
        raise ProblemError(404, str(exc)) from None
    except (ValueError, InputError) as exc:
        raise ProblemError(422, str(exc)) from None


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _actor(request: Request) -> str:
    name: str = request.state.token_name
    return name


def upload_format(content_type: str | None, fmt: str | None) -> str:
    """The file format of an upload: ``fmt`` if given (the route's validation has checked
    it is a FileFormat), else from the Content-Type."""
    if fmt is not None:
        return fmt
    media = (content_type or "").split(";")[0].strip().lower()
    found = MEDIA_FORMATS.get(media)
    if found is None:
        raise ProblemError(422, f"cannot tell the file format from Content-Type "
                                f"{media or 'none'!r}: send text/csv, "
                                "application/vnd.apache.parquet or application/x-ndjson, "
                                "or pass format=csv|parquet|jsonl")
    return found


async def read_upload(request: Request, limit: int) -> bytes:
    """The request body, refused with 413 as soon as it is larger than ``limit`` bytes."""
    too_large = ProblemError(413, f"the file is larger than {limit} bytes")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise too_large
    return bytes(body)


def _silence_answer(found: silence_store.Silence) -> dict[str, Any]:
    answer: dict[str, Any] = audit_store.jsonable(found.to_dict())
    return answer


def add_write_routes(app: FastAPI, engine: Engine, settings: ApiSettings) -> None:
    """Add the write routes and the audit trail to ``app``."""
    write = [Depends(require(settings, "write"))]
    read = [Depends(require(settings, "read"))]
    audit_max = min(settings.max_page, audit_store.MAX_PAGE)

    def set_reference(actor: str, model_id: str, model_version: str | None, body: bytes,
                      fmt: str, prediction: list[str], exclude: list[str]) -> dict[str, Any]:
        if not body:
            raise ProblemError(422, "the request body is empty: send the file of rows")
        with tempfile.TemporaryDirectory(prefix="driftline-ref-") as folder:
            path = Path(folder) / f"reference.{fmt}"
            path.write_bytes(body)
            with store_errors():
                try:
                    profile = profile_file(path, prediction, exclude)
                except (InputError, ValueError) as exc:
                    # The temporary file's name means nothing to the caller.
                    raise InputError(str(exc).replace(f"{path}: ", "")
                                     .replace(str(path), "the file")) from None
        with store_errors(), engine.begin() as conn:
            ref_id = reference_writes.set_reference(conn, actor, model_id, model_version,
                                                    profile, "file")
            row = conn.execute(select(reference_profiles).where(
                reference_profiles.c.id == ref_id)).mappings().one()
            return pages.reference_summary(dict(row))

    @app.put(f"{VERSION_PATH}/reference", response_model=schemas.ReferenceSummary,
             dependencies=write, tags=["references"], openapi_extra=UPLOAD_BODY,
             responses=TOO_LARGE)
    async def put_version_reference(request: Request, model_id: str, model_version: str,
                                    prediction: Prediction = None, exclude: Exclude = None,
                                    format: Format = None) -> dict[str, Any]:
        """Set the version's reference from a file of rows (CSV, Parquet or JSON Lines) sent
        as the request body; replaces the one stored before. Audited as reference.set."""
        fmt = upload_format(request.headers.get("content-type"), format)
        body = await read_upload(request, MAX_UPLOAD_BYTES)
        return await run_in_threadpool(set_reference, _actor(request), model_id,
                                       model_version, body, fmt, prediction or [],
                                       exclude or [])

    @app.put("/v1/models/{model_id}/reference", response_model=schemas.ReferenceSummary,
             dependencies=write, tags=["references"], openapi_extra=UPLOAD_BODY,
             responses=TOO_LARGE)
    async def put_model_reference(request: Request, model_id: str,
                                  prediction: Prediction = None, exclude: Exclude = None,
                                  format: Format = None) -> dict[str, Any]:
        """Set the model-wide reference (version '', used by versions without their own)
        from a file of rows sent as the request body. Audited as reference.set."""
        fmt = upload_format(request.headers.get("content-type"), format)
        body = await read_upload(request, MAX_UPLOAD_BYTES)
        return await run_in_threadpool(set_reference, _actor(request), model_id, None,
                                       body, fmt, prediction or [], exclude or [])

    @app.put(f"{ALERT_PATH}/silence", response_model=schemas.SilenceState,
             dependencies=write, tags=["alerts"])
    def silence(request: Request, model_id: str, model_version: str, rule: str,
                body: schemas.SilenceRequest) -> dict[str, Any]:
        """Send no notification for the alert instance until `until`, for `reason`
        (silencing again replaces both). Audited as alert.silence."""
        with store_errors(), engine.begin() as conn:
            instance = silence_store.Instance(rule, model_id, model_version, body.feature)
            found = silence_store.silence(conn, _actor(request), instance, _utc(body.until),
                                          body.reason)
        return _silence_answer(found)

    @app.delete(f"{ALERT_PATH}/silence", response_model=schemas.SilenceState,
                dependencies=write, tags=["alerts"])
    def lift(request: Request, model_id: str, model_version: str, rule: str,
             feature: str = "") -> dict[str, Any]:
        """End the instance's silence now; 404 when it is not silenced.
        Audited as alert.unsilence."""
        with store_errors(), engine.begin() as conn:
            instance = silence_store.Instance(rule, model_id, model_version, feature)
            found = silence_store.lift(conn, _actor(request), instance)
        return _silence_answer(found)

    @app.post(f"{ALERT_PATH}/acknowledge", response_model=schemas.SilenceState,
              dependencies=write, tags=["alerts"])
    def acknowledge(request: Request, model_id: str, model_version: str, rule: str,
                    body: schemas.AcknowledgeRequest) -> dict[str, Any]:
        """Record that someone is on the firing instance's current episode (suppresses
        nothing; lapses when it fires again). 404 without state, 422 when not firing.
        Audited as alert.acknowledge."""
        with store_errors(), engine.begin() as conn:
            instance = silence_store.Instance(rule, model_id, model_version, body.feature)
            found = silence_store.acknowledge(conn, _actor(request), instance, body.reason)
        return _silence_answer(found)

    @app.delete(VERSION_PATH, response_model=schemas.Deleted, dependencies=write,
                tags=["models"])
    def delete_version(request: Request, model_id: str, model_version: str) -> dict[str, Any]:
        """Delete every row of the version: windows, statistics, its own reference,
        performance, detections, alerts and silences (store/deletion.py says what is
        kept). 404 when it has no data. Audited as model_version.delete."""
        with store_errors(), engine.begin() as conn:
            counts = deletion.delete_version(conn, _actor(request), model_id, model_version)
        return {"model_id": model_id, "model_version": model_version, "deleted": counts}

    @app.get("/v1/audit", response_model=schemas.AuditPage, dependencies=read,
             tags=["audit"])
    def list_audit(since: Annotated[datetime | None, Query(
                       description="Only rows at or after this time.")] = None,
                   until: Annotated[datetime | None, Query(
                       description="Only rows before this time.")] = None,
                   action: str | None = None, model_id: str | None = None,
                   before: Annotated[int | None, Query(
                       ge=1, description="next_before of the previous page.")] = None,
                   limit: Annotated[int, Query(
                       ge=1, le=audit_max,
                       description=f"Rows per page (at most {audit_max}).")] = min(
                       100, audit_max)) -> dict[str, Any]:
        """The audit trail of writes, newest first."""
        with store_errors(), engine.connect() as conn:
            found = audit_store.list_audit(
                conn, since=None if since is None else _utc(since),
                until=None if until is None else _utc(until), action=action,
                model_id=model_id, before=before, limit=limit)
        return {"items": [row.to_dict() for row in found.rows],
                "next_before": found.next_before}
