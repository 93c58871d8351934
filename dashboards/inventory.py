"""Every PromQL query of the committed dashboards, for the validation tests.

Panel targets, annotation queries and the ``label_values(SELECTOR, LABEL)``
template variables (their selector) are listed with where they come from.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dashboards.promql import metric_names

GRAFANA = Path(__file__).resolve().parent / "grafana"
_LABEL_VALUES = re.compile(r"^\s*label_values\((?P<selector>.*),\s*(?P<label>\w+)\s*\)\s*$")


@dataclass(frozen=True)
class Query:
    """One PromQL expression of a dashboard; ``kind`` is panel, annotation or variable."""

    dashboard: str
    where: str
    expr: str
    kind: str

    @property
    def metrics(self) -> list[str]:
        return metric_names(self.expr)

    def __str__(self) -> str:
        return f"{self.dashboard}: {self.kind} {self.where!r}: {self.expr}"


def load(folder: Path = GRAFANA) -> dict[str, dict[str, Any]]:
    """The committed dashboards by file name."""
    return {path.name: json.loads(path.read_text(encoding="utf-8"))
            for path in sorted(folder.glob("*.json"))}


def queries(folder: Path = GRAFANA) -> list[Query]:
    return [query for name, model in load(folder).items() for query in _queries(name, model)]


def _queries(name: str, model: dict[str, Any]) -> Iterator[Query]:
    for panel in _panels(model):
        for target in panel.get("targets", []):
            yield Query(name, f"{panel['title']} / {target['refId']}", target["expr"], "panel")
    for annotation in model.get("annotations", {}).get("list", []):
        if "expr" in annotation:
            yield Query(name, annotation["name"], annotation["expr"], "annotation")
    for variable in model.get("templating", {}).get("list", []):
        if variable.get("type") == "query":
            match = _LABEL_VALUES.match(str(variable["query"]))
            if match is None:
                raise ValueError(f"{name}: variable {variable['name']} is not label_values(...)")
            yield Query(name, f"${variable['name']}", match["selector"], "variable")


def _panels(model: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in model.get("panels", []):
        yield panel
        yield from panel.get("panels", [])
