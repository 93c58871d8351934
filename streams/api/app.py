"""The FastAPI application: read routes over the store, behind token scopes; the write
routes and the audit trail are added by ``streams.api.writes``.

``create_app(engine, settings)`` builds it for one database; ``driftline api``
serves it with uvicorn, and any number of such processes may serve the same
database as the workers (each request reads in its own short transaction).

Decisions:

- Routes are plain functions: FastAPI runs them in its thread pool, where the
  synchronous store functions belong.
- Lists that grow with time (windows, a feature's history, performance,
  detections, alert transitions) are keyset pages (``store.pages``): ``limit``
  (default 100, at most ``api.max_page``), ``cursor``, and a ``[start, end)`` time
  range. A time without a zone is read as UTC.
- An unknown model is a 404; a known model's version without data is an empty page.
- A reference id outside the database's ids (1 to 2**63 - 1) is a 422: the query
  would fail on it (found by the property-based tests).
- There is no ``from __future__ import annotations`` here: FastAPI reads the routes'
  annotations, and some name types local to ``create_app``.
- A window is answered as the store gives it (a ``JSONResponse``, not through its
  pydantic model, which would move the declared keys in front of the stored
  report's): its keys are in the order of ``driftline windows --format json``, so
  ``driftline windows --api`` prints what the database path prints, byte for byte.
- ``/healthz`` answers while the process runs; ``/readyz`` when the database
  answers and is at the newest schema.
"""


from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Path, Query
from fastapi.responses import JSONResponse
from sqlalchemy import select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from store import pages
from store.migrate import current_revision, head_revision
from store.tables import models, reference_profiles
from store.types import iso_utc
from streams.api import cursors, problems, schemas
from streams.api.auth import require
from streams.api.problems import PROBLEM_RESPONSES, ProblemError
from streams.api.range_reference import add_range_routes
from streams.api.report_route import add_report_route
from streams.api.writes import add_write_routes
from streams.config.api import ApiSettings
from streams.config.settings import Settings

DEFAULT_LIMIT = 100
VERSION_PATH = "/v1/models/{model_id}/versions/{model_version}"

Start = Annotated[datetime | None, Query(description="Only rows at or after this time.")]
End = Annotated[datetime | None, Query(description="Only rows before this time.")]
Cursor = Annotated[str | None, Query(description="next_cursor of the previous page.")]
# Row ids are 64-bit in the database: a larger one is a 422, not a failed query.
ReferenceId = Annotated[int, Path(ge=1, le=cursors.MAX_ROW_ID)]


def _utc(value: datetime | None) -> datetime | None:
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def create_app(engine: Engine, settings: ApiSettings, stream: Settings | None = None) -> FastAPI:
    """The API over ``engine``'s database, with ``settings``' tokens (``stream``: the
    process's settings, for the routes that read the predictions topic)."""
    app = FastAPI(title="driftline API", version="1",
                  description="Drift history, performance and alerts of the monitored "
                              "models (docs/api.md).",
                  responses=PROBLEM_RESPONSES)
    problems.install(app)
    read = [Depends(require(settings, "read"))]
    Limit = Annotated[int, Query(ge=1, le=settings.max_page,  # noqa: N806
                                 description=f"Rows per page (at most {settings.max_page}).")]

    @contextmanager
    def connection() -> Iterator[Connection]:
        with engine.connect() as conn:
            yield conn

    def known(conn: Connection, model_id: str) -> datetime:
        found = conn.execute(select(models.c.first_seen_at).where(
            models.c.model_id == model_id)).scalar()
        if found is None:
            raise ProblemError(404, f"unknown model {model_id!r}")
        first_seen: datetime = found
        return first_seen

    def page(reader: Callable[..., pages.Page], conn: Connection, *args: Any,
             start: datetime | None, end: datetime | None, cursor: str | None,
             limit: int) -> dict[str, Any]:
        found = reader(conn, *args, start=_utc(start), end=_utc(end),
                       after=cursors.decode(cursor), limit=limit)
        return {"items": found.items, "next_cursor": cursors.encode(found.next)}

    def model_answer(conn: Connection, model_id: str, first_seen: datetime) -> dict[str, Any]:
        references = {r["model_version"]: r for r in pages.reference_list(conn, model_id)}
        versions = []
        for row in pages.model_versions(conn, model_id):
            version = row["model_version"]
            versions.append({**row, "status": row["last_window"]["status"],
                             "reference": references.get(version, references.get(""))})
        return {"model_id": model_id, "first_seen_at": iso_utc(first_seen),
                "versions": versions}

    @app.get("/healthz", response_model=schemas.Health, tags=["health"])
    def healthz() -> dict[str, Any]:
        """The process answers."""
        return {"status": "ok"}

    @app.get("/readyz", response_model=schemas.Health, tags=["health"],
             responses={503: {"model": problems.Problem, "description": "Not ready",
                             "content": {problems.MEDIA_TYPE: {}}}})
    def readyz() -> dict[str, Any]:
        """The database answers and is at the newest schema."""
        try:
            with connection() as conn:
                revision = current_revision(conn)
        except SQLAlchemyError as exc:
            raise ProblemError(503, f"database unavailable: {type(exc).__name__}") from None
        if revision != head_revision():
            raise ProblemError(503, f"database schema at {revision or 'none'}, expected "
                                  f"{head_revision()} (run `driftline db upgrade`)")
        return {"status": "ready"}

    @app.get("/v1/models", response_model=list[schemas.Model], dependencies=read,
             tags=["models"])
    def list_models() -> list[dict[str, Any]]:
        """Every model with its versions: last window, status and reference."""
        with connection() as conn:
            rows = conn.execute(select(models).order_by(models.c.model_id)).all()
            return [model_answer(conn, row.model_id, row.first_seen_at) for row in rows]

    @app.get("/v1/models/{model_id}", response_model=schemas.Model, dependencies=read,
             tags=["models"])
    def get_model(model_id: str) -> dict[str, Any]:
        """One model with its versions."""
        with connection() as conn:
            return model_answer(conn, model_id, known(conn, model_id))

    @app.get(f"{VERSION_PATH}/windows", response_model=schemas.Page[schemas.Window],
             dependencies=read, tags=["windows"])
    def list_windows(model_id: str, model_version: str, start: Start = None, end: End = None,
                     cursor: Cursor = None, limit: Limit = DEFAULT_LIMIT) -> JSONResponse:
        """A model version's windows, oldest first, with per-feature statistics,
        performance and estimate (the rows of `driftline windows --format json`)."""
        with connection() as conn:
            known(conn, model_id)
            found = page(pages.window_page, conn, model_id, model_version, start=start,
                         end=end, cursor=cursor, limit=limit)
        # The rows as stored, keys in the order of `driftline windows --format json`.
        return JSONResponse(found)

    @app.get(f"{VERSION_PATH}/features/{{feature}}",
             response_model=schemas.Page[schemas.FeaturePoint], dependencies=read,
             tags=["windows"])
    def feature_history(model_id: str, model_version: str, feature: str, start: Start = None,
                        end: End = None, cursor: Cursor = None,
                        limit: Limit = DEFAULT_LIMIT) -> dict[str, Any]:
        """One column's statistics over time, one row per window, oldest first."""
        with connection() as conn:
            known(conn, model_id)
            return page(pages.feature_page, conn, model_id, model_version, feature,
                        start=start, end=end, cursor=cursor, limit=limit)

    @app.get(f"{VERSION_PATH}/performance", response_model=schemas.Page[schemas.Performance],
             dependencies=read, tags=["performance"])
    def list_performance(model_id: str, model_version: str, start: Start = None,
                         end: End = None, cursor: Cursor = None,
                         limit: Limit = DEFAULT_LIMIT) -> dict[str, Any]:
        """Realised performance (from labels) and its estimate, per window."""
        with connection() as conn:
            known(conn, model_id)
            return page(pages.performance_page, conn, model_id, model_version, start=start,
                        end=end, cursor=cursor, limit=limit)

    @app.get(f"{VERSION_PATH}/detections", response_model=schemas.Page[schemas.Detection],
             dependencies=read, tags=["performance"])
    def list_detections(model_id: str, model_version: str, start: Start = None,
                        end: End = None, cursor: Cursor = None,
                        limit: Limit = DEFAULT_LIMIT) -> dict[str, Any]:
        """Concept-drift detections on the error stream, by event time."""
        with connection() as conn:
            known(conn, model_id)
            return page(pages.detection_page, conn, model_id, model_version, start=start,
                        end=end, cursor=cursor, limit=limit)

    @app.get("/v1/models/{model_id}/alerts", response_model=list[schemas.AlertInstance],
             dependencies=read, tags=["alerts"])
    def list_alerts(model_id: str) -> list[dict[str, Any]]:
        """The current state of each of the model's alert instances."""
        with connection() as conn:
            known(conn, model_id)
            return pages.alert_page(conn, model_id)

    @app.get("/v1/models/{model_id}/alerts/transitions",
             response_model=schemas.Page[schemas.Transition], dependencies=read,
             tags=["alerts"])
    def list_transitions(model_id: str, model_version: str | None = None,
                         start: Start = None, end: End = None, cursor: Cursor = None,
                         limit: Limit = DEFAULT_LIMIT) -> dict[str, Any]:
        """The model's alert firings and resolutions, oldest first."""
        with connection() as conn:
            known(conn, model_id)
            return page(pages.transition_page, conn, model_id, model_version, start=start,
                        end=end, cursor=cursor, limit=limit)

    @app.get("/v1/models/{model_id}/references",
             response_model=list[schemas.ReferenceSummary], dependencies=read,
             tags=["references"])
    def list_references(model_id: str) -> list[dict[str, Any]]:
        """The model's stored references ('' is the model-wide one), without profiles."""
        with connection() as conn:
            known(conn, model_id)
            return pages.reference_list(conn, model_id)

    @app.get("/v1/references/{reference_id}", response_model=schemas.Reference,
             dependencies=read, tags=["references"])
    def get_reference(reference_id: ReferenceId) -> dict[str, Any]:
        """One stored reference with its profile."""
        with connection() as conn:
            row = conn.execute(select(reference_profiles).where(
                reference_profiles.c.id == reference_id)).mappings().first()
        if row is None:
            raise ProblemError(404, f"no reference {reference_id}")
        return {**pages.reference_summary(dict(row)), "profile": row["profile"]}

    add_report_route(app, engine, settings)
    add_write_routes(app, engine, settings)
    add_range_routes(app, engine, settings, stream)
    return app
