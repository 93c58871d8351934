"""Build the dashboards' JSON: ``python -m dashboards.build`` writes it, ``--check`` only
compares (exit status 1 and the stale files named when the committed JSON differs).

The output is deterministic: sorted keys, two-space indentation, panel ids
numbered in order, no timestamps. ``make dashboards`` regenerates it.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.cog.encoder import JSONEncoder

from dashboards import drilldown, overview
from streams.config.generated import write_or_check

OUT = Path(__file__).resolve().parent / "grafana"
DASHBOARDS: dict[str, Callable[[], dash.Dashboard]] = {
    "overview.json": overview.build, "model.json": drilldown.build}
# Grafana's Prometheus annotation fields that the SDK's typed model does not carry.
ANNOTATION_FIELDS = {"Concept drift": {"step": "1m", "titleFormat": "Concept drift: {{detector}}",
                                       "tagKeys": "model,version,detector", "textFormat":
                                       "{{model}} v{{version}} — detector {{detector}}",
                                       "useValueForTime": False}}


def render(build: Callable[[], dash.Dashboard]) -> str:
    """The dashboard as the JSON text we commit."""
    model: dict[str, Any] = json.loads(json.dumps(build().build(), cls=JSONEncoder))
    for number, panel in enumerate(all_panels(model), start=1):
        panel["id"] = number
    for annotation in model.get("annotations", {}).get("list", []):
        annotation.update(ANNOTATION_FIELDS.get(annotation.get("name", ""), {}))
    return json.dumps(model, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def all_panels(model: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel, rows and the panels inside collapsed rows included, in order."""
    for panel in model.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dashboards.build", description=__doc__)
    parser.add_argument("--check", action="store_true",
                        help="compare with the committed files instead of writing them")
    parser.add_argument("--out", type=Path, default=OUT, help="output folder")
    args = parser.parse_args(argv)
    files = {args.out / name: render(build) for name, build in DASHBOARDS.items()}
    return write_or_check(files, check=args.check,
                          stale_message="stale dashboard JSON (run `make dashboards`): {files}")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
