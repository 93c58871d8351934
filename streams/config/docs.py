"""The keys documented in docs/configuration.md, with their descriptions.

The page has one table per section: a ``## `section` `` heading (``## Top level``
for the top-level keys) or a ``### `sub` `` heading under it, then a table whose
first column names the keys in backticks and whose ``meaning`` column, when it
has one, describes them. A cell may name several keys (`` `url`, `url_env` ``) or
a key and its own keys (`` `psi: {warn, critical}` ``). The JSON Schema takes its
descriptions from here (``streams.config.schema``), and a test checks that every
key of the schema is on the page.

Keys are named without model ids, receiver names and list positions:
``models.window.size``, ``alerting.receivers.url_env``, ``alerting.rules.metric``.
"""

from __future__ import annotations

import re
from pathlib import Path

DOCS_FILE = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"

_HEADING = re.compile(r"^(##|###) (.*)$")
_NAMED = re.compile(r"^`([a-z_]+)`$")
_KEY = re.compile(r"^([a-z_][a-z0-9_]*)(?::\s*\{([a-z0-9_, ]*)\})?$")


def docs_key(path: str) -> str:
    """A schema key path as the page names it: without ``*`` and ``[]``."""
    return ".".join(part.removesuffix("[]") for part in path.split(".") if part != "*")


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def _keys(cell: str) -> list[str]:
    keys: list[str] = []
    for token in re.findall(r"`([^`]*)`", cell):
        match = _KEY.fullmatch(token.strip())
        if match:
            keys.append(match[1])
            keys += [f"{match[1]}.{sub.strip()}" for sub in (match[2] or "").split(",")
                     if sub.strip()]
    return keys


def documented_keys(markdown: str) -> dict[str, str]:
    """Docs key -> description ('' when the table has no ``meaning`` column)."""
    found: dict[str, str] = {}
    section: str | None = None
    top: str | None = None
    header: list[str] | None = None
    for line in markdown.splitlines():
        heading = _HEADING.match(line)
        if heading:
            named = _NAMED.match(heading[2].strip())
            if heading[1] == "##":
                top = "" if heading[2].strip() == "Top level" else (named[1] if named else None)
                section = top
            else:
                section = f"{top}.{named[1]}".lstrip(".") if top is not None and named else None
            if section:
                found.setdefault(section, "")
            header = None
            continue
        if section is None or not line.startswith("|"):
            header = None
            continue
        cells = _cells(line)
        if header is None:
            header = [cell.lower() for cell in cells]
        elif not set(line) <= set("|-: "):
            row = dict(zip(header, cells, strict=False))
            meaning = row.get("meaning", "")
            for key in _keys(cells[0]):
                found[f"{section}.{key}".lstrip(".")] = meaning
    return found
