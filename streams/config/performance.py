"""``labels`` and ``models.<id>.performance``: the late-label join and model performance.

Kept apart from ``streams.config.settings`` (which builds them into ``Settings``) so that
module stays readable; nothing here reads the environment.

Decisions:

* ``labels.prediction_ttl`` (default 7 days of event time) bounds how long a
  prediction waits for its label; ``labels.early_label_hold`` (default 5 minutes of
  processing time) how long a label waits for a prediction not yet seen;
  ``labels.horizon`` (default 7 days of event time) how long a closed window's
  performance is still updated by late labels (a later label is counted as
  ``too_late`` and leaves the window as stored).
* ``models.<id>.performance.task``: ``auto`` decides from the first joined label
  of a (model, version): a bool or an integer 0/1 (also ``"0"``/``"1"``/
  ``"true"``/``"false"``) means binary classification, any other number regression.
* ``models.<id>.performance.detector``: the River detector on the model's error
  stream (``detectors.online``; ADWIN by default) and its parameters, validated
  at start. Classification feeds the 0/1 error (prediction != label), regression
  the absolute error; binary-only detectors (DDM, EDDM, HDDM_*) are refused for
  a regression task. ADWIN's ``delta`` and ``clock`` default to
  ``ADWIN_DEFAULTS`` (0.0003 and 1, not River's 0.002 and 32) unless given:
  River's defaults fire now and then on streams without any change, these never
  did, and checking for a cut at every row instead of every 32nd wins back what
  the smaller ``delta`` costs in detection delay (bench/README.md, "Concept drift",
  has the figures).
* ``models.<id>.performance.calibration_rows``: how many labelled rows with a
  score, the first of a (model, version), the score calibration of the
  performance estimate is learnt from (the reference period).
* ``models.<id>.performance.detector_delay`` (default 15 minutes of event time):
  how long the concept-drift detector waits for late labels before it is fed a
  span of event time, in order of prediction event time then ``prediction_id``
  (``streams.labels.error_feed``); an outcome that comes later is left out of the
  detector. Longer makes detections reproducible under larger label delays and
  arrival skews, at the cost of detecting later and of holding that span's
  errors in memory; set it to at least the usual label delay.
* ``models.<id>.performance.alert_after`` (default 15 minutes of event time):
  alert rules on realised performance judge a window once a labelled
  prediction this much later than the window's end has been seen, so that most
  of its labels are in; each window is judged once (later labels still update
  the stored row).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal, cast

from alerting.config_values import Parser, bad, choice, duration, integer
from detectors.concept import input_kind
from detectors.online import ParamValue, make_detector

Task = Literal["auto", "classification", "regression"]
TASKS: tuple[Task, ...] = ("auto", "classification", "regression")
# ADWIN's parameters in the service unless the configuration gives them (bench/README.md,
# "Concept drift").
ADWIN_DEFAULTS: Mapping[str, ParamValue] = MappingProxyType({"delta": 0.0003, "clock": 1})
KEYS = ("task", "detector", "calibration_rows", "alert_after", "detector_delay")
_TASK = choice(*TASKS)
_ROWS = integer(50)
_DELAY: Parser = duration(0, expected="a duration >= 0 such as 15m")


@dataclass(frozen=True)
class LabelSettings:
    """``labels``: the join of late labels to their predictions (durations in seconds)."""

    prediction_ttl: float = 7 * 86400.0
    early_label_hold: float = 300.0
    horizon: float = 7 * 86400.0
    max_batch: int = 10_000


@dataclass(frozen=True)
class PerformanceSettings:
    """``models.<id>.performance``: task, concept-drift detector, estimate calibration."""

    task: Task = "auto"
    detector: str = "adwin"
    detector_params: Mapping[str, ParamValue] = field(
        default_factory=lambda: ADWIN_DEFAULTS)
    calibration_rows: int = 1000
    alert_after: float = 900.0
    detector_delay: float = 900.0

    def to_dict(self) -> dict[str, Any]:
        detector: str | dict[str, Any] = self.detector
        if dict(self.detector_params) != default_params(self.detector):
            detector = {"name": self.detector, **dict(self.detector_params)}
        return {"task": self.task, "detector": detector,
                "calibration_rows": self.calibration_rows, "alert_after": self.alert_after,
                "detector_delay": self.detector_delay}


def default_params(name: str) -> dict[str, ParamValue]:
    """The parameters the bare detector ``name`` stands for (``ADWIN_DEFAULTS`` for ADWIN)."""
    return dict(ADWIN_DEFAULTS) if make_detector(name).name == "ADWIN" else {}


def _scalar(value: object) -> ParamValue:
    """A parameter from YAML or from the environment (text that reads as a number)."""
    if isinstance(value, str):
        for convert in (int, float):
            try:
                number = convert(value)
            except ValueError:
                continue
            if isinstance(number, float) and not math.isfinite(number):
                break
            return number
        if value.lower() in ("true", "false"):
            return value.lower() == "true"
    if isinstance(value, bool | int | float | str):
        return value
    raise ValueError(f"must be a number, a boolean or a name, got {value!r}")


def parse_performance(values: Mapping[str, Any], path: str) -> PerformanceSettings:
    """Build ``PerformanceSettings``; a bad value raises ``ConfigError``."""
    for key in values:
        if key not in KEYS:
            raise bad(f"{path}.{key}", f"one of the keys {', '.join(KEYS)}", key)
    task = _TASK(values.get("task", "auto"), f"{path}.task")
    raw = values.get("detector", {})
    raw = {"name": raw} if isinstance(raw, str) else raw
    if not isinstance(raw, Mapping):
        raise bad(f"{path}.detector", "a detector name or a mapping with a name", raw)
    name = raw.get("name", "adwin")
    params: dict[str, ParamValue] = {}
    for key, value in raw.items():
        if key != "name":
            try:
                params[str(key)] = _scalar(value)
            except ValueError:
                raise bad(f"{path}.detector.{key}", "a number, a boolean or a name",
                            value) from None
    try:
        params = {**default_params(str(name)), **params}
        make_detector(str(name), **params)
    except ValueError as exc:
        raise bad(f"{path}.detector", f"a valid detector ({exc})", raw) from None
    if task == "regression" and input_kind(str(name)) == "binary":
        raise bad(f"{path}.detector", "a detector of real-valued errors for a regression "
                    "task (adwin, pagehinkley, kswin)", name)
    rows = _ROWS(values.get("calibration_rows", 1000), f"{path}.calibration_rows")
    after = _DELAY(values.get("alert_after", 900.0), f"{path}.alert_after")
    delay = _DELAY(values.get("detector_delay", 900.0), f"{path}.detector_delay")
    return PerformanceSettings(task=cast(Task, task), detector=str(name),
                               detector_params=MappingProxyType(params),
                               calibration_rows=rows, alert_after=after,
                               detector_delay=delay)
