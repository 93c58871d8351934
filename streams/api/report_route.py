"""``GET .../report``: the HTML report of a model version's stored windows (``driftline
report``'s page, served), so a dashboard can link a person to it.

Decisions:

- ``.../report`` takes a range, ``start``/``end`` (windows that *start* in it, as
  ``driftline report --since/--until``); ``.../report/window`` takes ``at``: the one
  window whose statistics the exported gauges showed at that moment, the newest
  closed at or before it. ``at`` is an ISO 8601 time or Unix milliseconds (what a
  Grafana data link's ``${__value.time}`` gives; pydantic reads a number above 2e10
  as milliseconds), so a click on a dashboard point opens that window's report. Two
  routes, not one with three parameters, so that the OpenAPI document says which go
  together.
- A report holds every window of its range in memory while it is drawn, so a range of
  more than ``MAX_WINDOWS`` windows is a 422 asking for a narrower one (counted before
  any window is read). 1,000 windows are 3.5 days of 5-minute windows.
- The page is the same self-contained HTML as the CLI's: no request leaves it, so it
  can be saved and mailed. It needs a ``read`` token like every read route; a browser
  following a dashboard link sends none, so such links work when reads are open
  (``api.open_reads``) or when the API sits behind a proxy that signs people in.
"""

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Query
from fastapi.responses import HTMLResponse
from sqlalchemy import select
from sqlalchemy.engine import Engine

from store.ranges import count_windows_between, window_shown_at
from store.tables import models
from streams.api.auth import require
from streams.api.problems import ProblemError
from streams.config.api import ApiSettings
from streams.report.page import render
from streams.report.stored import NoWindowsError, from_store

MAX_WINDOWS = 1000
ONE_TICK = timedelta(microseconds=1)  # [start, start + 1 µs) holds that window alone
PATH = "/v1/models/{model_id}/versions/{model_version}/report"


def _utc(value: datetime | None) -> datetime | None:
    return value if value is None or value.tzinfo is not None else value.replace(tzinfo=UTC)


def add_report_route(app: FastAPI, engine: Engine, settings: ApiSettings) -> None:
    """Add the report routes to ``app``: a range, and the window shown at a time."""
    read = [Depends(require(settings, "read"))]
    html: dict[int | str, dict[str, Any]] = {200: {"content": {"text/html": {}},
                  "description": "The report page (self-contained HTML)"}}

    def page(model_id: str, model_version: str, since: datetime | None,
             until: datetime | None, at: datetime | None = None) -> HTMLResponse:
        with engine.connect() as conn:
            if conn.execute(select(models.c.model_id).where(
                    models.c.model_id == model_id)).first() is None:
                raise ProblemError(404, f"unknown model {model_id!r}")
            if at is not None:
                moment = at if at.tzinfo is not None else at.replace(tzinfo=UTC)
                shown = window_shown_at(conn, model_id, model_version, moment)
                if shown is None:
                    raise ProblemError(404, f"no window of model {model_id!r} version "
                                            f"{model_version!r} had closed by {moment}")
                since, until = shown, shown + ONE_TICK
            n_windows = count_windows_between(conn, model_id, model_version, since, until)
            if n_windows > MAX_WINDOWS:
                raise ProblemError(422, f"the range holds {n_windows} windows; a report "
                                        f"draws at most {MAX_WINDOWS}: narrow start and end")
            try:
                data = from_store(conn, model_id, model_version, since, until)
            except NoWindowsError as exc:
                raise ProblemError(404, str(exc)) from None
        return HTMLResponse(render(data))

    @app.get(PATH, response_class=HTMLResponse, tags=["windows"], dependencies=read,
             responses=html)
    def report(model_id: str, model_version: str,
               start: Annotated[datetime | None, Query(
                   description="Only windows that start at or after this time.")] = None,
               end: Annotated[datetime | None, Query(
                   description="Only windows that start before this time.")] = None,
               ) -> HTMLResponse:
        """The HTML report of the version's windows that start in a range."""
        return page(model_id, model_version, _utc(start), _utc(end))

    @app.get(f"{PATH}/window", response_class=HTMLResponse, tags=["windows"],
             dependencies=read, responses=html)
    def window_report(model_id: str, model_version: str,
                      at: Annotated[datetime, Query(
                          description="The window the gauges showed at this time: the "
                                      "newest closed by then (ISO 8601 or Unix "
                                      "milliseconds).")]) -> HTMLResponse:
        """The HTML report of the one window whose statistics the gauges showed at a time."""
        return page(model_id, model_version, None, None, at)
