"""The JSON Schema of the two events, generated from the decoder's own types.

``python -m client.schema`` writes ``docs/schema/prediction-event.json`` and
``docs/schema/label-event.json`` from ``msgspec.json.schema`` of
``streams.decoding.events.PredictionEvent`` and ``LabelEvent``; ``--check`` only compares
(exit status 1, the stale files named). ``make event-schema`` regenerates them and a
test fails when the committed files are stale.

What a JSON Schema cannot say is in ``docs/events.md``: the size limit
(``ingest.max_event_bytes``), the nesting depth, the time bounds
(``ingest.max_future``, ``ingest.max_past``) and the finite ``score``. That
``event_time`` must carry a timezone the ``date-time`` format (RFC 3339) says.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import msgspec

from streams.config.generated import write_or_check
from streams.decoding.events import LabelEvent, PredictionEvent

OUT = Path(__file__).resolve().parents[1] / "docs" / "schema"
DRAFT = "https://json-schema.org/draft/2020-12/schema"
SCHEMAS: dict[str, tuple[type[msgspec.Struct], str]] = {
    "prediction-event.json": (PredictionEvent, "driftline prediction event (schema v1)"),
    "label-event.json": (LabelEvent, "driftline label event (schema v1)"),
}
COMMENT = ("Generated from streams/decoding/events.py by `make event-schema`; do not edit. "
           "Limits a schema "
           "cannot express (size, nesting depth, event-time bounds, finite score) are in "
           "docs/events.md.")


def schema(event_type: type[msgspec.Struct], title: str) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of ``event_type``, as msgspec derives it."""
    return {"$schema": DRAFT, "title": title, "$comment": COMMENT,
            **msgspec.json.schema(event_type)}


def render(event_type: type[msgspec.Struct], title: str) -> str:
    """The schema as the text we commit."""
    return json.dumps(schema(event_type, title), indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m client.schema", description=__doc__)
    parser.add_argument("--check", action="store_true",
                        help="compare with the committed files instead of writing them")
    parser.add_argument("--out", type=Path, default=OUT, help="output folder")
    args = parser.parse_args(argv)
    files = {args.out / name: render(event_type, title)
             for name, (event_type, title) in SCHEMAS.items()}
    return write_or_check(files, check=args.check,
                          stale_message="stale event schema (run `make event-schema`): {files}")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
