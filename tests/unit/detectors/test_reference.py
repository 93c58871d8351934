"""Reference profiles: frozen quantile bins, bounded samples, categories, serialisation."""

from __future__ import annotations

import json

import numpy as np
import pytest

from detectors.batch import ProfileOptions, build_profile
from detectors.reference import (
    CategoricalReference,
    NumericReference,
    ReferenceProfile,
    assign_bins,
    bin_counts,
    sorted_bin_counts,
    sorted_quantiles,
)


def test_edges_are_reference_quantiles_and_bins_open_ended() -> None:
    x = np.random.default_rng(0).normal(size=10_000)
    ref = NumericReference.build("x", x, bins=10)
    expected = np.quantile(x, np.arange(1, 10) / 10, method="inverted_cdf")
    np.testing.assert_allclose(ref.edges, expected, rtol=0, atol=0)
    assert sum(ref.counts) == x.size
    assert all(abs(c - 1000) <= 1 for c in ref.counts)
    far = assign_bins(ref.edges_array, np.array([-1e308, 1e308]))
    assert far.tolist() == [0, 9]


def test_bins_are_right_closed() -> None:
    edges = np.array([1.0, 2.0])
    assert assign_bins(edges, np.array([1.0, 1.5, 2.0, 2.5])).tolist() == [0, 1, 1, 2]


def test_heavy_atom_gives_fewer_bins_not_empty_ones() -> None:
    x = np.concatenate([np.zeros(700), np.arange(1.0, 301.0)])
    ref = NumericReference.build("x", x, bins=10)
    assert len(ref.edges) == len(set(ref.edges)) < 9
    assert ref.counts[0] == 700
    assert all(c > 0 for c in ref.counts)


def test_constant_and_empty_columns() -> None:
    constant = NumericReference.build("c", np.full(50, 3.0))
    assert constant.edges == (np.nextafter(3.0, -np.inf), 3.0)
    assert constant.counts == (0, 50, 0)
    assert constant.std == 0.0
    empty = NumericReference.build("e", np.array([np.nan, np.nan]), np.array([True, False]))
    assert (empty.n, empty.n_missing, empty.n_nan, empty.mean) == (0, 1, 1, None)
    assert empty.counts == (0,)


def test_missing_nan_and_inf_are_counted_and_excluded() -> None:
    x = np.array([1.0, np.nan, np.inf, -np.inf, 2.0, 0.0])
    missing = np.array([False, False, False, False, False, True])
    ref = NumericReference.build("x", x, missing)
    assert (ref.n, ref.n_missing, ref.n_nan, ref.n_inf) == (2, 1, 1, 2)
    assert ref.mean == 1.5
    assert ref.missing_rate == pytest.approx(1 / 6)


def test_sample_is_bounded_and_within_one_over_cap() -> None:
    x = np.random.default_rng(1).exponential(size=50_000)
    cap = 1_000
    ref = NumericReference.build("x", x, sample_cap=cap)
    assert ref.sample.size == cap
    assert np.all(np.diff(ref.sample) >= 0)
    grid = np.quantile(x, np.linspace(0, 1, 500))
    full = np.searchsorted(np.sort(x), grid, side="right") / x.size
    sampled = np.searchsorted(ref.sample, grid, side="right") / cap
    assert np.max(np.abs(full - sampled)) <= 1.0 / cap + 1e-12


def test_categorical_top_k_other_and_known_names() -> None:
    values = np.array(["a"] * 5 + ["b"] * 3 + ["c"] * 3 + ["d"] + [None] * 2, dtype=object)
    ref = CategoricalReference.build("c", values, top_k=2, max_known=1)
    assert ref.categories == ("a", "b")  # ties broken by name: b before c
    assert ref.counts == (5, 3)
    assert ref.other_count == 4
    assert ref.known_other == frozenset({"c"})
    assert (ref.n, ref.n_missing) == (12, 2)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: NumericReference.build("x", np.ones(3), bins=1),
         "bins must be an integer in \\[2, 1000\\], got 1"),
        (lambda: NumericReference.build("x", np.ones(3), sample_cap=5),
         "sample_cap must be an integer >= 10, got 5"),
        (lambda: CategoricalReference.build("c", np.array(["a"], dtype=object), top_k=0),
         "top_k must be an integer >= 1, got 0"),
        (lambda: ProfileOptions(bins=2.5),  # type: ignore[arg-type]
         "bins must be an integer in \\[2, 1000\\], got 2.5"),
    ],
)
def test_invalid_parameters_name_the_parameter_and_value(call: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()  # type: ignore[operator]


def test_profile_round_trips_through_json() -> None:
    rng = np.random.default_rng(2)
    columns = {
        "x": rng.normal(size=2_000),
        "y": rng.integers(0, 4, 2_000).astype(float),
        "c": rng.choice(["u", "v", "w"], 2_000).astype(object),
    }
    profile = build_profile(columns, {"x": "numeric", "y": "numeric", "c": "categorical"},
                            roles={"y": "prediction"}, options=ProfileOptions(sample_cap=500))
    text = json.dumps(profile.to_dict(), allow_nan=False)
    back = ReferenceProfile.from_dict(json.loads(text))
    assert back == profile
    for name in ("x", "y"):
        original, restored = profile[name], back[name]
        assert isinstance(original, NumericReference)
        assert isinstance(restored, NumericReference)
        np.testing.assert_array_equal(original.sample, restored.sample)
    assert back["y"].role == "prediction"


def test_unknown_schema_version_is_refused() -> None:
    with pytest.raises(ValueError, match="reference schema_version must be 1, got 99"):
        ReferenceProfile.from_dict({"schema_version": 99, "n_rows": 0, "columns": []})


def test_duplicate_column_names_are_refused() -> None:
    column = NumericReference.build("x", np.ones(3))
    with pytest.raises(ValueError, match="unique names"):
        ReferenceProfile((column, column), 3)


def _reference_columns() -> list[np.ndarray]:
    rng = np.random.default_rng(5)
    return [
        np.array([3.5]),
        np.full(17, 2.0),
        np.array([0.0, 1.0, 1.0, 1.0, 1.0, 2.0, 9.0]),
        rng.integers(0, 4, 1_000).astype(float),
        np.round(rng.normal(size=2_345), 2),
        rng.lognormal(size=10_001),
    ]


@pytest.mark.parametrize("bins", [2, 3, 7, 10, 64, 1000])
@pytest.mark.parametrize("column", range(6))
def test_sorted_quantiles_equal_numpy_inverted_cdf(bins: int, column: int) -> None:
    ordered = np.sort(_reference_columns()[column])
    levels = np.arange(1, bins) / bins
    expected = np.quantile(ordered, levels, method="inverted_cdf")
    assert np.array_equal(sorted_quantiles(ordered, levels), expected)


@pytest.mark.parametrize("column", range(6))
def test_sorted_bin_counts_equal_counting_each_value(column: int) -> None:
    ordered = np.sort(_reference_columns()[column])
    for edges in (np.unique(np.quantile(ordered, [0.2, 0.5, 0.8], method="inverted_cdf")),
                  np.array([ordered[0]]), np.array([ordered[0] - 1.0, ordered[-1] + 1.0]),
                  np.empty(0)):
        expected = np.bincount(assign_bins(edges, ordered), minlength=edges.size + 1)
        assert sorted_bin_counts(edges, ordered).tolist() == expected.tolist()
    assert sorted_bin_counts(np.array([1.0, 2.0]), np.empty(0)).tolist() == [0, 0, 0]


def test_built_edges_and_counts_equal_numpy_with_values_excluded() -> None:
    rng = np.random.default_rng(8)
    x = np.round(rng.gamma(2.0, 3.0, 5_000), 1)
    x[rng.random(x.size) < 0.05] = np.nan
    x[:3] = [np.inf, -np.inf, np.nan]
    missing = rng.random(x.size) < 0.02
    ref = NumericReference.build("x", x, missing, bins=10)
    usable = np.sort(x[np.isfinite(x) & ~missing])
    edges = np.unique(np.quantile(usable, np.arange(1, 10) / 10, method="inverted_cdf"))
    edges = edges[edges < usable[-1]]
    assert ref.edges == tuple(edges.tolist())
    assert ref.counts == tuple(np.bincount(assign_bins(edges, usable),
                                           minlength=edges.size + 1).tolist())
    assert ref.n == usable.size


@pytest.mark.parametrize("n_edges", [0, 1, 9, 32, 33, 200])
def test_bin_counts_equal_counting_each_value(n_edges: int) -> None:
    rng = np.random.default_rng(n_edges)
    x = np.round(rng.normal(size=3_000), 1)  # many values equal to an edge
    edges = np.unique(np.round(rng.normal(size=n_edges), 1)) if n_edges else np.empty(0)
    with_extremes = np.concatenate([x, [np.nan, np.inf, -np.inf]])
    for values in (x, with_extremes, x[:1], np.empty(0)):
        expected = np.bincount(assign_bins(edges, values), minlength=edges.size + 1)
        got = bin_counts(edges, values)
        assert got.dtype == np.int64
        assert got.tolist() == expected.tolist()
