"""The always-valid test of challenger against champion: formulas, state, calibration, power.

Calibration and power are measured on seeded simulations and asserted with margins
from the binomial distribution, never as point values:

- A/A (identical versions), a look after every window for 500 windows: the number
  of runs that reach any decision must not be significantly above ``alpha`` (at
  most the 99.9 % quantile of Binomial(runs, alpha)); the same check on the same
  data fails for the naive z-test repeated at every look, so it can fail.
- Power: a challenger 2 accuracy points worse (0.80 against 0.78) at 1,000 rows a
  side a window is decided "challenger_worse" in every run and never "better".

Windows of 0/1 correctness are simulated as binomial counts (``Moments.of_counts``
is exact for them), so 100,000 looks take about two seconds.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable

import numpy as np
import pytest
from numpy.typing import NDArray
from scipy import stats as sps

from detectors.versions.moments import Moments
from detectors.versions.sequential import (
    Decision,
    SequentialTest,
    StoppedError,
    Window,
    mixture_p_value,
    mixture_radius,
)

ALPHA = 0.05


def _most_false_decisions(runs: int, alpha: float = ALPHA) -> int:
    """The most false decisions in ``runs`` A/A runs that a rate of ``alpha`` explains."""
    return int(sps.binom.ppf(0.999, runs, alpha))


def _accuracy_runs(p_champion: float, p_challenger: float, *, runs: int, looks: int,
                   rows: int, seed: int, mde: float = 0.02,
                   ) -> tuple[list[tuple[str, int | None]], NDArray[np.int64], NDArray[np.int64]]:
    rng = np.random.default_rng(seed)
    champion = rng.binomial(rows, p_champion, size=(runs, looks))
    challenger = rng.binomial(rows, p_challenger, size=(runs, looks))
    outcomes: list[tuple[str, int | None]] = []
    for run in range(runs):
        test = SequentialTest("accuracy", mde=mde, alpha=ALPHA)
        for look in range(looks):
            result = test.look(Window(Moments.of_counts(int(champion[run, look]), rows),
                                      Moments.of_counts(int(challenger[run, look]), rows)))
            if test.stopped:
                break
        outcomes.append((result.decision, result.decided_at))
    return outcomes, champion, challenger


def _naive_false_decisions(champion: NDArray[np.int64], challenger: NDArray[np.int64],
                           rows: int) -> int:
    """Runs in which a two-sided z-test at ALPHA on the data so far ever rejects."""
    n = rows * np.arange(1, champion.shape[1] + 1)
    a, b = np.cumsum(champion, axis=1) / n, np.cumsum(challenger, axis=1) / n
    z = (b - a) / np.sqrt((a * (1 - a) + b * (1 - b)) / n)
    return int(np.any(np.abs(z) >= sps.norm.ppf(1 - ALPHA / 2), axis=1).sum())


def test_identical_versions_are_declared_different_at_most_alpha_of_the_time() -> None:
    runs, rows = 200, 1_000
    outcomes, champion, challenger = _accuracy_runs(0.8, 0.8, runs=runs, looks=500,
                                                    rows=rows, seed=11)
    false = sum(decision != "inconclusive" for decision, _ in outcomes)
    assert false <= _most_false_decisions(runs)
    assert _naive_false_decisions(champion, challenger, rows) > _most_false_decisions(runs)


def test_min_n_guards_against_tiny_samples() -> None:
    """Two-row windows of a coin: looked at from 2 rows a side, a first window of 2 right
    against 2 wrong (no variance, different means) is decided at once, in about 1 run in 8.
    Waiting for 30 rows a side (15 windows, 35 tested looks after) keeps the same runs within
    alpha; the default min_n (1,000) waits longer still."""
    runs, looks = 400, 50
    rng = np.random.default_rng(19)
    ka, kb = rng.binomial(2, 0.5, size=(runs, looks)), rng.binomial(2, 0.5, size=(runs, looks))
    false = {}
    for min_n in (2, 30):
        false[min_n] = 0
        for run in range(runs):
            test = SequentialTest("accuracy", mde=0.1, min_n=min_n)
            for look in range(looks):
                test.look(Window(Moments.of_counts(int(ka[run, look]), 2),
                                 Moments.of_counts(int(kb[run, look]), 2)))
                if test.stopped:
                    false[min_n] += 1
                    break
    assert false[2] > _most_false_decisions(runs)
    assert false[30] <= _most_false_decisions(runs)


def test_two_points_worse_is_found_and_never_called_better() -> None:
    outcomes, _, _ = _accuracy_runs(0.80, 0.78, runs=100, looks=60, rows=1_000, seed=12)
    decisions = [decision for decision, _ in outcomes]
    assert decisions.count("challenger_better") == 0
    assert decisions.count("challenger_worse") == 100
    windows = np.array([at for _, at in outcomes], dtype=np.float64)
    # measured in bench/sequential.py (2,000 runs): median 8 windows, 90th percentile 15
    assert np.median(windows) <= 12
    assert np.percentile(windows, 90) <= 25


def _loss_runs(draw: Callable[[np.random.Generator, int], NDArray[np.float64]], *,
               paired: bool, runs: int, looks: int, rows: int, seed: int,
               shift: float = 0.0) -> list[Decision]:
    rng = np.random.default_rng(seed)
    decisions: list[Decision] = []
    for _ in range(runs):
        test = SequentialTest("loss", mde=0.05, paired=paired)
        for _ in range(looks):
            champion = draw(rng, rows)
            if paired:  # both versions on the same requests: shared difficulty, own noise
                challenger = champion + rng.normal(0.0, 0.3, rows) + shift
                champion = champion + rng.normal(0.0, 0.3, rows)
            else:
                challenger = draw(rng, rows) + shift
            test.update(champion, challenger)
            if test.stopped:
                break
        decisions.append(test.decision().decision)
    return decisions


def _skewed(rng: np.random.Generator, n: int) -> NDArray[np.float64]:
    return rng.lognormal(-1.0, 1.0, n)  # like absolute errors: skewed, long right tail


@pytest.mark.parametrize("paired", [False, True], ids=["unpaired", "paired"])
def test_identical_losses_stay_within_alpha(paired: bool) -> None:
    runs = 60
    decisions = _loss_runs(_skewed, paired=paired, runs=runs, looks=100, rows=500, seed=13)
    false = sum(decision != "inconclusive" for decision in decisions)
    assert false <= _most_false_decisions(runs)


@pytest.mark.parametrize("paired", [False, True], ids=["unpaired", "paired"])
def test_a_lower_loss_is_better_and_a_higher_one_worse(paired: bool) -> None:
    better = _loss_runs(_skewed, paired=paired, runs=5, looks=100, rows=500, seed=14,
                        shift=-0.05)
    worse = _loss_runs(_skewed, paired=paired, runs=5, looks=100, rows=500, seed=15,
                       shift=0.05)
    assert better == ["challenger_better"] * 5
    assert worse == ["challenger_worse"] * 5


def test_pairing_finds_the_same_difference_sooner() -> None:
    looks: dict[bool, int] = {}
    for paired in (False, True):
        rng = np.random.default_rng(16)
        test = SequentialTest("loss", mde=0.05, paired=paired)
        while not test.stopped:
            base = _skewed(rng, 500)
            test.update(base + rng.normal(0.0, 0.1, 500),
                        base + rng.normal(0.0, 0.1, 500) + 0.05)
        decided_at = test.decision().decided_at
        assert decided_at is not None
        looks[paired] = decided_at
    assert looks[True] < looks[False]


def test_p_value_and_interval_follow_the_mixture_formulas() -> None:
    d, v, tau = 0.013, 2e-5, 0.02
    log_ratio = 0.5 * math.log(v / (v + tau**2)) + tau**2 * d**2 / (2 * v * (v + tau**2))
    assert mixture_p_value(d, v, tau) == pytest.approx(math.exp(-log_ratio), rel=1e-12)
    # the interval is the set of differences the test would not reject
    radius = mixture_radius(v, tau, ALPHA)
    assert mixture_p_value(radius, v, tau) == pytest.approx(ALPHA, rel=1e-9)
    assert mixture_p_value(radius * 0.999, v, tau) > ALPHA
    assert mixture_p_value(radius * 1.001, v, tau) < ALPHA
    assert mixture_p_value(0.0, v, tau) == 1.0


def test_the_evidence_of_a_look() -> None:
    test = SequentialTest("accuracy", mde=0.02, min_n=100)
    result = test.look(Window(Moments.of_counts(160, 200), Moments.of_counts(150, 200)))
    v = 0.8 * 0.2 / 199 + 0.75 * 0.25 / 199
    radius = mixture_radius(v, 0.02, ALPHA)
    assert result.estimate == pytest.approx(-0.05, abs=1e-12)
    assert result.low == pytest.approx(-0.05 - radius, rel=1e-9)
    assert result.high == pytest.approx(-0.05 + radius, rel=1e-9)
    assert result.p_value == pytest.approx(mixture_p_value(-0.05, v, 0.02), rel=1e-9)
    assert (result.champion_mean, result.challenger_mean) == (0.8, 0.75)
    assert (result.n_champion, result.n_challenger, result.looks) == (200, 200, 1)
    assert (result.alpha, result.mde, result.min_n) == (ALPHA, 0.02, 100)
    assert result.decision == "inconclusive"


def test_no_look_is_tested_before_min_n_rows_a_side() -> None:
    test = SequentialTest("accuracy", mde=0.02, min_n=1_000)
    result = test.update(np.ones(999), np.zeros(5_000))  # as different as can be
    assert result.decision == "inconclusive"
    assert (result.low, result.high, result.p_value) == (None, None, 1.0)
    assert result.estimate == -1.0
    result = test.update(np.ones(1), np.zeros(0))
    assert result.decision == "challenger_worse"
    assert result.decided_at == 2


def test_a_decision_is_final_and_the_test_stops() -> None:
    test = SequentialTest("accuracy", mde=0.02, min_n=100)
    decided = test.update(np.ones(500), np.r_[np.ones(250), np.zeros(250)])
    assert decided.decision == "challenger_worse"
    with pytest.raises(StoppedError, match="stopped at look 1 with challenger_worse"):
        test.update(np.ones(500), np.ones(500))
    assert test.decision() == decided


def test_constant_values_give_no_evidence_unless_the_means_differ() -> None:
    same = SequentialTest("loss", mde=0.1, min_n=10)
    assert same.update(np.full(50, 2.0), np.full(50, 2.0)).p_value == 1.0
    different = SequentialTest("loss", mde=0.1, min_n=10)
    result = different.update(np.full(50, 2.0), np.full(50, 1.0))
    assert (result.decision, result.p_value, result.low, result.high) == (
        "challenger_better", 0.0, -1.0, -1.0)


def test_merged_shards_equal_one_window_of_all_rows() -> None:
    rng = np.random.default_rng(17)
    a, b = rng.gamma(2.0, 1.0, 3_000), rng.gamma(2.0, 1.0, 3_000)
    shards = [Window.of(x, y, paired=True) for x, y in zip(np.array_split(a, 3),
                                                             np.array_split(b, 3), strict=True)]
    merged = shards[0].merge(shards[1]).merge(shards[2])
    whole = SequentialTest("loss", mde=0.1, paired=True).update(a, b)
    from_shards = SequentialTest("loss", mde=0.1, paired=True).look(merged)
    assert from_shards.estimate == pytest.approx(whole.estimate, rel=1e-9)
    assert from_shards.low == pytest.approx(whole.low, rel=1e-9)
    assert from_shards.p_value == pytest.approx(whole.p_value, rel=1e-9)


def test_checkpoint_restores_the_run_exactly() -> None:
    rng = np.random.default_rng(18)
    test = SequentialTest("accuracy", mde=0.02, min_n=500)
    copy = None
    for look in range(1, 301):
        a, b = rng.binomial(1, 0.8, 400), rng.binomial(1, 0.78, 400)
        test.update(a, b)
        if copy is not None:
            copy.update(a, b)
        if look == 3:
            copy = SequentialTest.from_dict(json.loads(json.dumps(test.to_dict())))
        if test.stopped:
            break
    assert copy is not None
    decided_at = test.decision().decided_at
    assert decided_at is not None
    assert decided_at > 3
    assert copy.decision() == test.decision()


@pytest.mark.parametrize(("change", "message"), [
    ({"schema_version": 2}, "schema_version"),
    ({"kind": "other"}, "kind"),
    ({"decision": "challenger_better"}, "does not match decided_at"),
    ({"decided_at": 1, "decision": "challenger_worse"}, "p_value <= alpha"),
    ({"paired": True}, "must match 'paired'"),
    ({"looks": -1}, "looks must be an integer >= 0"),
    ({"metric": "auc"}, "metric must be one of accuracy, loss"),
])
def test_bad_checkpoints_are_refused(change: dict[str, object], message: str) -> None:
    test = SequentialTest("accuracy", mde=0.02, min_n=100)
    test.update(np.ones(10), np.ones(10))
    with pytest.raises(ValueError, match=message):
        SequentialTest.from_dict({**test.to_dict(), **change})


@pytest.mark.parametrize(("call", "message"), [
    (lambda: SequentialTest("accuracy", mde=0.0), "mde must be a number in"),
    (lambda: SequentialTest("accuracy", mde=0.02, alpha=1.0), "alpha must be a number in"),
    (lambda: SequentialTest("accuracy", mde=0.02, min_n=1), "min_n must be an integer >= 2"),
    (lambda: SequentialTest("accuracy", mde=0.02).update([0, 2], [1, 1]),
     "champion_values must be 0 or 1, got 2 at index 1"),
    (lambda: SequentialTest("loss", mde=0.1).update([0.5, np.inf], [1.0]), "finite"),
    (lambda: SequentialTest("loss", mde=0.1, paired=True).update([0.5, 1.0], [1.0]),
     "same shape"),
    (lambda: SequentialTest("loss", mde=0.1).look(Window.of([1.0], [1.0], paired=True)),
     "the test is unpaired, got a paired window"),
    (lambda: SequentialTest("accuracy", mde=0.1).look(Window(Moments.of([2.0]), Moments())),
     "champion's mean is 2.0"),
    (lambda: Window(Moments.of([1.0]), Moments.of([1.0, 2.0]), Moments.of([1.0])),
     "as many rows on each side"),
])
def test_bad_input_is_refused(call: Callable[[], object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()
