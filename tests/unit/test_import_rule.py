"""The import rule (docs/architecture.md): layered packages and rooms, and no import circles.

Every import counts: at module level, inside functions and under ``TYPE_CHECKING``.
A module may import its own package or room, or one of lower rank; never a higher one
and never a sibling of the same rank. So the pipeline rooms never import the app, the
CLI or the developer tools, and only the app and the CLI wire rooms together.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Packages, lowest first. ``client`` reads the event schema of ``streams.decoding``.
PACKAGES = {"detectors": 0, "store": 1, "alerting": 2, "streams": 3, "client": 4,
            "dashboards": 4}

# The rooms of ``streams/``, lowest first: an event's path walks up from transport and
# decoding through labels and ingest to the app that wires them.
# ``report`` draws the batch path's comparisons and the store's windows. ``registry`` (the
# MLflow watcher of ``driftline registry watch``) wires config, batch profiling and the
# store like ``app`` and ``api`` do, and only the CLI imports it.
ROOMS = {"config": 0, "runtime": 1, "decoding": 2, "batch": 2, "report": 3, "transport": 3,
         "alerts": 4, "labels": 5, "ingest": 6, "app": 7, "api": 7, "registry": 7,
         "devtools": 8, "cli": 9}

Graph = Mapping[str, set[str]]


def module_name(path: Path, root: Path) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported(node: ast.AST, package: str, known: set[str]) -> Iterable[str]:
    if isinstance(node, ast.Import):
        yield from (alias.name for alias in node.names)
    elif isinstance(node, ast.ImportFrom):
        base = node.module or ""
        if node.level:
            parts = package.split(".")[: len(package.split(".")) - node.level + 1]
            base = ".".join([*parts, base] if base else parts)
        for alias in node.names:
            full = f"{base}.{alias.name}"
            yield full if full in known else base


def import_graph(root: Path, packages: Iterable[str]) -> dict[str, set[str]]:
    """Each module of ``packages`` and the modules of ``packages`` it imports."""
    files = {module_name(p, root): p for name in packages for p in (root / name).rglob("*.py")}
    known = set(files)
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        edges: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            for target in _imported(node, package, known):
                while target and target not in known:
                    target = target.rpartition(".")[0]
                if target and target != name:
                    edges.add(target)
        graph[name] = edges
    return graph


def _rank(module: str) -> tuple[str, int] | None:
    parts = module.split(".")
    if parts[0] == "streams" and len(parts) >= 2:
        return f"streams.{parts[1]}", ROOMS[parts[1]]
    if parts[0] == "streams":
        return None  # the package's own __init__
    return parts[0], PACKAGES[parts[0]]


def rule_breaches(graph: Graph) -> list[str]:
    """Imports of a higher or sibling package or room, as ``a -> b`` lines."""
    breaches = []
    for source, targets in sorted(graph.items()):
        for target in sorted(targets):
            mine, theirs = _rank(source), _rank(target)
            if mine is None or theirs is None or mine[0] == theirs[0]:
                continue
            if source.split(".")[0] != target.split(".")[0]:
                mine = source.split(".")[0], PACKAGES[source.split(".")[0]]
                theirs = target.split(".")[0], PACKAGES[target.split(".")[0]]
            if theirs[1] >= mine[1]:
                breaches.append(f"{source} -> {target}")
    return breaches


def circles(graph: Graph) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


GRAPH = import_graph(ROOT, PACKAGES)


def test_every_room_is_ranked_and_every_module_lives_in_a_room() -> None:
    rooms = {p.name for p in (ROOT / "streams").iterdir() if (p / "__init__.py").is_file()}
    assert rooms == set(ROOMS)
    loose = sorted(p.name for p in (ROOT / "streams").glob("*.py") if p.name != "__init__.py")
    assert loose == []


def test_no_module_imports_a_higher_or_sibling_room_or_package() -> None:
    assert rule_breaches(GRAPH) == []


def test_store_does_not_import_alerting() -> None:
    assert sorted(f"{a} -> {b}" for a, bs in GRAPH.items() if a.startswith("store")
                  for b in bs if b.startswith("alerting")) == []


def test_there_are_no_import_circles() -> None:
    assert circles(GRAPH) == []


def test_pipeline_rooms_never_import_the_cli_or_the_developer_tools() -> None:
    pipeline = ("config", "runtime", "decoding", "transport", "alerts", "labels", "ingest")
    assert sorted(f"{a} -> {b}" for a, bs in GRAPH.items()
                  if a.split(".")[:2] in (["streams", r] for r in pipeline) for b in bs
                  if b.startswith(("streams.cli", "streams.devtools", "streams.app"))) == []


# ----- the checker itself can fail -----------------------------------------------------
def test_a_higher_room_a_sibling_and_a_higher_package_are_breaches() -> None:
    graph = {"streams.ingest.service": {"streams.app.worker", "streams.config.settings"},
             "streams.decoding.events": {"streams.batch.files"},
             "store.alerts": {"alerting.model", "detectors.verdict"},
             "streams.cli.run": {"streams.devtools.demo", "streams.ingest.service"}}
    assert rule_breaches(graph) == ["store.alerts -> alerting.model",
                                    "streams.decoding.events -> streams.batch.files",
                                    "streams.ingest.service -> streams.app.worker"]


def test_circles_are_found_through_any_number_of_modules() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": {"e"}}
    assert circles(graph) == [["a", "b", "c"]]


def test_imports_in_functions_and_under_type_checking_count(tmp_path: Path) -> None:
    package = tmp_path / "streams" / "labels"
    package.mkdir(parents=True)
    (tmp_path / "streams" / "__init__.py").write_text("")
    (package / "__init__.py").write_text("")
    (package / "low.py").write_text("")
    (package / "probe.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from streams.labels import low\n"
        "def f() -> None:\n    from . import low  # noqa\n    import streams.labels.low\n")
    graph = import_graph(tmp_path, ["streams"])
    assert graph["streams.labels.probe"] == {"streams.labels.low"}


@pytest.mark.parametrize("room", sorted(ROOMS))
def test_each_room_has_a_docstring(room: str) -> None:
    init = ROOT / "streams" / room / "__init__.py"
    assert ast.get_docstring(ast.parse(init.read_text(encoding="utf-8")))
