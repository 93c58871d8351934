"""Property-based tests of the API generated from its own OpenAPI document (schemathesis).

Every route of the document served at ``/openapi.json`` is called in-process (ASGI, no
network) over the store of ``conftest.stored`` (12 windows of fraud/7, one of fraud/8,
performance, detections, alerts, references), once with a read token and once with open
reads, and each answer is checked: no 5xx, the status code and the content type are ones
the document lists, and the body matches the document's schema for that status.

Decisions:

- Generated path parameters are half the time replaced by the stored model, version,
  feature and reference (chosen from the generated value, so a run is reproducible), so
  the routes read real rows and not only answer 404.
- A page cursor is opaque: the document types it as any string, and a string the API did
  not hand out is a 422 by design (docs/api.md). Generated cursors of even length are
  replaced by real ones; for a forged cursor the check that schema-valid requests are
  accepted is left out of that one call (every other check still runs on it).
- Two leniencies of the parameter parsing are known and not what this test is about: a
  number given as ``start`` or ``end`` is read as a Unix time (pydantic), and of a repeated
  parameter the last value counts (Starlette); the document declares neither. For such a
  call the check that schema-violating requests are rejected is left out; every other
  check still runs, and every other schema-violating request must be rejected.
- Examples are bounded per route and derandomized (a fixed seed per route), so a run is
  the same every time and takes seconds; the coverage phase (the boundary values of every
  parameter: ``limit`` 0 and ``max_page + 1``, bad times) runs in full.
  A failure found once is found again on the next run.
"""

from __future__ import annotations

from typing import Any

import hypothesis
import pytest
import schemathesis
from fastapi import FastAPI
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance
from sqlalchemy.engine import Engine

from store import make_engine
from store.pages import After
from streams.api import cursors
from streams.api.app import create_app
from streams.api.problems import ProblemError
from tests.unit.store.conftest import START
from tests.unit.streams.api.conftest import N_WINDOWS, STEP, api_settings, bearer

# Examples per route and phase: enough to hit every parameter's shape, small enough that
# the 12 routes in both access modes run in well under a minute.
MAX_EXAMPLES = 15
# schemathesis draws its own seed per run unless given one; each route's seed derives from it.
SEED = 18
KNOWN: dict[str, list[Any]] = {
    "model_id": ["fraud"],
    "model_version": ["7", "8"],
    "feature": ["amount", "country", "score", "label"],
    "reference_id": [1, 2],
}


def _known(path_parameters: dict[str, Any] | None) -> dict[str, Any] | None:
    """Generated path parameters whose text has an even length become stored ones."""
    if path_parameters is None:  # a route without path parameters
        return None
    mapped = dict(path_parameters)
    for name, value in path_parameters.items():
        choices = KNOWN.get(name)
        if choices is None:
            continue
        size = len(str(value))
        if size % 2 == 0:
            mapped[name] = choices[size // 2 % len(choices)]
    return mapped


def _document_app() -> FastAPI:
    """The app whose document is tested: the test settings (``max_page`` 50), no database
    opened (serving ``/openapi.json`` reads none)."""
    return create_app(make_engine("sqlite://"), api_settings())


# The read routes of the document. The write routes and the audit trail are covered by
# tests/unit/streams/api/test_writes.py; the property run does not take them yet (uploads
# are Parquet and JSON Lines bodies it cannot generate, and writes need a write token).
schema = (schemathesis.openapi.from_asgi("/openapi.json", _document_app())
          .include(method="GET").exclude(path="/v1/audit"))
schema.config.generation.update(max_examples=MAX_EXAMPLES, deterministic=True, database="none")
schema.config.seed = SEED


def _real_cursors(query: dict[str, Any] | None) -> dict[str, Any] | None:
    """Generated cursors whose text has an even length become real ones."""
    if query is None or not isinstance(query.get("cursor"), str):
        return query
    size = len(query["cursor"])
    if size % 2:
        return query
    row = size // 2 % N_WINDOWS
    return {**query, "cursor": cursors.encode(After(START + row * STEP, row + 1))}


def _lenient(case: schemathesis.Case[Any]) -> bool:
    """Whether the case gives a time as a number or repeats a parameter."""
    query = case.query or {}
    return any(isinstance(value, list) or (name in ("start", "end") and isinstance(
        value, int | float) and not isinstance(value, bool)) for name, value in query.items())


def _forged(case: schemathesis.Case[Any]) -> bool:
    """Whether the case sends a cursor the API would not hand out."""
    cursor = (case.query or {}).get("cursor")
    if not isinstance(cursor, str):
        return False
    try:
        cursors.decode(cursor)
    except ProblemError:
        return True
    return False


@schema.hook
def map_query(context: schemathesis.HookContext,
              query: dict[str, Any] | None) -> dict[str, Any] | None:
    return _real_cursors(query)


@schema.hook
def map_path_parameters(context: schemathesis.HookContext,
                        path_parameters: dict[str, Any] | None) -> dict[str, Any] | None:
    return _known(path_parameters)


@pytest.fixture(params=["read-token", "open-reads"])
def access(request: pytest.FixtureRequest, stored: Engine) -> tuple[FastAPI, dict[str, str]]:
    """The app over the stored data, and the headers of a request: a read token, or none
    when reads are open."""
    open_reads = request.param == "open-reads"
    app = create_app(stored, api_settings(open_reads=open_reads))
    return app, {} if open_reads else bearer("reader")


@schema.parametrize()
@hypothesis.settings(deadline=None, derandomize=True,
                     suppress_health_check=[hypothesis.HealthCheck.function_scoped_fixture])
def test_every_route_answers_by_its_document(
        case: schemathesis.Case[Any], access: tuple[FastAPI, dict[str, str]]) -> None:
    app, headers = access
    excluded: list[schemathesis.CheckFunction] = (
        [positive_data_acceptance] if _forged(case) else [])
    if _lenient(case):
        excluded.append(negative_data_rejection)
    case.call_and_validate(headers=headers, app=app, excluded_checks=excluded)
