"""Moments of per-row values against numpy, merge properties, checkpoints, per-row values."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import log_loss as sk_log_loss

from detectors.performance import ClassificationSketch
from detectors.versions.moments import Moments
from detectors.versions.rows import absolute_error, correct, log_loss

finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)


@given(st.lists(finite, max_size=50), st.lists(finite, max_size=50))
@settings(max_examples=200, deadline=None)
def test_merge_equals_the_moments_of_both_inputs(left: list[float], right: list[float],
                                                 ) -> None:
    merged = Moments.of(np.array(left)).merge(Moments.of(np.array(right)))
    both = np.array(left + right)
    assert merged.n == len(both)
    if len(both):
        assert merged.mean == pytest.approx(both.mean(), rel=1e-9, abs=1e-6)
        assert merged.m2 == pytest.approx(float(np.square(both - both.mean()).sum()),
                                          rel=1e-9, abs=1e-3)


def test_variance_is_numpys_sample_variance() -> None:
    values = np.random.default_rng(3).gamma(2.0, 3.0, 1000)
    m = Moments.of(values)
    assert m.variance == pytest.approx(float(np.var(values, ddof=1)), rel=1e-12)
    assert Moments.of(np.array([5.0])).variance is None


def test_large_values_with_small_spread_keep_their_variance() -> None:
    # sum-of-squares arithmetic would return 0 or a negative number here
    values = 1e9 + np.random.default_rng(4).normal(0.0, 1.0, 10_000)
    shards = [Moments.of(part) for part in np.array_split(values, 7)]
    merged = shards[0]
    for shard in shards[1:]:
        merged = merged.merge(shard)
    assert merged.variance == pytest.approx(float(np.var(values, ddof=1)), rel=1e-6)


def test_counts_equal_the_moments_of_zeros_and_ones() -> None:
    values = np.array([1] * 37 + [0] * 63)
    assert Moments.of_counts(37, 100).mean == Moments.of(values).mean
    assert Moments.of_counts(37, 100).m2 == pytest.approx(Moments.of(values).m2, rel=1e-12)
    assert Moments.of_counts(0, 0) == Moments()


@pytest.mark.parametrize(("call", "message"), [
    (lambda: Moments.of(np.array([1.0, np.nan])), "finite, got nan at index 1"),
    (lambda: Moments.of(np.array([[1.0]])), "one-dimensional"),
    (lambda: Moments.of(np.array(["a"])), "numeric or boolean"),
    (lambda: Moments.of(np.array([1e200, -1e200])), "float64 range"),
    (lambda: Moments.of_counts(5, 4), "successes must be <= n"),
    (lambda: Moments(-1), "n must be an integer >= 0"),
    (lambda: Moments(2, 0.5, -1.0), "m2 must be >= 0"),
    (lambda: Moments(0, 1.0, 0.0), "empty moments"),
])
def test_bad_input_is_refused(call: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()  # type: ignore[operator]


def test_checkpoint_round_trips_through_json_and_refuses_bad_ones() -> None:
    m = Moments.of(np.array([0.1, 0.7, 0.3]))
    assert Moments.from_dict(json.loads(json.dumps(m.to_dict()))) == m
    with pytest.raises(ValueError, match="schema_version"):
        Moments.from_dict({**m.to_dict(), "schema_version": 9})
    with pytest.raises(ValueError, match="missing key 'm2'"):
        Moments.from_dict({"schema_version": 1, "n": 3, "mean": 0.3})
    with pytest.raises(ValueError, match="finite"):
        Moments.from_dict({**m.to_dict(), "mean": math.inf})


def test_per_row_values_average_to_the_window_metrics() -> None:
    rng = np.random.default_rng(5)
    truth = rng.integers(0, 2, 500)
    score = rng.uniform(0.0, 1.0, 500)
    score[:3] = [0.0, 1.0, 0.5]
    pred = (score > 0.5).astype(np.int64)
    window = ClassificationSketch().update(truth, pred, score).result()
    assert correct(truth, pred).mean() == window.accuracy
    assert log_loss(truth, score).mean() == pytest.approx(window.log_loss, rel=1e-12)
    assert log_loss(truth, score).mean() == pytest.approx(sk_log_loss(truth, score), rel=1e-9)
    assert absolute_error([3.0, -1.0], [2.5, 1.0]).tolist() == [0.5, 2.0]
    with pytest.raises(ValueError, match="y_pred must be 0 or 1, got 2 at index 0"):
        correct([1], [2])
    with pytest.raises(ValueError, match="length of y_true"):
        absolute_error([1.0, 2.0], [1.0])
