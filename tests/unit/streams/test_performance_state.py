"""The score calibration a (model, version) learns from its first labelled rows."""

from __future__ import annotations

import numpy as np

from streams.join import Outcome
from streams.performance_settings import PerformanceSettings
from streams.performance_state import ModelPerformance


def outcomes(n: int, seed: int = 0) -> list[Outcome]:
    rng = np.random.default_rng(seed)
    scores = rng.random(n).round(6).tolist()
    labels = (rng.random(n) < np.array(scores)).astype(int).tolist()
    return [Outcome("m", "1", f"p{i}", 1000.0 + i, 1030.0 + i, int(s >= 0.5), s, y, 30.0)
            for i, (s, y) in enumerate(zip(scores, labels, strict=True))]


def test_a_calibration_of_fewer_than_100_rows_is_ready_when_the_setting_asks_for_them() -> None:
    model = ModelPerformance("m", "1", PerformanceSettings(calibration_rows=60), 60.0, 86400.0)
    model.update(outcomes(59))
    assert model.calibration is None
    model.update(outcomes(5, seed=1))
    assert model.calibration is not None
    assert model.calibration.n_rows == 60
    assert model.calibration.ready
