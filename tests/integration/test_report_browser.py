"""``driftline report`` in a real browser: Debian's Chromium opens the page from disk, with
no network, and finds no console error; the screenshots are kept under the test's tmp path.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow.csv as pacsv
import pytest

from store import make_engine
from streams.batch.compare import CompareRequest, run_compare
from streams.devtools.examples import synthetic_table
from streams.devtools.report_data import fill
from streams.report.files import from_compare
from streams.report.page import render
from streams.report.stored import from_store
from tests.browser import open_page

pytestmark = pytest.mark.integration

COUNT = {"columns": "document.querySelectorAll('section.col').length",
         "charts": "document.querySelectorAll('svg.chart').length",
         "scripts": "document.scripts.length",
         "width": "document.querySelector('svg.chart').getBoundingClientRect().width"}


def _open(page: Path, tmp_path: Path, name: str) -> dict[str, object]:
    screenshot = tmp_path / f"{name}.png"
    visit = open_page(page, screenshot, COUNT)
    print(f"report: {page}\nscreenshot: {screenshot}")
    assert visit.problems == []
    assert visit.requests == []
    assert screenshot.stat().st_size > 10_000
    return visit.values


def test_the_compare_example_report_opens_cleanly(tmp_path: Path) -> None:
    pacsv.write_csv(synthetic_table(20_000, drift=False, seed=1), tmp_path / "reference.csv")
    pacsv.write_csv(synthetic_table(20_000, drift=True, seed=2), tmp_path / "current.csv")
    result = run_compare(CompareRequest(tmp_path / "reference.csv", tmp_path / "current.csv",
                                        targets=("label",), predictions=("score", "prediction")))
    page = tmp_path / "compare.html"
    page.write_text(render(from_compare(result)), encoding="utf-8")
    values = _open(page, tmp_path, "compare")
    assert values["columns"] == 9
    assert values["charts"] == 9
    assert values["scripts"] == 0
    assert values["width"] == 560


def test_the_stored_windows_report_opens_cleanly(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    try:
        fill(engine, n_features=6, n_windows=12, rows=500, reference_rows=10_000)
        with engine.connect() as conn:
            data = from_store(conn, "fraud", "1")
    finally:
        engine.dispose()
    page = tmp_path / "stored.html"
    page.write_text(render(data), encoding="utf-8")
    values = _open(page, tmp_path, "stored")
    assert values["columns"] == 7
    assert values["scripts"] == 0


def test_the_browser_check_sees_console_errors_and_requests(tmp_path: Path) -> None:
    page = tmp_path / "broken.html"
    page.write_text('<!DOCTYPE html><html><head><title>x</title></head><body>'
                    '<script>console.error("broken")</script>'
                    '<img src="http://192.0.2.1/x.png"></body></html>', encoding="utf-8")
    visit = open_page(page, tmp_path / "broken.png")
    assert "console.error: broken" in visit.problems
    assert visit.requests == ["http://192.0.2.1/x.png"]
