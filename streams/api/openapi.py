"""The committed OpenAPI document (``docs/api/openapi.json``): write it, or ``--check`` it.

``make api-schema`` writes it; a test runs ``--check``. It is generated from the
routes and their typed models with the default settings (``api.max_page`` shows
in the ``limit`` bounds), so it changes only when the API does.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from store.engine import make_engine
from streams.api.app import create_app
from streams.config.api import ApiSettings
from streams.config.generated import write_or_check

OPENAPI_FILE = Path(__file__).resolve().parents[2] / "docs" / "api" / "openapi.json"


def document() -> dict[str, Any]:
    """The OpenAPI document of the API with the default settings (no database is opened)."""
    engine = make_engine("sqlite://")
    try:
        spec: dict[str, Any] = create_app(engine, ApiSettings()).openapi()
    finally:
        engine.dispose()
    return spec


def render(spec: dict[str, Any]) -> str:
    return json.dumps(spec, indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write the API's OpenAPI document.")
    parser.add_argument("--out", type=Path, default=OPENAPI_FILE)
    parser.add_argument("--check", action="store_true",
                        help="exit 1 when the file differs from what would be written")
    args = parser.parse_args(argv)
    return write_or_check({args.out: render(document())}, check=args.check,
                          stale_message="{files} is stale: run `make api-schema`")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
