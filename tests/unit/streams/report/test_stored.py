"""Reports of stored windows: the range, the timeline, and the CLI of both sources."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pyarrow.csv as pacsv
import pytest
from click.testing import CliRunner
from sqlalchemy import select, update
from sqlalchemy.engine import Engine

from store import make_engine
from store.ranges import detections_between, performance_between, windows_between
from store.tables import windows
from streams.cli.main import main
from streams.devtools.examples import synthetic_table
from streams.devtools.report_data import START, WINDOW, fill
from streams.report.page import render
from streams.report.stored import NO_CURRENT, NoWindowsError, from_store
from tests.unit.streams.report.html_check import outside_references, read

N_WINDOWS = 6


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('report') / 'store.db'}"
    engine = make_engine(url)
    fill(engine, n_features=4, n_windows=N_WINDOWS, rows=400, reference_rows=10_000)
    engine.dispose()
    return url


@pytest.fixture
def engine(database: str) -> Engine:
    return make_engine(database)


def test_the_range_keeps_windows_that_start_in_it(engine: Engine) -> None:
    with engine.connect() as conn:
        assert len(windows_between(conn, "fraud", "1")) == N_WINDOWS
        inside = windows_between(conn, "fraud", "1", START + WINDOW, START + 3 * WINDOW)
        assert [w["window_start"] for w in inside] == ["2026-11-22T10:05:00Z",
                                                       "2026-11-22T10:10:00Z"]
        assert len(performance_between(conn, "fraud", "1", START + WINDOW,
                                       START + 3 * WINDOW)) == 2
        assert windows_between(conn, "fraud", "2") == []
        assert len(detections_between(conn, "fraud", "1")) == 1
        assert detections_between(conn, "fraud", "1", until=START + WINDOW) == []


def test_a_stored_report_draws_the_windows_counts_beside_the_reference(engine: Engine
                                                                       ) -> None:
    with engine.connect() as conn:
        data = from_store(conn, "fraud", "1")
        rows = windows_between(conn, "fraud", "1")
    assert data.timeline is not None
    assert len(data.timeline.times) == N_WINDOWS
    assert data.timeline.detection_windows == (N_WINDOWS * 3 // 4,)
    assert set(data.timeline.performance) == {"accuracy", "f1"} == set(data.timeline.estimate)
    assert NO_CURRENT not in data.notes
    newest = {c["name"]: c for c in (*rows[-1]["features"], *rows[-1]["predictions"])}
    for name in ("f000", "score"):
        counts = newest[name]["counts"]
        # Every value of the newest window is in exactly one bin.
        assert sum(counts) == newest[name]["n_current"]
        current = data.distributions[name].current
        assert current == pytest.approx([v / sum(counts) for v in counts], abs=1e-15)
    with_drift = sum(1 for r in rows if any(c["drifted"] for c in (*r["features"],
                                                                    *r["predictions"])))
    assert (f"{sum(r['status'] == 'drift' for r in rows)} had dataset drift and "
            f"{with_drift} at least one drifted column") in data.notes[0]
    html = render(data)
    page = read(html)
    assert page.problems == []
    assert outside_references(page) == []
    assert sorted(page.headings) == ["f000", "f001", "f002", "f003", "score"]
    assert "Over time" in html
    assert "adwin" in html
    assert "drift share over time" in html
    assert html.count('<polyline class="effect"') == 5


def test_windows_stored_without_counts_draw_the_reference_alone(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    fill(engine, n_features=2, n_windows=2, rows=200, reference_rows=2_000)
    with engine.begin() as conn:
        for row in conn.execute(select(windows.c.id, windows.c.report)).all():
            report = dict(row.report)
            for key in ("features", "predictions", "targets"):
                report[key] = [{k: v for k, v in c.items() if k != "counts"}
                               for c in report[key]]
            conn.execute(update(windows).where(windows.c.id == row.id).values(report=report))
    with engine.connect() as conn:
        data = from_store(conn, "fraud", "1")
    assert NO_CURRENT in data.notes
    assert data.distributions
    assert all(d.current is None for d in data.distributions.values())
    assert read(render(data)).problems == []


def test_an_empty_range_is_an_error(engine: Engine) -> None:
    with engine.connect() as conn, pytest.raises(NoWindowsError, match="no stored window"):
        from_store(conn, "fraud", "1", since=datetime(2030, 1, 1, tzinfo=UTC))


def test_the_command_writes_a_report_of_stored_windows(database: str, tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    result = CliRunner().invoke(main, ["report", "--model", "fraud", "--model-version", "1",
                                       "--since", "2026-11-22T10:05", "--until",
                                       (START + 4 * WINDOW).isoformat(), "--database",
                                       database, "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"wrote {out} (5 columns, ")
    assert "3 windows" in out.read_text(encoding="utf-8")


def test_the_command_writes_a_report_of_two_files(tmp_path: Path) -> None:
    pacsv.write_csv(synthetic_table(2000, drift=False, seed=1), tmp_path / "ref.csv")
    pacsv.write_csv(synthetic_table(2000, drift=True, seed=2), tmp_path / "cur.csv")
    out = tmp_path / "r.html"
    result = CliRunner().invoke(main, [
        "report", "--reference", str(tmp_path / "ref.csv"), "--current",
        str(tmp_path / "cur.csv"), "--target", "label", "--prediction", "score",
        "--verdict", "classic", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert read(out.read_text(encoding="utf-8")).problems == []


@pytest.mark.parametrize(("args", "message"), [
    ([], "give either --reference and --current, or --model and --model-version"),
    (["--reference", "a.csv"], "--reference and --current go together"),
    (["--model", "fraud"], "--model needs --model-version"),
    (["--model", "fraud", "--reference", "a.csv"],
     "give either --reference and --current, or --model and --model-version"),
    (["--reference", "nope.csv", "--current", "nope.csv"], "nope.csv: no such file"),
])
def test_bad_arguments_are_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    result = CliRunner().invoke(main, ["report", "--out", str(tmp_path / "r.html"), *args])
    assert result.exit_code == 2
    assert result.output == f"driftline: error: {message}\n"


def test_no_window_in_the_range_is_one_line(database: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["report", "--model", "fraud", "--model-version", "9",
                                       "--database", database, "--out",
                                       str(tmp_path / "r.html")])
    assert result.exit_code == 2
    assert result.output == ("driftline: error: no stored window of model 'fraud' version "
                             "'9' in the beginning to now\n")
    assert not (tmp_path / "r.html").exists()


def test_a_bad_time_is_refused(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["report", "--model", "m", "--model-version", "1",
                                       "--since", "yesterday", "--out", str(tmp_path / "x")])
    assert result.exit_code == 2
    assert "'yesterday' is not an ISO 8601 time" in result.output

