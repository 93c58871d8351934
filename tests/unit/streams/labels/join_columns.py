"""Prediction and label columns written as rows, for the label join tests."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from streams.labels.join import LabelColumns, PredictionColumns


def preds(*rows: tuple[Any, ...]) -> PredictionColumns:
    """Rows of (id, event time[, model, version, prediction, score])."""
    full = [(*row, "fraud", "1", 1, 0.5)[:6] if len(row) == 2 else row for row in rows]
    return PredictionColumns([r[0] for r in full], [r[2] for r in full], [r[3] for r in full],
                             np.array([r[1] for r in full], np.float64), [r[4] for r in full],
                             np.array([math.nan if r[5] is None else r[5] for r in full]))


def labels(*rows: tuple[Any, ...]) -> LabelColumns:
    """Rows of (id, event time[, model, label])."""
    full = [(*row, "fraud", 1)[:4] if len(row) == 2 else row for row in rows]
    return LabelColumns([r[0] for r in full], [r[2] for r in full],
                        np.array([r[1] for r in full], np.float64), [r[3] for r in full])
