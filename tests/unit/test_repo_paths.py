"""No tracked file points outside the repository: whatever a user needs is in it.

A reference counts as outside when it names a design note kept elsewhere, a
sibling folder of the checkout, a path of the build machine (``BANNED``), or a
relative path that climbs above the repository from the file that holds it.
Markdown links must also name files that exist in the repository.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Built from parts, so that this file does not match itself.
BANNED = ("DESIGN" + ".md", "../" + "shared", "/work" + "/")
CLIMB = re.compile(r"(?<![\w./])((?:\.\./)+[\w.-]*)")
LINK = re.compile(r"\]\(([^)\s]+)\)")


def tracked_files() -> list[Path]:
    """The repository's files (``git ls-files``; every file outside ignored folders
    when this is not a git checkout)."""
    try:
        listed = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-z"], check=True,
                                capture_output=True).stdout.decode().split("\0")
        return [ROOT / name for name in listed if name and (ROOT / name).is_file()]
    except (OSError, subprocess.CalledProcessError):
        skip = {".git", ".venv", ".mypy_cache", ".pytest_cache", ".ruff_cache", ".demo"}
        return [p for p in ROOT.rglob("*")
                if p.is_file() and not skip & set(p.relative_to(ROOT).parts)]


def text_of(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (UnicodeDecodeError, OSError):
        return None


def outside_references(path: Path, text: str) -> list[str]:
    """What ``text`` (the content of ``path``) names outside the repository."""
    found = [f"{path.name}: {word}" for word in BANNED if word in text]
    for match in CLIMB.finditer(text):
        target = (path.parent / match.group(1)).resolve()
        if not target.is_relative_to(ROOT):
            found.append(f"{path.name}: {match.group(1)} climbs out of the repository")
    if path.suffix == ".md":
        for link in LINK.findall(text):
            if re.match(r"[a-z]+:|#", link):
                continue  # a URL or an anchor
            target = (path.parent / link.split("#")[0]).resolve()
            if not target.is_relative_to(ROOT) or not target.exists():
                found.append(f"{path.name}: link {link} names no file of the repository")
    return found


FILES = tracked_files()


def test_the_repository_lists_its_files() -> None:
    names = {p.relative_to(ROOT).as_posix() for p in FILES}
    assert {"README.md", "docs/events.md", "streams/decoding/events.py"} <= names


def test_no_tracked_file_references_a_path_outside_the_repository() -> None:
    problems = [problem for path in FILES if (text := text_of(path)) is not None
                for problem in outside_references(path, text)]
    assert problems == []


@pytest.mark.parametrize("text", [
    "the schema in `../" + "shared/DESIGN" + ".md` says",
    "see DESIGN" + ".md",
    "notes in /work" + "/shared/notes.txt",
    "run " + "../" * 6 + "elsewhere/tool",
    "[the design](../../outside.md)",
    "[events](docs/missing.md)",
])
def test_the_check_catches_outside_references(text: str) -> None:
    assert outside_references(ROOT / "README.md", text) != []


@pytest.mark.parametrize("text", [
    "[events](docs/events.md#time)", "[site](https://example.com/a/../b)",
    "see ../rules/driftline.yml", "[top](#driftline)",
])
def test_the_check_allows_references_inside(text: str) -> None:
    here = ROOT / "dashboards" / "prometheus" / "tests" / "driftline.yml"
    path = ROOT / "README.md" if "](" in text else here
    assert outside_references(path, text) == []
