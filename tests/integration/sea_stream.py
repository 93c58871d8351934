"""Predictions and labels of River's SEA stream with a concept change, for the label tests."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from river.datasets import synth


def iso(t: float) -> str:
    """Epoch seconds ``t`` as the events' ISO 8601 UTC time (``Z``)."""
    return datetime.fromtimestamp(t, UTC).isoformat().replace("+00:00", "Z")


def sea_stream(n: int, change: int, start: float) -> tuple[list[dict[str, Any]],
                                                            list[dict[str, Any]]]:
    """Predictions of the SEA rule of variant 0 (label ``x1 + x2 > 8``, River's rule) and
    the labels of SEA, whose threshold moves to 9.5 (variant 3) at ``change``: the model
    is right (but for SEA's 5% noise) before the change and wrong on 8 < x1 + x2 <= 9.5
    after it."""
    before = synth.SEA(variant=0, noise=0.05, seed=7)
    after = synth.SEA(variant=3, noise=0.05, seed=8)
    rows = list(before.take(change)) + list(after.take(n - change))
    predictions, labels = [], []
    for i, (x, y) in enumerate(rows):
        t = start + i * 0.05
        margin = x[0] + x[1] - 8.0
        score = round(1.0 / (1.0 + math.exp(-2.0 * margin)), 6)  # P(label True), rule 0
        pid = f"p{i}"
        predictions.append({"event_id": f"e{i}", "model_id": "sea", "model_version": "1",
                            "event_time": iso(t), "prediction_id": pid,
                            "features": {"x1": x[0], "x2": x[1], "x3": x[2]},
                            "prediction": int(score >= 0.5), "score": score})
        labels.append({"prediction_id": pid, "model_id": "sea", "label": int(y),
                       "event_time": iso(t + 30.0)})
    return predictions, labels
