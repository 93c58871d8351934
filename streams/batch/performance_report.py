"""Model performance of a labelled file, for ``driftline compare --target ... --prediction ...``.

A target whose values are all 0 or 1 makes a binary classifier: the first
prediction column holding only 0/1 is the predicted class, the first holding
other values in [0, 1] is the score (the probability of class 1). With a score
but no class column, the class is ``score >= 0.5``. Any other numeric target
makes a regression on the first prediction column. Rows missing the target or a
used prediction are left out. A categorical (text) target gets no metrics.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import numpy as np
from numpy.typing import NDArray

from detectors.performance import ClassificationSketch, RegressionSketch
from streams.batch.files import Columns


def _numeric(columns: Columns, name: str) -> NDArray[np.float64] | None:
    values = columns.values.get(name)
    if values is None or values.dtype == object:
        return None
    return np.where(columns.missing[name], np.nan, values)


def _is_binary(x: NDArray[np.float64]) -> bool:
    present = x[np.isfinite(x)]
    return present.size > 0 and bool(np.all((present == 0) | (present == 1)))


def _is_score(x: NDArray[np.float64]) -> bool:
    present = x[np.isfinite(x)]
    return present.size > 0 and bool(np.all((present >= 0) & (present <= 1)))


def performance(columns: Columns, target: str, predictions: tuple[str, ...]
                ) -> dict[str, Any] | None:
    """The metrics of one file as a JSON-safe dict, or None when they do not apply."""
    truth = _numeric(columns, target)
    outputs = [(n, x) for n in predictions if (x := _numeric(columns, n)) is not None]
    if truth is None or not outputs:
        return None
    if _is_binary(truth):
        labels = next((x for _, x in outputs if _is_binary(x)), None)
        score = next((x for _, x in outputs if _is_score(x) and not _is_binary(x)), None)
        if labels is None and score is None:
            return None
        if labels is None:
            assert score is not None
            labels = np.where(np.isfinite(score), (score >= 0.5).astype(float), np.nan)
        used = [truth, labels] + ([score] if score is not None else [])
        keep = np.logical_and.reduce([np.isfinite(u) for u in used])
        sketch = ClassificationSketch().update(
            truth[keep].astype(np.int64), labels[keep].astype(np.int64),
            None if score is None else score[keep])
        return {"task": "binary_classification", **asdict(sketch.result())}
    prediction = outputs[0][1]
    keep = np.isfinite(truth) & np.isfinite(prediction)
    regression = RegressionSketch().update(truth[keep], prediction[keep])
    return {"task": "regression", **asdict(regression.result())}
