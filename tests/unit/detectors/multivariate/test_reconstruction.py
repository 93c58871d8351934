"""Data reconstruction drift: the PCA, the errors, the state, calibration and the butterfly.

Calibration is measured on seeded simulations and asserted with margins from the
binomial distribution, never as point values: on windows drawn from the
reference's own distribution (mixed numeric and categorical columns, missing
values), the number of windows flagged at ``ALPHA`` must not exceed the 99.9 %
quantile of Binomial(windows, ALPHA). The same check fails when the null
distribution is made 30 % too narrow, so it can fail.

The butterfly is NannyML's documented example of a change no per-feature test
sees: two correlated features rotated by 90 degrees around the origin, which
keeps both marginals. Weeks of 2,016 rows (a row every 5 minutes), as theirs.
"""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray
from scipy import stats as sps

from detectors.multivariate import CategoricalEncoding, Reconstruction, fit
from detectors.multivariate.reconstruction import MIN_ROWS, two_sided_p
from tests.unit.detectors.multivariate.data import ROTATED, WEEK, butterfly, mixed

ALPHA = 0.05
def null_flags(n: int, references: int, windows: int, seed: int,
               narrow: float = 1.0) -> tuple[int, int]:
    """Windows flagged at ALPHA out of all, refitting on a fresh reference each time."""
    rng = np.random.default_rng(seed)
    flagged = total = 0
    for r in range(references):
        model = fit(mixed(rng, 4_000), seed=r)
        model = dataclasses.replace(model, error_std=model.error_std * narrow)
        for _ in range(windows):
            p = model.test(mixed(rng, n)).p_value
            assert p is not None
            flagged += p < ALPHA
            total += 1
    return flagged, total


@pytest.mark.parametrize(("n", "references", "windows"),
                         [(100, 60, 5), (1_000, 40, 5), (10_000, 15, 2)])
def test_null_false_alarm_rate_is_within_alpha(n: int, references: int, windows: int) -> None:
    flagged, total = null_flags(n, references, windows, seed=n)
    assert flagged <= sps.binom.ppf(0.999, total, ALPHA), (flagged, total)


def test_the_null_check_can_fail() -> None:
    flagged, total = null_flags(1_000, 40, 5, seed=1_000, narrow=0.7)
    assert flagged > sps.binom.ppf(0.999, total, ALPHA), (flagged, total)


def test_butterfly_rotation_is_flagged_and_per_feature_ks_is_not() -> None:
    """Each week is one window tested at the per-window level after Bonferroni."""
    rng = np.random.default_rng(23)
    reference = butterfly(rng, 10 * WEEK, rotated=False)
    model = fit(reference)
    tests = len(reference) + 1  # one KS a feature and the multivariate test, Bonferroni
    level = ALPHA / tests
    for week in range(10):
        rotated = week >= 5
        window = butterfly(rng, WEEK, rotated)
        p = model.test(window).p_value
        assert p is not None
        assert (p < level) == rotated, (week, p)
        ks = [sps.ks_2samp(reference[name], window[name]).pvalue for name in ROTATED]
        assert min(ks) >= level, (week, ks)


def test_pca_matches_scikit_learn() -> None:
    decomposition = pytest.importorskip("sklearn.decomposition")
    preprocessing = pytest.importorskip("sklearn.preprocessing")
    rng = np.random.default_rng(3)
    columns = {key: value for key, value in mixed(rng, 3_000).items()
               if value.dtype != object}
    for name in columns:  # complete numbers, so the matrix is the same for both
        columns[name] = np.nan_to_num(columns[name], nan=1.0)
    model = fit(columns, seed=5)
    half = np.random.default_rng(5).permutation(3_000)[:1_500]
    matrix = np.column_stack([columns[name][half] for name in model.columns])
    z = preprocessing.StandardScaler().fit_transform(matrix)
    pca = decomposition.PCA(n_components=0.65, svd_solver="full").fit(z)
    assert model.n_components == pca.n_components_
    signs = np.sign(np.sum(model.components * pca.components_, axis=1))
    np.testing.assert_allclose(model.components * signs[:, None], pca.components_, atol=1e-9)
    assert model.explained_variance == round(float(pca.explained_variance_ratio_.sum()), 3)
    window = {name: values[:200] for name, values in columns.items()}
    zw = preprocessing.StandardScaler().fit(matrix).transform(
        np.column_stack([window[name] for name in model.columns]))
    sklearn_errors = np.linalg.norm(zw - pca.inverse_transform(pca.transform(zw)), axis=1)
    np.testing.assert_allclose(model.errors(window), sklearn_errors, atol=1e-9)


def test_errors_equal_a_direct_computation() -> None:
    rng = np.random.default_rng(4)
    model = fit(mixed(rng, 2_000))
    window = mixed(rng, 50)
    errors = model.errors(window)
    for i in range(50):
        row = []
        for name, mean in model.numeric.items():
            value = float(window[name][i])
            row.append(value if math.isfinite(value) else mean)
        for name, encoding in model.categorical.items():
            text = window[name][i]
            key = encoding.mode if text is None else str(text)
            row.append(encoding.shares.get(key, encoding.other))
        z = (np.array(row) - model.center) / model.scale
        projected = sum(float(np.dot(z, c)) * c for c in model.components)
        assert errors[i] == pytest.approx(float(np.sqrt(np.sum((z - projected) ** 2))), abs=1e-12)


def test_categorical_encoding_imputes_the_mode_and_pools_the_rest() -> None:
    values = np.array(["a"] * 50 + ["b"] * 30 + [None] * 10 + ["c"] * 6 + ["d"] * 4,
                      dtype=object)
    numbers = np.arange(100, dtype=np.float64)
    model = fit({"x": numbers, "kind": values, "y": numbers * 2}, top_categories=2, seed=1)
    encoding = model.categorical["kind"]
    assert encoding.mode == "a"
    assert set(encoding.shares) == {"a", "b"}
    assert sum(encoding.shares.values()) + encoding.other == pytest.approx(1.0)
    codes = encoding.encode(np.array(["a", None, "d", "never seen", "b"], dtype=object))
    assert codes.tolist() == [encoding.shares["a"], encoding.shares["a"], encoding.other,
                              encoding.other, encoding.shares["b"]]


def test_all_missing_columns_are_dropped_and_named() -> None:
    rng = np.random.default_rng(5)
    columns = mixed(rng, 500)
    columns["empty"] = np.full(500, np.nan)
    columns["no_text"] = np.full(500, None, dtype=object)
    model = fit(columns)
    assert model.dropped == ("empty", "no_text")
    assert "empty" not in model.columns


def test_state_round_trips_through_json_and_is_bounded() -> None:
    rng = np.random.default_rng(6)
    model = fit(mixed(rng, 3_000), top_categories=10)
    restored = Reconstruction.from_dict(json.loads(json.dumps(model.to_dict())))
    window = mixed(rng, 500)
    assert restored.test(window) == model.test(window)
    assert restored.to_dict() == model.to_dict()
    assert all(len(enc.shares) <= 10 for enc in restored.categorical.values())
    assert restored.components.shape == (model.n_components, len(model.columns))


def test_state_of_another_version_or_shape_is_refused() -> None:
    model = fit(mixed(np.random.default_rng(7), 500))
    state = model.to_dict()
    with pytest.raises(ValueError, match="version must be 1"):
        Reconstruction.from_dict({**state, "version": 2})
    with pytest.raises(ValueError, match="shapes do not match"):
        Reconstruction.from_dict({**state, "center": state["center"][:-1]})


def test_small_windows_are_not_tested() -> None:
    rng = np.random.default_rng(8)
    model = fit(mixed(rng, 1_000))
    result = model.test(mixed(rng, MIN_ROWS - 1))
    assert result.n == MIN_ROWS - 1
    assert result.p_value is None
    assert result.z is None
    assert model.test(mixed(rng, MIN_ROWS)).p_value is not None
    empty = model.test({name: values[:0] for name, values in mixed(rng, 1).items()})
    assert empty.n == 0
    assert math.isnan(empty.error)


def test_a_window_lacking_a_column_or_changing_its_kind_is_an_error() -> None:
    rng = np.random.default_rng(9)
    model = fit(mixed(rng, 1_000))
    window = mixed(rng, 200)
    with pytest.raises(ValueError, match="no column 'city'"):
        model.test({k: v for k, v in window.items() if k != "city"})
    with pytest.raises(ValueError, match="'a' is numeric in the reference"):
        model.test({**window, "a": window["a"].astype(object)})


@pytest.mark.parametrize(("columns", "kwargs", "message"), [
    ({"x": np.zeros(99)}, {}, "at least 100 reference rows, got 99"),
    ({"x": np.zeros(200), "y": np.zeros(199)}, {}, "one length"),
    ({"x": np.full(200, np.nan)}, {}, "at least one column with values"),
    ({"x": np.zeros(200)}, {"variance": 1.5}, "variance must be a number"),
    ({"x": np.zeros(200)}, {"top_categories": 0}, "top_categories must be an integer"),
])
def test_bad_input_is_refused(columns: dict[str, NDArray[Any]], kwargs: dict[str, Any],
                              message: str) -> None:
    with pytest.raises(ValueError, match=message):
        fit(columns, **kwargs)


def test_constant_columns_do_not_break_the_fit() -> None:
    rng = np.random.default_rng(10)
    model = fit({"x": rng.standard_normal(300), "constant": np.ones(300)})
    assert model.scale[1] == 1.0
    assert np.isfinite(model.test({"x": rng.standard_normal(200),
                                   "constant": np.ones(200)}).error)


def test_encoding_is_the_category_share() -> None:
    encoding = CategoricalEncoding({"a": 0.75}, 0.25, "a")
    assert encoding.encode(np.array(["a", "z", None], dtype=object)).tolist() == [0.75, 0.25,
                                                                                   0.75]


@pytest.mark.parametrize("skewness", [-0.8, -0.05, 1e-9, 0.02, 0.3, 1.5])
@pytest.mark.parametrize("z", [-4.0, -1.0, 0.0, 0.5, 2.5, 6.0])
def test_the_tail_is_scipy_pearson3(z: float, skewness: float) -> None:
    expected = 2 * min(sps.pearson3.sf(z, skewness), sps.pearson3.cdf(z, skewness))
    assert two_sided_p(z, skewness) == pytest.approx(min(1.0, expected), rel=1e-6, abs=1e-300)


def test_a_right_skewed_error_gets_a_heavier_upper_tail_than_the_normal() -> None:
    model = fit(mixed(np.random.default_rng(11), 4_000))
    assert model.error_skewness > 0.5
    rng = np.random.default_rng(12)
    result = model.test(mixed(rng, 100))
    assert result.z is not None
    assert result.p_value is not None
    shifted = dataclasses.replace(model, error_mean=result.error - 4 * result.standard_error)
    upper = shifted.test(mixed(np.random.default_rng(12), 100)).p_value
    assert upper is not None
    assert upper > math.erfc(4 / math.sqrt(2))


def test_string_arrays_are_categories_and_integers_numbers() -> None:
    rng = np.random.default_rng(13)
    kinds = np.array(["x", "y", "z"])[rng.integers(0, 3, 500)]  # a numpy string array
    model = fit({"kind": kinds, "count": rng.poisson(4, 500), "flag": rng.random(500) < 0.3})
    assert list(model.categorical) == ["kind"]
    assert list(model.numeric) == ["count", "flag"]
    window = {"kind": kinds[:200].astype(object), "count": rng.poisson(4, 200),
              "flag": rng.random(200) < 0.3}
    assert model.test(window).p_value is not None


def test_constant_data_has_no_spread_and_any_change_is_certain() -> None:
    model = fit({"x": np.ones(300), "kind": np.full(300, "a", dtype=object)})
    assert model.error_std == 0.0
    assert model.n_components == 0
    assert Reconstruction.from_dict(model.to_dict()).n_components == 0
    assert model.test({"x": np.ones(200), "kind": np.full(200, "a", dtype=object)}).p_value == 1.0
    changed = model.test({"x": np.full(200, 2.0), "kind": np.full(200, "a", dtype=object)})
    assert changed.p_value == 0.0
    assert changed.z == math.inf
