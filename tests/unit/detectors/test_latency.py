"""Label-latency sketch: quantiles against numpy within the stated bound, edges, merge, dict.

Tolerance: inside [low, high) every quantile is within ``relative_error`` (sqrt(g) - 1,
0.606% by default) of ``numpy.quantile``'s linear value; 1e-9 relative is added for the
logarithms' rounding at bin edges.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detectors.latency import DEFAULT_HIGH, DEFAULT_LOW, LatencySketch, LatencySummary

NO_DEADLINE = settings(deadline=None, max_examples=80)
IN_RANGE = st.floats(DEFAULT_LOW, DEFAULT_HIGH, exclude_max=True)
QUANTILES = (0.0, 0.01, 0.25, 0.5, 0.9, 0.95, 0.99, 1.0)


def test_default_bound_is_under_one_percent() -> None:
    sketch = LatencySketch()
    g = (DEFAULT_HIGH / DEFAULT_LOW) ** (1 / 2000)
    assert sketch.relative_error == pytest.approx(math.sqrt(g) - 1, rel=1e-12)
    assert 0.006 < sketch.relative_error < 0.01
    assert LatencySketch(n_bins=200).relative_error > 0.05  # fewer bins, looser bound


@NO_DEADLINE
@given(st.lists(IN_RANGE, min_size=1, max_size=300), st.sampled_from(QUANTILES))
def test_quantiles_are_within_the_relative_bound_of_numpy(values: list[float], q: float) -> None:
    sketch = LatencySketch().update(values)
    expected = float(np.quantile(values, q))
    got = sketch.quantile(q)
    assert got is not None
    assert abs(got - expected) <= (sketch.relative_error + 1e-9) * expected


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_realistic_latencies_p50_and_p95(seed: int) -> None:
    """Log-normal latencies around ten minutes, spread from seconds to days."""
    latencies = np.random.default_rng(seed).lognormal(math.log(600), 2.0, 50_000)
    sketch = LatencySketch().update(latencies)
    summary = sketch.summary()
    for got, q in ((summary.p50, 0.5), (summary.p95, 0.95)):
        expected = float(np.quantile(latencies, q))
        assert got is not None
        assert abs(got - expected) <= sketch.relative_error * expected
    assert (summary.min, summary.max) == (latencies.min(), latencies.max())
    assert summary.n == 50_000


def test_quantiles_are_not_exact_so_the_bound_is_the_claim() -> None:
    sketch = LatencySketch().update([1.0, 2.0, 3.0, 4.0, 100.0])
    assert sketch.quantile(0.5) != 3.0  # the geometric midpoint of 3.0's bin
    assert abs(sketch.quantile(0.5) - 3.0) <= 3.0 * sketch.relative_error  # type: ignore[operator]


def test_edge_bins_use_the_exact_min_and_max() -> None:
    sketch = LatencySketch(n_bins=10, low=1.0, high=100.0)
    sketch.update([0.0, 0.2, 5.0, 500.0, 1000.0])
    assert sketch.quantile(0.0) == 0.0
    assert sketch.quantile(0.25) == 0.0  # rank 1 (0.2) is below low: reported as the minimum
    assert sketch.quantile(0.75) == 1000.0  # rank 3 (500) is above high: the maximum, a bound
    assert sketch.quantile(1.0) == 1000.0
    middle = sketch.quantile(0.5)
    assert middle is not None
    assert abs(middle - 5.0) <= 5.0 * sketch.relative_error


def test_negative_latencies_are_counted_apart() -> None:
    sketch = LatencySketch().update([-3.0, -0.001, 10.0])
    assert (sketch.n, sketch.n_negative) == (1, 2)
    assert sketch.quantile(0.0) == sketch.quantile(1.0) == 10.0
    only_negative = LatencySketch().update([-1.0]).summary()
    assert only_negative == LatencySummary(0, 1, None, None, None, None,
                                           LatencySketch().relative_error)


def test_empty_sketch_has_no_quantile() -> None:
    assert LatencySketch().quantile(0.5) is None
    assert LatencySketch().update([]).n == 0


@NO_DEADLINE
@given(st.lists(st.one_of(IN_RANGE, st.floats(-10, 1e-3), st.floats(DEFAULT_HIGH, 1e12)),
                max_size=80), st.integers(0, 80))
def test_merge_equals_one_pass(values: list[float], cut: int) -> None:
    whole = LatencySketch().update(values)
    left, right = LatencySketch().update(values[:cut]), LatencySketch().update(values[cut:])
    merged = left.merge(right)
    assert merged.to_dict() == whole.to_dict()
    assert merged.summary() == whole.summary()
    assert left.n + left.n_negative == len(values[:cut])  # inputs unchanged


def test_round_trips_through_json() -> None:
    latencies = np.random.default_rng(4).exponential(3600.0, 1000)
    sketch = LatencySketch().update(np.r_[latencies, -1.0, 0.0])
    data: dict[str, Any] = json.loads(json.dumps(sketch.to_dict(), allow_nan=False))
    restored = LatencySketch.from_dict(data)
    assert restored.to_dict() == sketch.to_dict()
    assert restored.summary() == sketch.summary()
    empty = LatencySketch(n_bins=5, low=0.5, high=50.0)
    assert LatencySketch.from_dict(json.loads(json.dumps(empty.to_dict()))).to_dict() == \
        empty.to_dict()


@pytest.mark.parametrize(("call", "message"), [
    (lambda: LatencySketch(n_bins=0), r"n_bins must be an integer in \[1, 1000000\], got 0"),
    (lambda: LatencySketch(low=0.0), r"low must be a number in \(0.0, inf\), got 0.0"),
    (lambda: LatencySketch(low=2.0, high=1.0), r"high must be a number in \(2.0, inf\), got 1.0"),
    (lambda: LatencySketch().update([1.0, math.nan]),
     r"latencies must be finite seconds, got nan at index 1"),
    (lambda: LatencySketch().update([math.inf]), r"latencies must be finite seconds, got inf"),
    (lambda: LatencySketch().update([[1.0]]), r"latencies must be one-dimensional"),
    (lambda: LatencySketch().quantile(1.5), r"q must be a number in \[0.0, 1.0\], got 1.5"),
    (lambda: LatencySketch().merge(LatencySketch(n_bins=10)),
     r"other \(n_bins, low, high\) must equal \(2000, 0.001, 31557600.0\)"),
])
def test_bad_arguments_name_the_parameter_range_and_value(call: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()


@pytest.mark.parametrize(("change", "message"), [
    ({"schema_version": 0}, r"schema_version must be 1, got 0"),
    ({"kind": "score_sketch"}, r"kind must be 'label_latency'"),
    ({"counts": [1]}, r"'counts' must be a list of n_bins \+ 2 = 2002 counts"),
    ({"min": None}, r"min must be a number in \[0.0, inf\], got None"),
    ({"max": 0.5}, r"max must be a number in \[1.0, inf\], got 0.5"),
])
def test_bad_checkpoints_are_rejected(change: dict[str, Any], message: str) -> None:
    good = LatencySketch().update([1.0, 2.0]).to_dict()
    with pytest.raises(ValueError, match=message):
        LatencySketch.from_dict({**good, **change})
