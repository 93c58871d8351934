"""The layering of the packages: ``detectors/`` stays pure, ``client/`` stays light."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ALLOWED_IN_DETECTORS = {"numpy", "scipy", "river", "detectors", "__future__"}


def imported_roots(path: Path) -> set[str]:
    """Top-level module names imported by a source file (absolute imports only)."""
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def forbidden_imports(path: Path) -> set[str]:
    stdlib = set(sys.stdlib_module_names)
    return {name for name in imported_roots(path) if name not in stdlib | ALLOWED_IN_DETECTORS}


DETECTOR_FILES = sorted((ROOT / "detectors").rglob("*.py"))


def test_detectors_package_has_modules() -> None:
    assert len(DETECTOR_FILES) >= 5


@pytest.mark.parametrize("path", DETECTOR_FILES, ids=lambda p: p.name)
def test_detectors_import_only_numpy_scipy_river_and_stdlib(path: Path) -> None:
    assert forbidden_imports(path) == set()


@pytest.mark.parametrize("banned", ["asyncio", "logging", "random", "sqlalchemy", "faust"])
def test_checker_catches_forbidden_imports(tmp_path: Path, banned: str) -> None:
    stdlib_io = {"asyncio", "logging", "random"}
    probe = tmp_path / "probe.py"
    probe.write_text(f"import numpy\nfrom {banned} import x\n", encoding="utf-8")
    if banned in stdlib_io:
        assert imported_roots(probe) == {"numpy", banned}
    else:
        assert forbidden_imports(probe) == {banned}


IMPURE_STDLIB = {"asyncio", "logging", "socket", "random", "subprocess", "threading"}


@pytest.mark.parametrize("path", DETECTOR_FILES, ids=lambda p: p.name)
def test_detectors_do_no_io_logging_or_global_randomness(path: Path) -> None:
    assert imported_roots(path) & IMPURE_STDLIB == set()
    source = path.read_text(encoding="utf-8")
    assert "np.random.seed" not in source
    assert "open(" not in source


SOURCE_PACKAGES = ("detectors", "streams", "store", "alerting", "dashboards", "client")


def test_only_settings_reads_the_environment() -> None:
    readers = sorted(
        str(path.relative_to(ROOT))
        for package in SOURCE_PACKAGES
        for path in (ROOT / package).rglob("*.py")
        if "os.environ" in path.read_text(encoding="utf-8")
        or "os.getenv" in path.read_text(encoding="utf-8")
    )
    assert readers == ["streams/config/settings.py"]


def test_store_does_not_import_streams() -> None:
    for path in (ROOT / "store").rglob("*.py"):
        assert "streams" not in imported_roots(path), path


# ----- client/: what a model server imports stays light --------------------------------------

CLIENT_FILES = sorted((ROOT / "client").rglob("*.py"))
ALLOWED_IN_CLIENT = {"msgspec", "kafka", "aiokafka", "client", "streams", "__future__"}
HEAVY = ("numpy", "scipy", "river", "sklearn", "pyarrow", "sqlalchemy", "faust", "aiohttp",
         "kafka", "aiokafka", "detectors", "store", "alerting", "streams.config.settings",
         "streams.decoding.columns")


def test_client_package_has_modules() -> None:
    assert len(CLIENT_FILES) >= 4


def streams_modules(path: Path) -> set[str]:
    """The ``streams`` modules a source file imports."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module \
                and node.module.split(".")[0] == "streams":
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == "streams")
    return found


@pytest.mark.parametrize("path", CLIENT_FILES, ids=lambda p: p.name)
def test_client_imports_only_the_event_types_msgspec_and_kafka(path: Path) -> None:
    stdlib = set(sys.stdlib_module_names)
    assert {n for n in imported_roots(path) if n not in stdlib | ALLOWED_IN_CLIENT} == set()
    # streams.config.generated (client.schema's --check) imports only the standard library.
    assert streams_modules(path) <= {"streams.decoding.events", "streams.config.generated"}


def heavy_modules_loaded_by(statement: str) -> list[str]:
    """The ``HEAVY`` modules a fresh interpreter holds after running ``statement``."""
    probe = f"import sys\n{statement}\nprint(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         cwd=ROOT, check=True)
    return list(ast.literal_eval(run.stdout.strip()))


def test_importing_the_client_loads_neither_the_worker_nor_a_kafka_library() -> None:
    assert heavy_modules_loaded_by("import client, client.schema") == []


def test_the_import_probe_sees_heavy_modules() -> None:
    loaded = heavy_modules_loaded_by("import streams.config.settings")
    assert {"numpy", "streams.config.settings"} <= set(loaded)



# ----- tests/: helpers live in helper modules, never in another test module -----------------

TEST_FILES = sorted((ROOT / "tests").rglob("*.py"))


def imported_test_modules(path: Path) -> set[str]:
    """The ``test_*`` modules of ``tests/`` that a file imports (relative imports included)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names = [node.module or ""] + [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = "." * node.level + (node.module or "")
            names = [base] + [f"{base.rstrip('.')}.{a.name}" for a in node.names]
        else:
            continue
        found.update(name for name in names
                     if (name.startswith(("tests.", ".")) or name == "tests")
                     and any(part.startswith("test_") for part in name.split(".")))
    return found


def test_no_file_under_tests_imports_a_test_module() -> None:
    importers = {str(path.relative_to(ROOT)): sorted(imported_test_modules(path))
                 for path in TEST_FILES if imported_test_modules(path)}
    assert importers == {}


@pytest.mark.parametrize("statement", [
    "from tests.integration.test_worker import Worker",
    "import tests.unit.store.test_windows",
    "from tests.unit.store import test_windows",
    "from .test_join import preds",
    "from . import test_join",
])
def test_the_test_import_check_sees_every_form(tmp_path: Path, statement: str) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text(statement + "\n", encoding="utf-8")
    assert imported_test_modules(probe)


def test_the_test_import_check_lets_helpers_and_libraries_pass(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text("from aiohttp.test_utils import TestClient\n"
                     "from tests.integration.worker_harness import Worker\n"
                     "from .streams import rule\n", encoding="utf-8")
    assert imported_test_modules(probe) == set()
