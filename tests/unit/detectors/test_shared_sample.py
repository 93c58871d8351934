"""Numeric samples sharing their rows: each column's sample is exactly its own bottom-k."""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray

from detectors._sampling import row_priorities
from detectors._shared_sample import SharedSample

MISSING_SHARES = (0.0, 0.02, 0.3, 0.7, 1.0)


def _table(seed: int, n: int, shares: tuple[float, ...]
           ) -> tuple[NDArray[np.uint64], NDArray[np.float64]]:
    """Distinct priorities and a (columns, n) table, NaN where a value is not usable."""
    rng = np.random.default_rng(seed)
    values = rng.normal(size=(len(shares), n))
    for c, share in enumerate(shares):
        values[c, rng.random(n) < share] = np.nan
    return row_priorities(np.arange(n, dtype=np.uint64), seed), values


def _expected(priorities: NDArray[np.uint64], values: NDArray[np.float64], c: int, k: int
              ) -> list[tuple[int, float]]:
    usable = np.flatnonzero(~np.isnan(values[c]))
    order = usable[np.argsort(priorities[usable])][:k]
    return sorted(zip(priorities[order].tolist(), values[c, order].tolist(), strict=True))


def _held(sample: SharedSample, c: int) -> list[tuple[int, float]]:
    values, priorities = sample.column(c)
    return sorted(zip(priorities.tolist(), values.tolist(), strict=True))


def _feed(sample: SharedSample, priorities: NDArray[np.uint64], values: NDArray[np.float64],
          cuts: list[int]) -> SharedSample:
    points = [0, *sorted(min(c, priorities.size) for c in cuts), priorities.size]
    for a, b in itertools.pairwise(points):
        admitted = sample.admit(priorities[a:b])
        rows = np.arange(a, b) if admitted is None else np.arange(a, b)[admitted]
        sample.add(priorities[rows], values[:, rows])
    return sample


def _check(sample: SharedSample, priorities: NDArray[np.uint64], values: NDArray[np.float64],
           k: int) -> None:
    sizes = []
    for c in range(values.shape[0]):
        held = _held(sample, c)
        assert held == _expected(priorities, values, c, k)
        sizes.append(len(held))
    # 8 bytes per sampled value and per shared row, never more than 16 per value
    assert sample.priorities.size <= k
    assert sample.nbytes <= 16 * sum(sizes) + 8 * sample.priorities.size


shares = st.lists(st.sampled_from(MISSING_SHARES), min_size=1, max_size=4).map(tuple)


@given(n=st.integers(0, 700), cuts=st.lists(st.integers(0, 700), max_size=6), shares=shares,
       k=st.sampled_from([5, 60, 1_000]), seed=st.integers(0, 10_000))
@settings(max_examples=150, deadline=None)
def test_every_column_keeps_its_own_bottom_k(n: int, cuts: list[int],
                                              shares: tuple[float, ...], k: int,
                                              seed: int) -> None:
    priorities, values = _table(seed, n, shares)
    sample = _feed(SharedSample(k, len(shares)), priorities, values, cuts)
    _check(sample, priorities, values, k)


@given(n=st.integers(0, 700), cuts=st.lists(st.integers(0, 700), min_size=1, max_size=3),
       shares=shares, k=st.sampled_from([5, 60, 1_000]), seed=st.integers(0, 10_000))
@settings(max_examples=120, deadline=None)
def test_merged_parts_equal_the_whole(n: int, cuts: list[int], shares: tuple[float, ...],
                                      k: int, seed: int) -> None:
    priorities, values = _table(seed, n, shares)
    points = [0, *sorted(min(c, n) for c in cuts), n]
    parts = [_feed(SharedSample(k, len(shares)), priorities[a:b], values[:, a:b], [(b - a) // 2])
             for a, b in itertools.pairwise(points)]
    merged = parts[0]
    for part in reversed(parts[1:]):
        merged.merge(part)
    _check(merged, priorities, values, k)


@given(n=st.integers(0, 700), cut=st.integers(0, 700), shares=shares,
       k=st.sampled_from([5, 60, 1_000]), seed=st.integers(0, 10_000))
@settings(max_examples=120, deadline=None)
def test_restored_samples_continue_like_uninterrupted_ones(
        n: int, cut: int, shares: tuple[float, ...], k: int, seed: int) -> None:
    priorities, values = _table(seed, n, shares)
    cut = min(cut, n)
    first = _feed(SharedSample(k, len(shares)), priorities[:cut], values[:, :cut], [cut // 3])
    restored = SharedSample(k, len(shares))
    restored.restore([first.column(c) for c in range(len(shares))])
    _check(restored, priorities[:cut], values[:, :cut], k)
    _feed(restored, priorities[cut:], values[:, cut:], [(n - cut) // 2])
    _check(restored, priorities, values, k)


def test_dense_columns_take_8_bytes_a_value_and_a_mostly_missing_one_at_most_16() -> None:
    k = 1_000
    priorities, values = _table(3, 20_000, (0.0, 0.0, 0.01, 0.9))
    sample = _feed(SharedSample(k, 4), priorities, values, list(range(0, 20_000, 2_000)))
    sample.compact()
    assert [a is None for a in sample.aligned] == [False, False, False, True]
    dense = sum(a.nbytes for a in sample.aligned if a is not None) + sample.priorities.nbytes
    assert dense == 4 * 8 * k
    extras = [v.size for v, _ in sample.extras]
    assert extras[:2] == [0, 0]
    assert 0 < extras[2] < 0.05 * k
    assert extras[3] == k


def test_a_priority_repeated_within_a_column_keeps_both_values() -> None:
    # Two rows with one key (sketches merged from parts that numbered their rows alike).
    sample = SharedSample(10, 2)
    pairs = [(np.array([1.0, 2.0, 3.0]), np.array([5, 5, 9], np.uint64)),
             (np.array([4.0]), np.array([5], np.uint64))]
    sample.restore(pairs)
    for c, (values, priorities) in enumerate(pairs):
        held_values, held_priorities = sample.column(c)
        assert sorted(zip(held_priorities.tolist(), held_values.tolist(), strict=True)) == \
            sorted(zip(priorities.tolist(), values.tolist(), strict=True))


def test_a_full_sample_admits_exactly_the_rows_below_its_largest_priority() -> None:
    sample = SharedSample(5, 1)
    sample.restore([(np.array([1.0, 3.0, 3.5, 4.0]), np.array([10, 30, 30, 40], np.uint64))])
    for priority in (50, 45, 60):  # full after 50; 45 replaces 50; 60 stays out
        row = np.array([priority], np.uint64)
        admitted = sample.admit(row)
        if admitted is None or admitted.all():
            sample.add(row, np.array([[priority / 10]]))
        sample.compact()
    assert sorted(sample.column(0)[1].tolist()) == [10, 30, 30, 40, 45]


def _narrow_table(seed: int, n: int) -> tuple[NDArray[np.uint64], NDArray[np.float64]]:
    """Counts, prices with cents, full-precision floats and a column that turns wide late."""
    rng = np.random.default_rng(seed)
    values = np.stack([rng.poisson(20, n).astype(np.float64),
                       np.round(rng.lognormal(3, 1, n), 2),
                       rng.normal(size=n),
                       rng.integers(0, 100, n).astype(np.float64)])
    values[1, rng.random(n) < 0.01] = np.nan
    values[3, -n // 10:] += 0.125  # three decimals from here on
    return row_priorities(np.arange(n, dtype=np.uint64), seed), values


@given(st.integers(0, 2**16), st.integers(1, 4))
@settings(max_examples=25, deadline=None)
def test_narrowly_held_columns_keep_every_value_exactly(seed: int, parts: int) -> None:
    k = 400
    priorities, values = _narrow_table(seed, 3_000)
    cuts = [3_000 * i // parts for i in range(1, parts)]
    sample = _feed(SharedSample(k, 4), priorities, values, cuts)
    for c in range(4):
        held_values, held_priorities = sample.column(c)
        usable = np.flatnonzero(~np.isnan(values[c]))
        order = usable[np.argsort(priorities[usable])][:k]
        assert sorted(zip(held_priorities.tolist(), held_values.view(np.int64).tolist(),
                          strict=True)) == \
            sorted(zip(priorities[order].tolist(), values[c, order].view(np.int64).tolist(),
                       strict=True))


def test_from_half_the_capacity_on_integers_and_decimals_take_1_to_4_bytes() -> None:
    k = 1_000
    priorities, values = _narrow_table(7, 20_000)
    values[3] = np.floor(values[3])  # integers throughout
    half = _feed(SharedSample(k, 4), priorities[:k // 2 - 1], values[:, :k // 2 - 1], [])
    half.compact()
    assert [a.codes.dtype.name for a in half.aligned if a is not None] == ["float64"] * 4
    sample = _feed(SharedSample(k, 4), priorities, values, list(range(0, 20_000, 2_000)))
    sample.compact()
    assert [a.codes.dtype.name for a in sample.aligned if a is not None] == \
        ["int8", "int32", "float64", "int8"]
    assert sample.nbytes == k * (1 + 4 + 8 + 1 + 8) + sum(v.nbytes + p.nbytes
                                                          for v, p in sample.extras)
    restored = SharedSample(k, 4)
    restored.restore([sample.column(c) for c in range(4)])
    assert restored.nbytes == sample.nbytes
