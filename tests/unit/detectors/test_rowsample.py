"""Row samples: the k smallest priorities, rows aligned, held compactly, snapshots old and new."""

from __future__ import annotations

import base64
import json
from typing import Any

import numpy as np
import pytest

from detectors._sampling import row_priorities
from detectors.rowsample import MAX_TEXTS, RowSample
from detectors.state import rows_from_dict, rows_to_dict

CATEGORIES = np.array([f"cat-{i}" for i in range(300)], dtype=object)


def _batch(rng: np.random.Generator, n: int, batch: int
           ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Columns of several kinds; some absent from some batches, some with missing rows."""
    columns: dict[str, np.ndarray] = {
        "count": rng.integers(0, 40, n).astype(np.float64),
        "price": np.round(rng.lognormal(3.0, 1.0, n), 2),
        "raw": rng.normal(size=n),
        "colour": CATEGORIES[rng.integers(0, 5, n)].copy(),
        "city": CATEGORIES[rng.integers(0, 300, n)].copy(),
    }
    if batch % 3 == 1:
        del columns["raw"]
    if batch >= 2:
        columns["late"] = np.round(rng.random(n), 3)
    missing = {"price": rng.random(n) < 0.1}
    columns["price"][missing["price"]] = np.nan
    columns["city"][rng.random(n) < 0.05] = None
    return columns, missing


def _rows(sample: RowSample) -> dict[int, tuple[Any, ...]]:
    """Each row by priority: its values (NaN as None) and missing flags, column by column."""
    columns, missing = sample.columns(), sample.missing()
    names = sorted(columns)
    table = {}
    for i, priority in enumerate(sample.priorities.tolist()):
        values = []
        for name in names:
            value = columns[name][i]
            if isinstance(value, float) and np.isnan(value):
                value = None
            values.append((value, bool(missing[name][i])))
        table[priority] = tuple(values)
    return table


def _expected(batches: list[tuple[dict[str, np.ndarray], dict[str, np.ndarray], np.ndarray]],
              k: int) -> dict[int, tuple[Any, ...]]:
    """The k smallest priorities of all rows, from a sample that holds everything."""
    whole = RowSample(10**9)
    for columns, missing, priorities in batches:
        whole.add(columns, priorities, missing)
    rows = _rows(whole)
    return {p: rows[p] for p in sorted(rows)[:k]}


@pytest.mark.parametrize(("k", "n", "batches"), [(50, 40, 12), (1_000, 700, 8), (64, 1, 200)])
def test_a_sample_keeps_the_rows_of_the_k_smallest_priorities(k: int, n: int,
                                                                batches: int) -> None:
    rng = np.random.default_rng(k + n)
    fed = []
    sample = RowSample(k)
    for b in range(batches):
        columns, missing = _batch(rng, n, b)
        priorities = row_priorities(np.arange(b * n, (b + 1) * n, dtype=np.uint64))
        fed.append((columns, missing, priorities))
        sample.add(columns, priorities, missing)
    assert sample.n_seen == n * batches
    assert _rows(sample) == _expected(fed, k)
    restored = rows_from_dict(json.loads(json.dumps(rows_to_dict(sample))))
    assert _rows(restored) == _rows(sample)
    assert restored.n_seen == sample.n_seen


def test_a_large_sample_holds_integers_decimals_and_categories_narrowly() -> None:
    k = 2_000
    rng = np.random.default_rng(3)
    sample = RowSample(k)
    for b in range(5):
        columns, missing = _batch(rng, 1_000, 0)
        sample.add(columns, row_priorities(np.arange(b * 1_000, (b + 1) * 1_000,
                                                      dtype=np.uint64)), missing)
    # Bytes a row: count 1, price 4, raw 8, colour 1, city 2 (300 texts), priority 8, and
    # the masks of price and city 1 each.
    tables = 8 * (1 + 5) + 8 * (1 + 300)
    assert sample.nbytes == k * (1 + 4 + 8 + 1 + 2 + 8 + 2) + tables
    codes, table = sample.text_codes("colour")
    assert codes.dtype == np.uint8
    assert sorted(t for t in table if t is not None) == CATEGORIES[:5].tolist()
    assert (np.array(table, dtype=object)[codes] == sample.columns()["colour"]).all()
    with pytest.raises(ValueError, match="not text"):
        sample.text_codes("count")


def test_a_value_with_more_digits_widens_its_column_without_loss() -> None:
    sample = RowSample(4)
    sample.add({"x": np.array([1.0, 2.0, 3.0])}, np.array([10, 20, 30], np.uint64))
    sample.add({"x": np.array([9.0, 2.5])}, np.array([40, 5], np.uint64))  # 9.0 stays out
    assert sorted(sample.columns()["x"].tolist()) == [1.0, 2.0, 2.5, 3.0]
    sample.add({"x": np.array([0.1 + 0.2, 1e300])}, np.array([1, 2], np.uint64))
    assert sorted(sample.columns()["x"].tolist()) == [0.30000000000000004, 1.0, 2.5, 1e300]


def test_text_tables_stay_bounded_while_texts_come_and_go() -> None:
    k = 500
    sample = RowSample(k)
    for b in range(40):  # 1,000 new texts a batch, most of them pushed out again
        texts = np.array([f"id-{b}-{i}" for i in range(1_000)], dtype=object)
        sample.add({"id": texts}, row_priorities(np.arange(b * 1_000, (b + 1) * 1_000,
                                                           dtype=np.uint64)))
    codes, table = sample.text_codes("id")
    assert len(table) <= 2 * k + 256 + 1_000
    values = sample.columns()["id"]
    assert len(set(values.tolist())) == k
    assert (np.array(table, dtype=object)[codes] == values).all()


def test_identifiers_beyond_the_table_limit_keep_a_pointer_a_row() -> None:
    n = MAX_TEXTS + 10
    sample = RowSample(n)
    texts = np.array([f"req-{i}" for i in range(n)], dtype=object)
    sample.add({"id": texts}, np.arange(n, dtype=np.uint64))
    assert sample.nbytes == n * (8 + 8)  # priority and pointer
    assert sample.columns()["id"].tolist() == texts.tolist()
    restored = rows_from_dict(json.loads(json.dumps(rows_to_dict(sample))))
    assert restored.columns()["id"].tolist() == texts.tolist()


def test_a_numeric_column_that_gets_text_keeps_both() -> None:
    sample = RowSample(10)
    sample.add({"x": np.array([1.5, np.nan])}, np.array([1, 2], np.uint64),
               {"x": np.array([False, True])})
    sample.add({"x": np.array(["a", None], dtype=object)}, np.array([3, 4], np.uint64))
    assert sample.columns()["x"].tolist()[0] == 1.5
    assert sample.columns()["x"].tolist()[2:] == ["a", None]
    assert sample.missing()["x"].tolist() == [False, True, False, True]


def test_a_snapshot_saves_text_as_codes_and_only_the_masks_kept() -> None:
    sample = RowSample(100)
    sample.add({"c": np.array(["b", "a", None, "b"], dtype=object),
                "x": np.array([1.0, 2.0, 3.0, 4.0])}, np.arange(4, dtype=np.uint64))
    snapshot = rows_to_dict(sample)
    assert snapshot["version"] == 2
    assert snapshot["columns"]["c"]["table"] == [None, "b", "a"]
    assert "missing" in snapshot["columns"]["c"]
    assert "missing" not in snapshot["columns"]["x"]


def test_a_snapshot_of_the_first_format_is_restored() -> None:
    # As workers before format 2 wrote it: text one value per row, every column's mask.
    def pack(values: list[Any], dtype: str) -> str:
        return base64.b64encode(np.array(values, dtype=dtype).tobytes()).decode("ascii")

    old = {"version": 1, "capacity": 100, "n_seen": 7, "priorities": pack([9, 4, 6], "<u8"),
           "columns": {
               "c": {"kind": "text", "values": ["DE", None, "DE"],
                     "missing": pack([0, 1, 0], "u1")},
               "x": {"kind": "float", "values": pack([1.5, np.nan, 3.0], "<f8"),
                     "missing": pack([0, 1, 0], "u1")},
               "y": {"kind": "float", "values": pack([1.0, 2.0, 3.0], "<f8"),
                     "missing": pack([0, 0, 0], "u1")}}}
    sample = rows_from_dict(json.loads(json.dumps(old)))
    assert sample.n_seen == 7
    assert sample.capacity == 100
    assert sample.priorities.tolist() == [9, 4, 6]
    assert sample.columns()["c"].tolist() == ["DE", None, "DE"]
    assert sample.columns()["c"][0] is sample.columns()["c"][2]  # one str per text
    assert np.isnan(sample.columns()["x"][1])
    assert sample.masks["y"] is None
    assert sample.missing()["x"].tolist() == [False, True, False]
    sample.add({"x": np.array([0.5])}, np.array([1], np.uint64))  # it goes on as a sample
    assert sorted(sample.priorities.tolist()) == [1, 4, 6, 9]
    with pytest.raises(ValueError, match="version must be 1 or 2, got 3"):
        rows_from_dict({**old, "version": 3})
