"""Property-based tests of the API generated from its own OpenAPI document (schemathesis).

Every route of the document served at ``/openapi.json`` is called in-process (ASGI, no
network) over the store of ``conftest.stored`` (12 windows of fraud/7, one of fraud/8,
performance, detections, alerts, references), once with a read token and once with open
reads, and each answer is checked: no 5xx, the status code and the content type are ones
the document lists, and the body matches the document's schema for that status.

Decisions:

- Generated path parameters are half the time replaced by the stored model, version,
  feature and reference (``schema_cases.known``), so the routes read real rows and not
  only answer 404.
- A page cursor is opaque: the document types it as any string, and a string the API did
  not hand out is a 422 by design (docs/api.md). Generated cursors of even length are
  replaced by real ones; for a forged cursor the check that schema-valid requests are
  accepted is left out of that one call (every other check still runs on it).
- Two leniencies of the parameter parsing are known and not what this test is about: a
  number given as ``start`` or ``end`` is read as a Unix time (pydantic), and of a repeated
  parameter the last value counts (Starlette); the document declares neither. For such a
  call the check that schema-violating requests are rejected is left out; every other
  check still runs, and every other schema-violating request must be rejected.
- Examples are bounded per route and derandomized (``schema_cases``), so a run is the
  same every time and takes seconds; the coverage phase (the boundary values of every
  parameter: ``limit`` 0 and ``max_page + 1``, bad times) runs in full.
- The audit trail (``GET /v1/audit``) is read with the write routes, in
  ``test_write_properties.py``: its rows are made by writes.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance
from sqlalchemy.engine import Engine

from store.pages import After
from streams.api import cursors
from streams.api.app import create_app
from streams.api.problems import ProblemError
from tests.unit.store.conftest import START
from tests.unit.streams.api.conftest import N_WINDOWS, STEP, api_settings, bearer
from tests.unit.streams.api.schema_cases import SETTINGS, known, lenient, load_schema

# The read routes of the document but the audit trail, which test_write_properties.py
# takes with the write routes (its rows are made by writes).
schema = load_schema(lambda method, path: method == "GET" and path != "/v1/audit")


def _real_cursors(query: dict[str, Any] | None) -> dict[str, Any] | None:
    """Generated cursors whose text has an even length become real ones."""
    if query is None or not isinstance(query.get("cursor"), str):
        return query
    size = len(query["cursor"])
    if size % 2:
        return query
    row = size // 2 % N_WINDOWS
    return {**query, "cursor": cursors.encode(After(START + row * STEP, row + 1))}


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
    return known(path_parameters)


@pytest.fixture(params=["read-token", "open-reads"])
def access(request: pytest.FixtureRequest, stored: Engine) -> tuple[FastAPI, dict[str, str]]:
    """The app over the stored data, and the headers of a request: a read token, or none
    when reads are open."""
    open_reads = request.param == "open-reads"
    app = create_app(stored, api_settings(open_reads=open_reads))
    return app, {} if open_reads else bearer("reader")


@schema.parametrize()
@SETTINGS
def test_every_route_answers_by_its_document(
        case: schemathesis.Case[Any], access: tuple[FastAPI, dict[str, str]]) -> None:
    app, headers = access
    excluded: list[schemathesis.CheckFunction] = (
        [positive_data_acceptance] if _forged(case) else [])
    if lenient(case):
        excluded.append(negative_data_rejection)
    case.call_and_validate(headers=headers, app=app, excluded_checks=excluded)
