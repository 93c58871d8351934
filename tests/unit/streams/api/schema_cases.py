"""What the property-based tests of the API share: the document they are generated from,
the bounds and seed of a run, and the mapping of generated names to stored ones.

The read routes (``test_schema_properties.py``) and the write routes with the audit trail
(``test_write_properties.py``) are generated from the same document with the same bounds;
neither test module imports the other.

Decisions:

- Generated names (path parameters, and the query parameters and JSON body fields that
  name the same things) are half the time replaced by the stored ones of
  ``conftest.stored``: the choice follows from the generated value (the parity and length
  of its text), so a run is reproducible and a failure shrinks like any other value.
- Examples are bounded per route and derandomized (a fixed seed per route): a run is
  the same every time, and a failure found once is found again on the next run.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import hypothesis
import schemathesis
from fastapi import FastAPI

from store import make_engine
from streams.api.app import create_app
from tests.unit.streams.api.conftest import api_settings

# Examples per route and phase: enough to hit every parameter's shape, small enough that
# a module's routes run in well under a minute.
MAX_EXAMPLES = 15
# schemathesis draws its own seed per run unless given one; each route's seed derives from it.
SEED = 18
# The stored names of conftest.stored: fraud/7 has the firing alert instance
# drift/amount; fraud/8 has one window; references 1 (model-wide) and 2 (version 7).
KNOWN: dict[str, list[Any]] = {
    "model_id": ["fraud"],
    "model_version": ["7", "8"],
    "feature": ["amount", "country", "score", "label"],
    "reference_id": [1, 2],
    "rule": ["drift"],
}
# The times of the query parameters and bodies, and the query parameters that are lists.
TIMES = frozenset({"start", "end", "since", "until"})
ARRAYS = frozenset({"prediction", "exclude"})
# The settings of every property test: no deadline (a write's first call opens files),
# derandomized, and the store fixture shared by a test's examples (each module says how
# its examples find the store in a known state).
SETTINGS = hypothesis.settings(
    deadline=None, derandomize=True,
    suppress_health_check=[hypothesis.HealthCheck.function_scoped_fixture])


def known(values: dict[str, Any] | None,
          names: Mapping[str, list[Any]] = KNOWN) -> dict[str, Any] | None:
    """Generated values of ``names`` whose text has an even length become stored ones."""
    if values is None:  # a route without such parameters
        return None
    mapped = dict(values)
    for name, value in values.items():
        choices = names.get(name)
        if choices is None:
            continue
        size = len(str(value))
        if size % 2 == 0:
            mapped[name] = choices[size // 2 % len(choices)]
    return mapped


def lenient(case: schemathesis.Case[Any]) -> bool:
    """Whether the case repeats a query parameter or gives a time as a number, in the query
    or a JSON body: the parsing accepts both (the last value counts, a number is a Unix
    time) and the document declares neither."""
    query = case.query or {}
    body = case.body if isinstance(case.body, dict) else {}
    return (any(isinstance(value, list) and name not in ARRAYS
                for name, value in query.items())
            or any(name in TIMES and _number(value)
                   for name, value in (*query.items(), *body.items())))


def _number(value: Any) -> bool:
    """A number, or a text that reads as one (as a query parameter is sent)."""
    if isinstance(value, str):
        try:
            float(value)
        except ValueError:
            return False
        return True
    return isinstance(value, int | float) and not isinstance(value, bool)


def document_app() -> FastAPI:
    """The app whose document is tested: the test settings (``max_page`` 50), no database
    opened (serving ``/openapi.json`` reads none)."""
    return create_app(make_engine("sqlite://"), api_settings())


def load_schema(routes: Callable[[str, str], bool]) -> schemathesis.BaseSchema:
    """The operations of ``document_app``'s document whose method (upper case) and path
    ``routes`` accepts, with the bounds and seed of a property run; each module adds its
    own hooks."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", document_app()).include(
        lambda ctx: routes(ctx.operation.method.upper(), ctx.operation.path))
    schema.config.generation.update(max_examples=MAX_EXAMPLES, deterministic=True,
                                    database="none")
    schema.config.seed = SEED
    return schema
