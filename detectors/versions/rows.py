"""Per-row values that two versions are compared on, from labels and predictions.

| function          | value per row                                   | better  |
|-------------------|-------------------------------------------------|---------|
| ``correct``       | 1 when ``y_pred == y_true``, else 0             | higher  |
| ``absolute_error``| ``abs(y_true - y_pred)``                        | lower   |
| ``log_loss``      | ``-log(p)``, p the score of the true class      | lower   |

The means of these values are the window's accuracy, MAE and log loss as
``detectors.performance`` computes them (log loss clipped the same way, to
``LOG_LOSS_EPS``). Inputs are checked as there: labels in {0, 1}, finite
numbers, scores in [0, 1]; a bad value raises ValueError naming its index.

>>> correct([1, 0, 1, 1], [1, 1, 1, 0]).tolist()
[1.0, 0.0, 1.0, 0.0]
>>> absolute_error([3.0, 1.5], [2.0, 2.0]).tolist()
[1.0, 0.5]
>>> log_loss([1, 0], [0.8, 0.2]).round(4).tolist()
[0.2231, 0.2231]
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from detectors.performance import LOG_LOSS_EPS, _finite, _labels, _same_length, _scores


def correct(y_true: ArrayLike, y_pred: ArrayLike) -> NDArray[np.float64]:
    """1.0 where the predicted label (0/1) equals the true one, else 0.0."""
    truth, pred = _labels("y_true", y_true), _labels("y_pred", y_pred)
    _same_length(truth, "y_pred", pred)
    same: NDArray[np.bool_] = truth == pred
    return same.astype(np.float64)


def absolute_error(y_true: ArrayLike, y_pred: ArrayLike) -> NDArray[np.float64]:
    """``abs(y_true - y_pred)`` of finite numbers."""
    truth, pred = _finite("y_true", y_true), _finite("y_pred", y_pred)
    _same_length(truth, "y_pred", pred)
    return np.abs(truth - pred)


def log_loss(y_true: ArrayLike, y_score: ArrayLike) -> NDArray[np.float64]:
    """Per-row log loss of labels in {0, 1} and scores (probability of class 1) in [0, 1]."""
    truth, scores = _labels("y_true", y_true), _scores("y_score", y_score)
    _same_length(truth, "y_score", scores)
    p_true = np.where(truth == 1, scores, 1.0 - scores)
    loss: NDArray[np.float64] = -np.log(np.clip(p_true, LOG_LOSS_EPS, 1.0 - LOG_LOSS_EPS))
    return loss
