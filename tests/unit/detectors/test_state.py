"""Snapshots of sketches and row samples: a restored sketch continues exactly."""

from __future__ import annotations

import json

import numpy as np
import pytest

from detectors.batch import build_profile
from detectors.rowsample import RowSample
from detectors.sketch import WindowSketch
from detectors.state import rows_from_dict, rows_to_dict, sketch_from_dict, sketch_to_dict
from detectors.verdict import evaluate

RNG = np.random.default_rng(21)
PROFILE = build_profile(
    {"x": RNG.normal(size=2_000), "c": RNG.choice(list("abc"), 2_000).astype(object)},
    {"x": "numeric", "c": "categorical"},
)


def _batch(seed: int, n: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(0.2, 1.0, n)
    x[::9] = np.nan
    return {"x": x, "c": rng.choice(list("abcdz"), n).astype(object)}


@pytest.mark.parametrize("cap", [50, 100_000])
def test_restored_sketch_continues_like_an_uninterrupted_one(cap: int) -> None:
    whole = WindowSketch(PROFILE, sample_cap=cap, max_unseen=2)
    first = WindowSketch(PROFILE, sample_cap=cap, max_unseen=2)
    for i in range(3):
        whole.update(_batch(i, 400))
        first.update(_batch(i, 400))
    text = json.dumps(sketch_to_dict(first), allow_nan=False)
    restored = sketch_from_dict(PROFILE, json.loads(text))
    for i in range(3, 6):
        whole.update(_batch(i, 400))
        restored.update(_batch(i, 400))
    assert evaluate(PROFILE, restored).to_dict() == evaluate(PROFILE, whole).to_dict()


def test_snapshot_of_another_reference_is_refused() -> None:
    other = build_profile({"y": np.arange(10.0)}, {"y": "numeric"})
    snapshot = sketch_to_dict(WindowSketch(PROFILE))
    with pytest.raises(ValueError, match="columns do not match"):
        sketch_from_dict(other, snapshot)
    with pytest.raises(ValueError, match="snapshot version must be 1, got 7"):
        sketch_from_dict(PROFILE, {**snapshot, "version": 7})


def test_row_sample_keeps_rows_aligned_and_round_trips() -> None:
    sample = RowSample(100)
    keys = np.arange(300, dtype=np.uint64) * np.uint64(2654435761)
    x = np.arange(300, dtype=np.float64)
    label = np.array([f"r{i}" for i in range(300)], dtype=object)
    sample.add({"x": x[:150], "label": label[:150]}, keys[:150])
    sample.add({"x": x[150:]}, keys[150:])  # a column absent from a batch is missing
    restored = rows_from_dict(json.loads(json.dumps(rows_to_dict(sample))))
    assert restored.n_seen == 300
    assert restored.priorities.size == 100
    chosen = set(np.argsort(keys)[:100].tolist())
    assert set(restored.columns()["x"].astype(int).tolist()) == chosen
    for value, name, absent in zip(restored.data["x"], restored.data["label"],
                                   restored.missing()["label"], strict=True):
        assert absent == (value >= 150)
        assert absent or name == f"r{int(value)}"


def test_row_sample_merge_equals_one_sample_of_both() -> None:
    keys = np.arange(500, dtype=np.uint64) * np.uint64(0x9E3779B1)
    x = np.arange(500, dtype=np.float64)
    whole, left, right = RowSample(64), RowSample(64), RowSample(64)
    whole.add({"x": x}, keys)
    left.add({"x": x[:200]}, keys[:200])
    right.add({"x": x[200:]}, keys[200:])
    left.merge(right)
    assert sorted(left.data["x"].tolist()) == sorted(whole.data["x"].tolist())
    assert left.n_seen == whole.n_seen == 500


def test_restored_text_rows_share_one_string_per_value() -> None:
    sample = RowSample(100)
    sample.add({"c": np.array(["alpha", "beta", None] * 20, dtype=object)},
               np.arange(60, dtype=np.uint64))
    restored = rows_from_dict(json.loads(json.dumps(rows_to_dict(sample))))
    texts = [v for v in restored.data["c"].tolist() if v is not None]
    assert sorted(set(texts)) == ["alpha", "beta"]
    assert len(texts) == 40
    assert len({id(v) for v in texts}) == 2


def test_only_columns_with_a_missing_value_keep_a_mask() -> None:
    sample = RowSample(100)
    x = np.arange(60, dtype=np.float64)
    sample.add({"x": x, "y": x.copy()}, np.arange(60, dtype=np.uint64),
               {"y": np.arange(60) == 7})
    assert sample.masks["x"] is None
    assert sample.missing()["x"].tolist() == [False] * 60
    assert np.flatnonzero(sample.missing()["y"]).tolist() == [7]
    restored = rows_from_dict(json.loads(json.dumps(rows_to_dict(sample))))
    assert restored.masks["x"] is None
    assert np.flatnonzero(restored.missing()["y"]).tolist() == [7]
    sample.add({"z": x}, np.arange(60, 120, dtype=np.uint64))  # x and y absent: missing
    assert sample.missing()["x"].sum() == 40
    assert sample.missing()["z"].sum() == 60
