"""The report page: well-formed, every column drawn, data escaped, nothing fetched."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

from detectors import DriftPolicy, ReferenceProfile
from detectors.reference import CategoricalReference, NumericReference
from detectors.sketch import WindowSketch
from streams.batch.compare import CompareRequest, run_compare
from streams.report.files import from_compare
from streams.report.model import MAX_CATEGORIES, OTHER, UNSEEN, bin_labels, distribution
from streams.report.page import render
from streams.report.svg import number, text
from tests.unit.streams.report.html_check import outside_references, read

HOSTILE = '<script>alert("x")</script>'
HOSTILE_VALUE = '"><img src=x onerror=alert(1)>&amp;'


def _tables(tmp_path: Path, n: int = 3000) -> tuple[Path, Path]:
    paths = []
    for seed, shift in ((1, 0.0), (2, 1.0)):
        rng = np.random.default_rng(seed)
        values = ["a", "b", HOSTILE_VALUE] + (["new <b>"] if shift else [])
        table = pa.table({
            "amount": rng.lognormal(3 + shift, 1, n),
            HOSTILE: rng.normal(shift, 1, n),
            "country": rng.choice(values, n),
            "score": rng.random(n),
            "label": (rng.random(n) < 0.3).astype(np.int64),
        })
        path = tmp_path / f"{'reference' if shift == 0 else 'current'}.csv"
        pacsv.write_csv(table, path)
        paths.append(path)
    return paths[0], paths[1]


@pytest.fixture
def page_text(tmp_path: Path) -> str:
    reference, current = _tables(tmp_path)
    # The classic verdict: the budget one wants 10,000 reference rows.
    result = run_compare(CompareRequest(reference, current, targets=("label",),
                                        predictions=("score",),
                                        policy=DriftPolicy.of("classic")))
    return render(from_compare(result))


def test_the_page_is_well_formed_and_names_every_column(page_text: str) -> None:
    page = read(page_text)
    assert page.problems == []
    assert sorted(page.headings) == sorted(["amount", HOSTILE, "country", "score", "label"])
    assert page_text.count('<section class="col"') == 5
    assert page_text.count('class="chart"') == 5
    assert "Dataset drift" in page_text


def test_hostile_names_and_values_stay_text(page_text: str) -> None:
    page = read(page_text)
    assert "<script" not in page_text
    assert "<img" not in page_text
    assert outside_references(page) == []
    assert HOSTILE in page.headings
    joined = "".join(page.texts)
    assert HOSTILE_VALUE in joined  # shown as the text it is, once unescaped
    assert "new <b>" in joined  # the unseen category, listed under the column
    assert text(HOSTILE) in page_text


def test_the_page_holds_no_url(page_text: str) -> None:
    assert "http://" not in page_text
    assert "https://" not in page_text
    assert "url(" not in page_text
    assert "@import" not in page_text


def test_the_page_draws_both_sides_and_the_thresholds(page_text: str) -> None:
    assert page_text.count('<rect class="ref"') > 10
    assert page_text.count('<rect class="cur"') > 10
    assert "psi 0." in page_text
    assert "warn 0.100, critical 0.250" in page_text
    assert "Performance" in page_text
    assert "accuracy" in page_text


def test_numbers_and_bin_labels() -> None:
    assert (number(None), number(0.5), number(3), number(1e-9)) == ("-", "0.500", "3", "1.0e-09")
    assert number(float("nan")) == "-"
    assert bin_labels((1.0, 2.5)) == ("≤1", "1–2.5", ">2.5")
    assert bin_labels(()) == ("all",)


def test_a_hundred_features_take_well_under_a_second_to_draw(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    n = 2000
    columns = {f"x{i}": rng.normal(i % 3 * 0.1, 1, n) for i in range(75)}
    columns.update({f"c{i}": rng.choice(list("abcdefghij"), n) for i in range(25)})
    pacsv.write_csv(pa.table(columns), tmp_path / "r.csv")
    pacsv.write_csv(pa.table(columns), tmp_path / "c.csv")
    result = run_compare(CompareRequest(tmp_path / "r.csv", tmp_path / "c.csv"))
    started = time.perf_counter()
    page_text = render(from_compare(result))
    assert time.perf_counter() - started < 1.0
    page = read(page_text)
    assert page.problems == []
    assert len(page.headings) == 100


def test_many_categories_fold_into_other_known_and_unseen_is_kept() -> None:
    names = np.array([f"k{i:02d}" for i in range(30)], dtype=object)
    reference = CategoricalReference.build("c", np.repeat(names, np.arange(30, 0, -1)))
    constant = NumericReference.build("x", np.full(50, 2.0))
    sketch = WindowSketch(ReferenceProfile((reference, constant), 465))
    sketch.update({"c": np.array(["k00", "k29", "new", "new"], dtype=object),
                   "x": np.array([1.0, 2.0, 3.0, 3.0])})
    drawn = distribution(reference, [int(c) for c in sketch.columns["c"].counts])
    assert len(drawn.labels) == MAX_CATEGORIES
    assert drawn.labels[-2:] == (OTHER, UNSEEN)
    assert drawn.current == (0.25, *[0.0] * 17, 0.25, 0.5)
    assert sum(drawn.reference) == pytest.approx(1.0)
    assert drawn.reference[-1] == 0.0
    numeric = distribution(constant, [int(c) for c in sketch.columns["x"].counts])
    assert numeric.reference == (0.0, 1.0, 0.0)
    assert numeric.current == (0.25, 0.25, 0.5)
    assert distribution(constant, None).current is None
    assert distribution(constant, [1, 2]).current is None  # counts of another reference
