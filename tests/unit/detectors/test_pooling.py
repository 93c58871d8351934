"""Evidence pooled across windows: power within 3 windows, the budget, the effect floor."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray

from detectors import (
    DriftPolicy,
    ProfileOptions,
    ReferenceProfile,
    WindowSketch,
    build_profile,
    evaluate,
    sketch_columns,
)
from detectors.batch import Kind
from detectors.state import sketch_to_dict

OPTIONS = ProfileOptions()
Draw = Callable[[np.random.Generator, int], NDArray[Any]]


def _normal(sd: float = 1.0, mean: float = 0.0) -> Draw:
    return lambda rng, n: rng.normal(mean, sd, n)


def _shares(moved: float) -> Draw:
    shares = np.array([0.4, 0.2 + moved, 0.2, 0.1, 0.1])
    shares[[0, 2, 3, 4]] *= (1.0 - shares[1]) / shares[[0, 2, 3, 4]].sum()
    labels = np.array(["a", "b", "c", "d", "e"], dtype=object)
    return lambda rng, n: labels[rng.choice(5, size=n, p=shares)]


class Stream:
    """Windows judged in order against one reference, each with the sketches before it."""

    def __init__(self, reference: NDArray[Any], policy: DriftPolicy) -> None:
        kind: Kind = "categorical" if reference.dtype == object else "numeric"
        self.profile: ReferenceProfile = build_profile({"x": reference}, {"x": kind},
                                                       options=OPTIONS)
        self.policy, self.recent = policy, list[WindowSketch]()

    def judge(self, window: NDArray[Any]) -> Any:
        sketch = sketch_columns(self.profile, {"x": window}, options=OPTIONS)
        report = evaluate(self.profile, sketch, self.policy, tuple(self.recent))
        self.recent = [*self.recent, sketch][-(self.policy.pool_windows - 1):]
        return report.features[0]


def _flagged_within(seed: int, changed: Draw, policy: DriftPolicy, rows: int = 1_000,
                    healthy: Draw | None = None, within: int = 3) -> bool:
    rng = np.random.default_rng([17, seed])
    healthy = healthy or _normal()
    stream = Stream(healthy(rng, 10_000), policy)
    for _ in range(2):
        stream.judge(healthy(rng, rows))
    return any(stream.judge(changed(rng, rows)).drifted for _ in range(within))


def test_sd_times_1_25_is_flagged_within_3_windows_of_1000_rows() -> None:
    # 90 %; bench/power_windows.py measures 200 trials (about 70 % without pooling).
    assert sum(_flagged_within(seed, _normal(1.25), DriftPolicy()) for seed in range(20)) >= 18


@pytest.mark.parametrize("changed", [_normal(mean=0.2), _shares(0.10)],
                         ids=["mean+0.2sd", "share+10pt"])
def test_other_changes_that_matter_are_flagged_within_3_windows(changed: Draw) -> None:
    healthy = _shares(0.0) if changed(np.random.default_rng(0), 1).dtype == object else None
    assert sum(_flagged_within(seed, changed, DriftPolicy(), healthy=healthy)
               for seed in range(10)) >= 9


@pytest.mark.parametrize("changed", [_normal(1.05), _normal(mean=0.05), _shares(0.02)],
                         ids=["sd*1.05", "mean+0.05sd", "share+2pt"])
def test_changes_too_small_to_matter_stay_calm_pooled(changed: Draw) -> None:
    # 9,000-row windows are pooled three at a time into 27,000 rows: the p-values are
    # small, but the effect stays below the floor.
    healthy = _shares(0.0) if changed(np.random.default_rng(0), 1).dtype == object else None
    assert not any(_flagged_within(seed, changed, DriftPolicy(), rows=9_000, healthy=healthy)
                   for seed in range(3))


def test_null_windows_stay_within_twice_the_budget() -> None:
    policy = DriftPolicy(alpha=0.01)
    flagged = windows = 0
    for seed in range(3):
        rng = np.random.default_rng([23, seed])
        stream = Stream(rng.normal(0.0, 1.0, 10_000), policy)
        for _ in range(100):
            flagged += stream.judge(rng.normal(0.0, 1.0, 1_000)).drifted
            windows += 1
    assert flagged <= 2 * policy.alpha * windows


def test_the_budget_is_split_between_the_window_and_the_pool() -> None:
    rng = np.random.default_rng(5)
    stream = Stream(rng.normal(0.0, 1.0, 10_000), DriftPolicy())
    first = stream.judge(rng.normal(0.0, 1.0, 1_000))
    assert first.pooled_windows == 1
    assert first.pooled_pvalue_adjusted is None
    assert first.pvalue_adjusted == first.pvalue  # alone: the whole alpha, one column
    second = stream.judge(rng.normal(0.0, 1.0, 1_000))
    assert second.pooled_windows == 2
    assert second.pvalue_adjusted == pytest.approx(min(1.0, 2 * second.pvalue))
    third, fourth = (stream.judge(rng.normal(0.0, 1.0, 1_000)) for _ in range(2))
    assert third.pooled_windows == fourth.pooled_windows == 3
    assert fourth.pooled_pvalue_adjusted is not None
    assert fourth.pooled_effect_value is not None


def test_large_windows_and_the_classic_verdict_are_judged_alone() -> None:
    rng = np.random.default_rng(6)
    for policy, rows in ((DriftPolicy(), 10_000), (DriftPolicy.of("classic"), 1_000)):
        stream = Stream(rng.normal(0.0, 1.0, 10_000), policy)
        judged = [stream.judge(rng.normal(0.0, 1.0, rows)) for _ in range(3)]
        assert all(c.pooled_windows == 1 for c in judged)
        assert judged[-1].pvalue_adjusted == judged[-1].pvalue


def test_pooling_leaves_the_previous_sketches_unchanged() -> None:
    rng = np.random.default_rng(7)
    stream = Stream(rng.normal(0.0, 1.0, 10_000), DriftPolicy())
    stream.judge(rng.normal(0.0, 1.0, 1_000))
    before = sketch_to_dict(stream.recent[0])
    stream.judge(rng.normal(0.5, 1.0, 1_000))
    assert sketch_to_dict(stream.recent[0]) == before
