"""Writing committed generated files, or checking them and naming the stale ones."""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.config.generated import write_or_check

MESSAGE = "stale (run `make x`): {files}"


def test_writing_creates_the_folders_and_writes_every_file(tmp_path: Path) -> None:
    files = {tmp_path / "a.json": "a\n", tmp_path / "deep" / "b.json": "b\n"}
    assert write_or_check(files, check=False, stale_message=MESSAGE) == 0
    assert {p: p.read_text(encoding="utf-8") for p in files} == files


def test_a_fresh_check_passes_quietly(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    files = {tmp_path / "a.json": "a\n"}
    write_or_check(files, check=False, stale_message=MESSAGE)
    assert write_or_check(files, check=True, stale_message=MESSAGE) == 0
    assert capsys.readouterr().err == ""


def test_a_check_names_the_changed_and_missing_files_and_writes_nothing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    same, changed, missing = tmp_path / "same", tmp_path / "changed", tmp_path / "missing"
    same.write_text("s", encoding="utf-8")
    changed.write_text("old", encoding="utf-8")
    files = {same: "s", changed: "new", missing: "m"}
    assert write_or_check(files, check=True, stale_message=MESSAGE) == 1
    assert capsys.readouterr().err == f"stale (run `make x`): {changed}, {missing}\n"
    assert changed.read_text(encoding="utf-8") == "old"
    assert not missing.exists()
