"""Agreement of two versions' predicted classes against scikit-learn's Cohen's kappa."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score

from detectors.versions.agreement import agreement


@pytest.mark.parametrize("classes", [2, 5])
def test_kappa_equals_scikit_learns(classes: int) -> None:
    rng = np.random.default_rng(26)
    a = rng.integers(0, classes, 1_000)
    b = np.where(rng.random(1_000) < 0.7, a, rng.integers(0, classes, 1_000))
    result = agreement(a, b)
    assert result.share == pytest.approx(float((a == b).mean()), abs=1e-12)
    assert result.kappa == pytest.approx(cohen_kappa_score(a, b), abs=1e-12)
    assert result.share_low is not None
    assert result.share_high is not None
    assert result.share is not None
    assert result.share_low < result.share < result.share_high


def test_agreement_edge_cases() -> None:
    strings = agreement(np.array(["cat", "dog", "cat"]), np.array(["cat", "cat", "cat"]))
    assert strings.kappa == pytest.approx(
        cohen_kappa_score(["cat", "dog", "cat"], ["cat", "cat", "cat"]), abs=1e-12)
    assert agreement([1, 1, 1], [1, 1, 1]).kappa is None  # chance agreement is already 1
    assert agreement([1, 1, 1], [0, 0, 0]).kappa == 0.0
    assert agreement([], []).share is None
    with pytest.raises(ValueError, match="same requests"):
        agreement([1, 0], [1])
    with pytest.raises(ValueError, match="integer, boolean or string"):
        agreement([0.5], [0.5])
    with pytest.raises(ValueError, match="both hold strings or both numbers"):
        agreement(np.array(["1"]), np.array([1]))
