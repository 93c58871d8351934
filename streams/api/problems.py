"""Errors as ``application/problem+json`` (RFC 9457), each with a one-line ``detail``.

Every error the API answers has the same shape: ``type`` (``about:blank``: the
status says it all), ``title`` (the status's phrase), ``status``, ``detail`` (what
was wrong, in a sentence) and ``instance`` (the request's path). A bad parameter
(422) also lists ``errors``: each with the parameter's location and the reason.
Unknown routes (404) and methods (405) answer the same way; a 405's ``Allow`` lists
every method of the path. A JSON body the framework cannot parse at all (not UTF-8,
nested too deep) is a 422 like any other invalid body, not the framework's bare 400
(found by the property-based tests of the write routes).
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException
from starlette.routing import BaseRoute, Match

MEDIA_TYPE = "application/problem+json"
UNREADABLE_BODY = "invalid body: the request body cannot be read as JSON in UTF-8"


class Problem(BaseModel):
    """An error answer (RFC 9457)."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    instance: str
    errors: list[dict[str, Any]] | None = None


class ProblemError(Exception):
    """Raised by a route: answered as a problem with this status and detail."""

    def __init__(self, status: int, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = headers


def problem_response(request: Request, status: int, detail: str,
                     headers: dict[str, str] | None = None,
                     errors: list[dict[str, Any]] | None = None) -> JSONResponse:
    body = Problem(title=HTTPStatus(status).phrase, status=status, detail=detail,
                   instance=request.url.path, errors=errors)
    return JSONResponse(body.model_dump(exclude_none=True), status_code=status,
                        headers=headers, media_type=MEDIA_TYPE)


def _validation_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    return [{"location": ".".join(str(part) for part in error.get("loc", ())),
             "message": str(error.get("msg", ""))} for error in exc.errors()]


def _allowed(app: FastAPI, request: Request) -> list[str]:
    """The methods of every route at the request's path (Starlette's 405 names only those
    of the first route it matched, and a path may have several: PUT and DELETE)."""
    methods: set[str] = set()
    for route in app.router.routes:
        match, _ = route.matches(request.scope)
        if match is Match.PARTIAL and isinstance(route, BaseRoute):
            methods |= getattr(route, "methods", None) or set()
    return sorted(methods)


def install(app: FastAPI) -> None:
    """Answer every error of ``app`` as a problem."""

    async def on_problem(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ProblemError)
        return problem_response(request, exc.status, exc.detail, exc.headers)

    async def on_invalid(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = _validation_errors(exc)
        first = errors[0] if errors else {"location": "request", "message": "invalid"}
        detail = f"invalid {first['location']}: {first['message']}"
        return problem_response(request, 422, detail, errors=errors)

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, HTTPException)
        if exc.status_code == 400:  # raised only by the parsing of a JSON body
            return problem_response(request, 422, UNREADABLE_BODY, errors=[
                {"location": "body", "message": "cannot be read as JSON in UTF-8"}])
        headers = dict(exc.headers) if exc.headers else None
        if exc.status_code == 405:
            headers = {**(headers or {}), "Allow": ", ".join(_allowed(app, request))}
        detail = {404: f"no route {request.url.path}",
                  405: f"method {request.method} not allowed on {request.url.path}"}.get(
            exc.status_code, str(exc.detail))
        return problem_response(request, exc.status_code, detail, headers)

    async def on_database(request: Request, exc: Exception) -> JSONResponse:
        # The database went away (an outage, a restart): a 503 the client may retry,
        # naming the error's class only (its text may hold the database's address).
        return problem_response(request, 503, f"database unavailable: {type(exc).__name__}",
                                {"Retry-After": "5"})

    app.add_exception_handler(ProblemError, on_problem)
    app.add_exception_handler(OperationalError, on_database)
    app.add_exception_handler(RequestValidationError, on_invalid)
    app.add_exception_handler(HTTPException, on_http)


PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": Problem, "description": HTTPStatus(status).phrase,
             "content": {MEDIA_TYPE: {}}}
    for status in (401, 403, 404, 422, 503)
}
