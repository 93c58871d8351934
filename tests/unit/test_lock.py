"""The committed locks agree with ``pyproject.toml`` (``make lock`` refreshes them).

Checked offline, from the files alone:

- every dependency declared in ``pyproject.toml`` is pinned in the lock, at a version its
  range admits (for every pin of it: a universal lock may pin one per Python version);
- every pin the lock says is there for ``pyproject.toml`` is still declared there, so a
  dropped dependency does not linger in installs;
- the runtime lock (the ``Dockerfile``'s) pins the same versions as the test lock (``make
  test``'s and ``make demo``'s), so the image runs what the tests ran.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?==([^\s;\\]+)")
_DIRECT = "driftline (pyproject.toml)"


@dataclass(frozen=True)
class Pin:
    name: str
    version: str
    via: frozenset[str]


def parse_lock(text: str) -> list[Pin]:
    """The pins of a ``uv pip compile`` lock, each with the names in its ``# via`` notes."""
    pins: list[Pin] = []
    current: tuple[str, str] | None = None
    via: set[str] = set()
    for line in [*text.splitlines(), "end==0"]:
        found = _PIN.match(line)
        if found:
            if current is not None:
                pins.append(Pin(current[0], current[1], frozenset(via)))
            current, via = (canonicalize_name(found[1]), found[3]), set()
        elif line.strip().startswith("#"):
            note = line.strip().lstrip("#").strip()
            note = note.removeprefix("via").strip()
            if note:
                via.add(note)
    return pins


def declared(pyproject: str, extras: tuple[str, ...]) -> list[Requirement]:
    """The requirements ``pyproject.toml`` declares, with those of the named extras."""
    project = tomllib.loads(pyproject)["project"]
    texts = list(project["dependencies"])
    for extra in extras:
        texts += project["optional-dependencies"][extra]
    return [Requirement(text) for text in texts]


def disagreements(pyproject: str, lock: str, extras: tuple[str, ...]) -> list[str]:
    """What is wrong between a ``pyproject.toml`` and its lock, one line a problem."""
    requirements = declared(pyproject, extras)
    pins = parse_lock(lock)
    by_name: dict[str, list[Pin]] = {}
    for pin in pins:
        by_name.setdefault(pin.name, []).append(pin)
    problems: list[str] = []
    for requirement in requirements:
        name = canonicalize_name(requirement.name)
        if name not in by_name:
            problems.append(f"{requirement} is declared but not locked")
            continue
        for pin in by_name[name]:
            if not requirement.specifier.contains(pin.version, prereleases=True):
                problems.append(f"{requirement} is declared but {name}=={pin.version} is locked")
    names = {canonicalize_name(requirement.name) for requirement in requirements}
    for pin in pins:
        if _DIRECT in pin.via and pin.name not in names:
            problems.append(f"{pin.name}=={pin.version} is locked for pyproject.toml, "
                            "which no longer declares it")
    return problems


def _read(name: str) -> str:
    return (ROOT / name).read_text(encoding="utf-8")


@pytest.mark.parametrize(("lock", "extras"), [
    ("requirements-test.lock", ("test",)),
    ("requirements.lock", ()),
])
def test_lock_agrees_with_pyproject(lock: str, extras: tuple[str, ...]) -> None:
    assert disagreements(_read("pyproject.toml"), _read(lock), extras) == [], (
        f"{lock} is stale: run `make lock`")


def test_runtime_lock_pins_what_the_tests_ran() -> None:
    tested = {(pin.name, pin.version) for pin in parse_lock(_read("requirements-test.lock"))}
    runtime = parse_lock(_read("requirements.lock"))
    assert runtime, "requirements.lock pins nothing"
    assert [f"{p.name}=={p.version}" for p in runtime if (p.name, p.version) not in tested] == []


def test_every_pin_carries_hashes() -> None:
    for lock in ("requirements-test.lock", "requirements.lock"):
        lines = _read(lock).splitlines()
        pins = [i for i, line in enumerate(lines) if _PIN.match(line)]
        assert pins, lock
        unhashed = [lines[i] for i in pins
                    if i + 1 == len(lines) or not lines[i + 1].lstrip().startswith("--hash=")]
        assert unhashed == [], lock


# ----- the check itself can fail ---------------------------------------------------------------
_PYPROJECT = """
[project]
name = "x"
dependencies = ["numpy>=2,<3", "psycopg[binary]>=3.1"]
[project.optional-dependencies]
test = ["pytest>=8"]
"""
_LOCK = """\
numpy==2.4.6 ; python_full_version < '3.12' \\
    --hash=sha256:00
    # via driftline (pyproject.toml)
numpy==2.5.5 ; python_full_version >= '3.12' \\
    --hash=sha256:01
    # via driftline (pyproject.toml)
psycopg==3.2.0 \\
    --hash=sha256:02
    # via driftline (pyproject.toml)
pytest==9.0.0 \\
    --hash=sha256:03
    # via driftline (pyproject.toml)
iniconfig==2.0 \\
    --hash=sha256:04
    # via pytest
"""


def test_a_matching_lock_passes() -> None:
    assert disagreements(_PYPROJECT, _LOCK, ("test",)) == []


def test_a_new_dependency_is_caught() -> None:
    pyproject = _PYPROJECT.replace('"pytest>=8"', '"pytest>=8", "hypothesis>=6"')
    assert disagreements(pyproject, _LOCK, ("test",)) == [
        "hypothesis>=6 is declared but not locked"]


def test_a_narrowed_range_is_caught_on_every_pin() -> None:
    pyproject = _PYPROJECT.replace("numpy>=2,<3", "numpy>=2,<2.5")
    assert disagreements(pyproject, _LOCK, ("test",)) == [
        "numpy<2.5,>=2 is declared but numpy==2.5.5 is locked"]


def test_a_dropped_dependency_is_caught() -> None:
    pyproject = _PYPROJECT.replace('test = ["pytest>=8"]', "test = []")
    assert disagreements(pyproject, _LOCK, ("test",)) == [
        "pytest==9.0.0 is locked for pyproject.toml, which no longer declares it"]
