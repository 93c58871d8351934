"""Concept drift on the error stream: errors from outcomes, detectors run batch by batch.

A joined outcome (label and prediction) becomes one input of an online detector
(``detectors.online``) according to the task and the input the detector takes:

| task           | detector input                      | error per row                     |
|----------------|-------------------------------------|-----------------------------------|
| classification | 0/1 (DDM, EDDM, HDDM_A, HDDM_W)     | ``1 if y_pred != y_true else 0``  |
| classification | real (ADWIN, PageHinkley, KSWIN)    | ``abs(y_true - y_score)`` when    |
|                |                                     | scores are given, else 0/1 error  |
| regression     | real (ADWIN, PageHinkley, KSWIN)    | ``abs(y_true - y_pred)``          |
| regression     | 0/1                                 | refused: there is no 0/1 error    |

``run_batches(detector, batches)`` feeds the batches in order and returns the
detections found in them, each with its 0-based position in the whole stream
since the detector was created. Positions do not depend on how the stream is
cut into batches: they equal River's detector run row by row over the
concatenated stream, restarted after each detection (which is what River does
itself on its next update). All batches are checked before any is fed, so a
bad value anywhere leaves the detector as it was.

>>> truth, pred = [1, 0, 1, 1], [1, 1, 1, 0]
>>> error_values("DDM", truth, pred).tolist()
[0.0, 1.0, 0.0, 1.0]
>>> error_values("ADWIN", truth, pred, y_score=[0.9, 0.6, 0.8, 0.4]).round(2).tolist()
[0.1, 0.6, 0.2, 0.6]
>>> error_values("ADWIN", [3.0, 1.5], [2.0, 2.0], task="regression").tolist()
[1.0, 0.5]
>>> import random
>>> from detectors.online import make_detector
>>> rng = random.Random(42)
>>> errors = rng.choices([0, 1], k=1000) + rng.choices([0, 1], k=1000, weights=[0.3, 0.7])
>>> detector = make_detector("HDDM_A")
>>> [(d.position, d.detector) for d in run_batches(detector, [errors[:700], errors[700:]])]
[(1206, 'HDDM_A')]
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from detectors.online import (
    DriftDetection,
    OnlineDriftDetector,
    Values,
    _check_batch,
    _lookup,
)
from detectors.performance import _finite, _labels, _same_length, _scores

Task = Literal["classification", "regression"]


def input_kind(detector: str | OnlineDriftDetector) -> Literal["binary", "real"]:
    """``"binary"`` for detectors of 0/1 errors, ``"real"`` for the others."""
    name = detector.name if isinstance(detector, OnlineDriftDetector) else detector
    return "binary" if _lookup(name).binary else "real"


def error_values(detector: str | OnlineDriftDetector, y_true: ArrayLike, y_pred: ArrayLike, *,
                 task: Task = "classification", y_score: ArrayLike | None = None,
                 ) -> NDArray[np.float64]:
    """The error per row that ``detector`` takes, following the table of the module docstring.

    Classification: ``y_true`` and ``y_pred`` in {0, 1}, ``y_score`` (optional) the
    probability of class 1 in [0, 1]. Regression: finite numbers.
    """
    kind = input_kind(detector)
    if task == "regression":
        if kind == "binary":
            name = detector.name if isinstance(detector, OnlineDriftDetector) else detector
            raise ValueError(f"task 'regression' needs a real-valued detector (ADWIN, "
                             f"PageHinkley, KSWIN), got {name!r}, which takes 0/1 errors")
        truth, pred = _finite("y_true", y_true), _finite("y_pred", y_pred)
        _same_length(truth, "y_pred", pred)
        return np.abs(truth - pred)
    if task != "classification":
        raise ValueError(f"task must be one of classification, regression; got {task!r}")
    labels, pred_labels = _labels("y_true", y_true), _labels("y_pred", y_pred)
    _same_length(labels, "y_pred", pred_labels)
    if kind == "real" and y_score is not None:
        scores = _scores("y_score", y_score)
        _same_length(labels, "y_score", scores)
        return np.abs(labels.astype(np.float64) - scores)
    wrong: NDArray[np.bool_] = labels != pred_labels
    return wrong.astype(np.float64)


def run_batches(detector: OnlineDriftDetector, batches: Iterable[Values],
                ) -> list[DriftDetection]:
    """Feed ``batches`` in order; return the detections found, positions in the whole stream.

    Every batch is checked first; a bad one raises ValueError and nothing is fed.
    """
    given: list[Any] = list(batches)
    kind = _lookup(detector.name)
    for number, batch in enumerate(given):
        try:
            _check_batch(kind, batch)
        except ValueError as error:
            raise ValueError(f"batch {number}: {error}") from error
    found: list[DriftDetection] = []
    for batch in given:
        found.extend(detector.detection(position) for position in detector.update_many(batch))
    return found
