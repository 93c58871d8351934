"""Window sketches: mergeable, constant in memory, exact KS while the window fits."""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray
from scipy import stats as sps

from detectors.batch import build_profile
from detectors.reference import ReferenceProfile
from detectors.sketch import CategoricalSketch, NumericSketch, WindowSketch
from detectors.verdict import evaluate, ks_error_bound

REF_RNG = np.random.default_rng(11)
PROFILE = build_profile(
    {
        "x": REF_RNG.normal(size=3_000),
        "c": REF_RNG.choice(list("abcde"), 3_000, p=[.4, .3, .2, .05, .05]).astype(object),
    },
    {"x": "numeric", "c": "categorical"},
)
CATEGORY_POOL = ["a", "b", "c", "d", "e", "new1", "new2", "new3", "new4", "new5", "new6"]


def _rows(seed: int, n: int) -> tuple[dict[str, NDArray[Any]], NDArray[np.bool_]]:
    rng = np.random.default_rng(seed)
    x = rng.normal(0.3, 1.2, n)
    x[rng.random(n) < 0.05] = np.nan
    x[rng.random(n) < 0.02] = np.inf
    c = rng.choice(CATEGORY_POOL, n).astype(object)
    c[rng.random(n) < 0.05] = None
    return {"x": x, "c": c}, rng.random(n) < 0.03


def _sketch(batch: dict[str, NDArray[Any]], missing: NDArray[np.bool_], keys: NDArray[np.uint64],
            cap: int, max_unseen: int = 3) -> WindowSketch:
    sketch = WindowSketch(PROFILE, sample_cap=cap, max_unseen=max_unseen, seed=4)
    return sketch.update(batch, missing={"x": missing}, row_keys=keys)


def _state(sketch: WindowSketch) -> dict[str, Any]:
    x, c = sketch.columns["x"], sketch.columns["c"]
    assert isinstance(x, NumericSketch)
    assert isinstance(c, CategoricalSketch)
    x.sample.compact()
    order = np.lexsort((x.sample.values, x.sample.priorities))
    return {
        "n_rows": sketch.n_rows,
        "x_counts": x.counts.tolist(),
        "x_n": (x.n, x.n_missing, x.n_nan, x.n_inf),
        "x_sample": x.sample.values[order].tolist(),
        "x_priorities": x.sample.priorities[order].tolist(),
        "x_min_max": (x.moments.min, x.moments.max),
        "c_counts": c.counts.tolist(),
        "c_missing": c.n_missing,
        "c_unseen": dict(sorted(c.unseen.items())),
    }


def _moments(sketch: WindowSketch) -> tuple[float, float]:
    x = sketch.columns["x"]
    assert isinstance(x, NumericSketch)
    return x.moments.mean, x.moments.m2


def _split(n: int, cuts: list[int]) -> list[slice]:
    points = [0, *sorted(min(c, n) for c in cuts), n]
    return [slice(a, b) for a, b in itertools.pairwise(points)]


@given(n=st.integers(0, 400), cuts=st.lists(st.integers(0, 400), min_size=1, max_size=3),
       cap=st.sampled_from([10, 50, 1_000]), seed=st.integers(0, 10_000))
@settings(max_examples=120, deadline=None)
def test_merging_parts_equals_the_whole(n: int, cuts: list[int], cap: int, seed: int) -> None:
    batch, missing = _rows(seed, n)
    keys = np.arange(n, dtype=np.uint64) * np.uint64(7919)
    whole = _sketch(batch, missing, keys, cap)
    parts = [
        _sketch({k: v[s] for k, v in batch.items()}, missing[s], keys[s], cap)
        for s in _split(n, cuts)
    ]
    merged = parts[0]
    for part in parts[1:]:
        merged.merge(part)
    assert _state(merged) == _state(whole)
    np.testing.assert_allclose(_moments(merged), _moments(whole), rtol=1e-9, atol=1e-9)


@given(seed=st.integers(0, 10_000), sizes=st.tuples(*[st.integers(0, 150)] * 3))
@settings(max_examples=60, deadline=None)
def test_merge_is_associative_and_commutative(seed: int, sizes: tuple[int, int, int]) -> None:
    def part(i: int) -> WindowSketch:
        batch, missing = _rows(seed + i, sizes[i])
        start = sum(sizes[:i])
        keys = np.arange(start, start + sizes[i], dtype=np.uint64)
        return _sketch(batch, missing, keys, cap=40)

    left = part(0).merge(part(1)).merge(part(2))
    right = part(0).merge(part(1).merge(part(2)))
    swapped = part(2).merge(part(0)).merge(part(1))
    assert _state(left) == _state(right) == _state(swapped)


def test_counts_missing_nan_inf_and_unseen() -> None:
    sketch = WindowSketch(PROFILE)
    sketch.update(
        {"x": np.array([0.0, np.nan, np.inf, -np.inf, 5.0, 1.0]),
         "c": np.array(["a", None, "zzz", "zzz", "b", "a"], dtype=object)},
        missing={"x": np.array([False, False, False, False, False, True])},
    )
    x, c = sketch.columns["x"], sketch.columns["c"]
    assert isinstance(x, NumericSketch)
    assert isinstance(c, CategoricalSketch)
    assert (x.n, x.n_missing, x.n_nan, x.n_inf) == (2, 1, 1, 2)
    assert x.sample.sorted_values().tolist() == [0.0, 5.0]
    assert (c.n, c.n_missing, c.n_unseen, c.unseen) == (5, 1, 2, {"zzz": 2})
    sketch.update({"x": np.array([1.0])})  # a column absent from a batch is missing
    assert c.n_missing == 2


def test_memory_is_constant_in_the_window_size() -> None:
    sketch = WindowSketch(PROFILE, sample_cap=1_000, max_unseen=10)
    rng = np.random.default_rng(8)
    for i in range(200):
        sketch.update({"x": rng.normal(size=5_000),
                       "c": np.array([f"u{i}-{j}" for j in range(50)] * 100, dtype=object)})
    x, c = sketch.columns["x"], sketch.columns["c"]
    assert isinstance(x, NumericSketch)
    assert isinstance(c, CategoricalSketch)
    assert sketch.n_rows == 1_000_000
    assert sketch.samples.nbytes <= 2 * 1_000 * 16
    assert x.counts.size == len(PROFILE["x"].edges) + 1  # type: ignore[union-attr]
    assert len(c.unseen) == 10
    assert c.n_unseen == 1_000_000


def test_ks_and_wasserstein_are_exact_while_the_window_fits() -> None:
    rng = np.random.default_rng(9)
    ref_x, cur_x = rng.normal(size=20_000), rng.normal(0.05, 1.1, size=15_000)
    profile = build_profile({"x": ref_x}, {"x": "numeric"})
    sketch = WindowSketch(profile)
    for part in np.array_split(cur_x, 7):
        sketch.update({"x": part})
    result = evaluate(profile, sketch).features[0]
    expected = sps.ks_2samp(ref_x, cur_x)
    assert result.ks_exact is True
    assert result.ks_statistic == pytest.approx(float(expected.statistic), abs=1e-12, rel=0)
    assert result.ks_pvalue == pytest.approx(float(expected.pvalue), abs=1e-12, rel=1e-12)
    wasserstein = sps.wasserstein_distance(ref_x, cur_x) / ref_x.std()
    assert result.wasserstein == pytest.approx(wasserstein, rel=1e-9)


@pytest.mark.parametrize("shift", [0.0, 0.03, 0.2])
def test_ks_beyond_the_sample_stays_within_the_documented_bound(shift: float) -> None:
    rng = np.random.default_rng(10)
    ref_x = rng.normal(size=200_000)
    cur_x = rng.normal(shift, size=300_000)
    cap = 5_000
    profile = build_profile({"x": ref_x}, {"x": "numeric"})
    profile_small = ReferenceProfile(
        (type(profile["x"]).build("x", ref_x, sample_cap=cap),), ref_x.size  # type: ignore[call-arg]
    )
    sketch = WindowSketch(profile_small, sample_cap=cap, seed=123)
    for part in np.array_split(cur_x, 30):
        sketch.update({"x": part})
    result = evaluate(profile_small, sketch).features[0]
    exact = float(sps.ks_2samp(ref_x, cur_x).statistic)
    bound = ks_error_bound(cap, cap, delta=1e-6)
    assert result.ks_exact is False
    assert result.ks_statistic is not None
    assert abs(result.ks_statistic - exact) <= bound
    assert bound < 0.05


def test_sampled_rows_are_uniform_across_the_window() -> None:
    # A window whose second half is shifted: a sample biased towards early rows
    # would miss the change. The sample mean must match the window mean.
    profile = build_profile({"x": np.random.default_rng(1).normal(size=1000)}, {"x": "numeric"})
    sketch = WindowSketch(profile, sample_cap=2_000)
    rng = np.random.default_rng(12)
    for shift in np.linspace(0, 10, 100):
        sketch.update({"x": rng.normal(shift, 1.0, 1_000)})
    x = sketch.columns["x"]
    assert isinstance(x, NumericSketch)
    sample = x.sample.sorted_values()
    standard_error = math.sqrt(np.var(sample) / sample.size)
    assert abs(sample.mean() - x.moments.mean) < 4 * standard_error


def test_row_keys_and_batch_lengths_are_checked() -> None:
    sketch = WindowSketch(PROFILE)
    with pytest.raises(ValueError, match="row_keys must have one key per row \\(2\\), got 1"):
        sketch.update({"x": np.ones(2)}, row_keys=np.zeros(1, np.uint64))
    with pytest.raises(ValueError, match="equal lengths"):
        sketch.update({"x": np.ones(2), "c": np.array(["a"], dtype=object)})


def test_nan_inf_and_missing_are_left_out_of_every_statistic() -> None:
    rng = np.random.default_rng(13)
    ref_x, cur_x = rng.normal(size=4_000), rng.normal(0.1, 1.0, 3_000)
    dirty = cur_x.copy()
    dirty[::7] = np.nan
    dirty[::11] = np.inf
    dirty[::13] = -np.inf
    missing = np.zeros(dirty.size, dtype=bool)
    missing[::17] = True
    clean = dirty[np.isfinite(dirty) & ~missing]
    profile = build_profile({"x": ref_x}, {"x": "numeric"})
    dirty_result = evaluate(profile, WindowSketch(profile).update(
        {"x": dirty}, missing={"x": missing})).features[0]
    clean_result = evaluate(profile, WindowSketch(profile).update({"x": clean})).features[0]
    expected = sps.ks_2samp(ref_x, clean)
    assert dirty_result.n_current == clean.size
    assert dirty_result.ks_statistic == pytest.approx(float(expected.statistic), abs=1e-12)
    assert dirty_result.ks_pvalue == pytest.approx(float(expected.pvalue), abs=1e-12)
    for key in ("psi", "js_distance", "hellinger", "wasserstein"):
        assert getattr(dirty_result, key) == getattr(clean_result, key)
    assert dirty_result.n_missing == int(missing.sum())
    assert dirty_result.n_nan + dirty_result.n_inf == int(np.sum(~np.isfinite(dirty) & ~missing))
