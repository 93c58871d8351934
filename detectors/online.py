"""Online concept-drift detection: River's detectors behind one contract.

An `OnlineDriftDetector` wraps one of River's drift detectors and watches a stream of
numbers, usually a model's error stream, one value (`update`) or one batch (`update_many`)
at a time, and reports the 0-based stream positions where drift was detected.

| name          | River class                 | input             | main defaults               |
|---------------|-----------------------------|-------------------|-----------------------------|
| `ADWIN`       | `river.drift.ADWIN`         | real-valued error | delta=0.002, clock=32       |
| `PageHinkley` | `river.drift.PageHinkley`   | real-valued error | threshold=50, delta=0.005   |
| `KSWIN`       | `river.drift.KSWIN`         | real-valued error | alpha=0.005, window 100/30  |
| `DDM`         | `river.drift.binary.DDM`    | 0/1 error         | drift_threshold=3           |
| `EDDM`        | `river.drift.binary.EDDM`   | 0/1 error         | alpha=0.95, beta=0.9        |
| `HDDM_A`      | `river.drift.binary.HDDMA`  | 0/1 error         | drift_confidence=0.001      |
| `HDDM_W`      | `river.drift.binary.HDDMW`  | 0/1 error         | drift_confidence=0.001      |

ADWIN (the default) keeps an adaptive window and detects a change in the mean of a
real-valued stream (absolute errors, losses or 0/1 errors); PageHinkley is a CUSUM test on the
mean; KSWIN compares a random sample of the older part of a sliding window with its newest
part by a Kolmogorov-Smirnov test, drawing from its own `random.Random(seed)` (default seed 0,
so runs are reproducible). DDM, EDDM, HDDM_A and HDDM_W watch binary error indicators
(1 = the prediction was wrong) and reject any other value. `make_detector(name).params`
lists every parameter with its default.

Semantics:

* Parameters are checked before River sees them; a `ValueError` names the detector, the
  parameter, the allowed range and the value received. Unknown names list the allowed ones.
* Inputs must be finite real numbers (0 or 1 for binary detectors). A bad batch raises
  `ValueError` before any of its values is fed, so the detector is left as it was.
* `drift_detected` is true only right after the update whose value triggered a detection;
  that value's position is appended to `detections` and the River detector is replaced by a
  fresh one with the same parameters: the state River itself resets to on its next update,
  so positions equal the raw River detector's and one change is reported once.
* `reset()` starts a fresh River detector and clears `drift_detected`; `position` keeps
  counting and `detections` keeps its history. A detector restored by `from_state()` has
  `drift_detected` false, so a detection is never reported again after a restart.

The examples of River's documentation give the same positions:

>>> import random
>>> rng = random.Random(12345)
>>> stream = rng.choices([0, 1], k=1000) + rng.choices(range(4, 8), k=1000)
>>> make_detector().update_many(stream)
[1023]
>>> make_detector("PageHinkley").update_many(stream)
[1006]
>>> make_detector("KSWIN", alpha=0.0001, seed=42).update_many(stream)
[1016]
>>> rng = random.Random(42)
>>> errors = rng.choices([0, 1], k=1000) + rng.choices([0, 1], k=1000, weights=[0.3, 0.7])
>>> [make_detector(name).update_many(errors) for name in ("DDM", "HDDM_A", "HDDM_W")]
[[1334], [1206], [1077]]
>>> make_detector("EDDM", alpha=0.8, beta=0.75).update_many(errors)
[1278]
"""

from __future__ import annotations

import base64
import math
import numbers
import pickle
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Self, TypeAlias, cast

import numpy as np
import numpy.typing as npt
from river import drift
from river.__version__ import __version__ as river_version
from river.drift import binary

ParamValue: TypeAlias = float | int | str | bool
Values: TypeAlias = Sequence[float] | npt.NDArray[Any]

STATE_FORMAT = 1
_INT32_MAX = 2**31 - 1  # ADWIN's parameters are native integers


@dataclass(frozen=True, slots=True)
class DriftDetection:
    """One detection: its 0-based stream position, the detector and its parameters."""

    position: int
    detector: str
    params: Mapping[str, ParamValue]


@dataclass(frozen=True, slots=True)
class _Spec:
    default: ParamValue
    low: float | None = None
    high: float | None = None
    bounds: str = "[]"
    choices: tuple[ParamValue, ...] = ()

    def allowed(self) -> str:
        integral = isinstance(self.default, int)
        if integral and self.high is None:
            return f"an integer >= {self.low}"
        high = "inf" if self.high is None else self.high
        kind = "an integer in" if integral else "in"
        return f"{kind} {self.bounds[0]}{self.low}, {high}{self.bounds[1]}"

    def contains(self, x: float) -> bool:
        low, high = -math.inf if self.low is None else self.low, self.high
        above = low <= x if self.bounds[0] == "[" else low < x
        below = high is None or (x <= high if self.bounds[1] == "]" else x < high)
        return math.isfinite(x) and above and below


@dataclass(frozen=True, slots=True)
class _Kind:
    name: str
    factory: Callable[..., Any]
    binary: bool
    specs: Mapping[str, _Spec]
    order: tuple[str, str] | None = None  # (low, high): params[high] >= params[low]


def _unit(default: float, bounds: str = "()") -> _Spec:
    return _Spec(default, 0, 1, bounds)


_FLAG = _Spec(False, choices=(True, False))
_HDDM = {"drift_confidence": _unit(0.001), "warning_confidence": _unit(0.005)}
_KINDS: dict[str, _Kind] = {
    "adwin": _Kind("ADWIN", drift.ADWIN, False, {
        "delta": _unit(0.002), "clock": _Spec(32, 1, _INT32_MAX),
        "max_buckets": _Spec(5, 1, _INT32_MAX), "min_window_length": _Spec(5, 1, _INT32_MAX),
        "grace_period": _Spec(10, 0, _INT32_MAX)}),
    "pagehinkley": _Kind("PageHinkley", drift.PageHinkley, False, {
        "min_instances": _Spec(30, 1), "delta": _Spec(0.005, 0, None, "[)"),
        "threshold": _Spec(50.0, 0, None, "()"), "alpha": _unit(1 - 0.0001, "(]"),
        "mode": _Spec("both", choices=("up", "down", "both"))}),
    "kswin": _Kind("KSWIN", drift.KSWIN, False, {
        "alpha": _unit(0.005), "window_size": _Spec(100, 2), "stat_size": _Spec(30, 1),
        "seed": _Spec(0, 0)}),
    "ddm": _Kind("DDM", binary.DDM, True, {
        "warm_start": _Spec(30, 0), "warning_threshold": _Spec(2.0, 0, None, "()"),
        "drift_threshold": _Spec(3.0, 0, None, "()")}, ("warning_threshold", "drift_threshold")),
    "eddm": _Kind("EDDM", binary.EDDM, True, {
        "warm_start": _Spec(30, 0), "alpha": _unit(0.95, "(]"), "beta": _unit(0.9, "(]")},
        ("beta", "alpha")),
    "hddma": _Kind("HDDM_A", binary.HDDMA, True, {**_HDDM, "two_sided_test": _FLAG},
                   ("drift_confidence", "warning_confidence")),
    "hddmw": _Kind("HDDM_W", binary.HDDMW, True, {
        **_HDDM, "lambda_val": _unit(0.05, "(]"), "two_sided_test": _FLAG},
        ("drift_confidence", "warning_confidence")),
}
DETECTORS: tuple[str, ...] = tuple(kind.name for kind in _KINDS.values())


def _lookup(name: object) -> _Kind:
    key = name.lower().replace("_", "").replace("-", "") if isinstance(name, str) else ""
    if key not in _KINDS:
        raise ValueError(f"unknown detector {name!r}; allowed: {', '.join(DETECTORS)}")
    return _KINDS[key]


def _coerce(where: str, spec: _Spec, value: object) -> ParamValue:
    if spec.choices:
        for option in spec.choices:
            if type(value) is type(option) and value == option:
                return option
        raise ValueError(f"{where} must be one of {', '.join(map(repr, spec.choices))}, "
                         f"got {value!r}")
    number = _number(value, integral=isinstance(spec.default, int))
    if number is None or not spec.contains(number):
        raise ValueError(f"{where} must be {spec.allowed()}, got {value!r}")
    return number


def _number(value: object, *, integral: bool) -> float | None:
    if isinstance(value, bool):
        return None
    if integral and isinstance(value, numbers.Integral):
        return int(value)
    if not integral and isinstance(value, numbers.Real):
        return float(value)
    return None


def _validate(kind: _Kind, given: Mapping[str, object]) -> dict[str, ParamValue]:
    unknown = sorted(set(given) - set(kind.specs))
    if unknown:
        raise ValueError(f"unknown {kind.name} parameter(s) {', '.join(unknown)}; "
                         f"allowed: {', '.join(kind.specs)}")
    params = {key: _coerce(f"{kind.name} {key}", spec, given.get(key, spec.default))
              for key, spec in kind.specs.items()}
    if kind.order is not None:
        low, high = kind.order
        if float(params[high]) < float(params[low]):
            raise ValueError(f"{kind.name} {high} must be >= {low} ({params[low]!r}), "
                             f"got {params[high]!r}")
    if kind.name == "KSWIN" and 2 * int(params["stat_size"]) > int(params["window_size"]):
        raise ValueError(f"KSWIN stat_size must be an integer in [1, window_size // 2] = "
                         f"[1, {int(params['window_size']) // 2}], got {params['stat_size']!r}")
    return params


def _check_value(kind: _Kind, x: object) -> float:
    if isinstance(x, bool | np.bool_):
        x = int(x)
    value = float(x) if isinstance(x, numbers.Real) else math.nan
    if kind.binary and value not in (0.0, 1.0):
        raise ValueError(f"{kind.name} input must be 0 or 1 (1 = error), got {x!r}")
    if not math.isfinite(value):
        raise ValueError(f"{kind.name} input must be a finite real number, got {x!r}")
    return int(value) if kind.binary else value


def _check_batch(kind: _Kind, values: Values) -> list[float]:
    array = np.asarray(values)
    if array.ndim != 1 or array.dtype.kind not in "biuf":
        raise ValueError(f"{kind.name} values must be a 1-D sequence of real numbers, "
                         f"got dtype {array.dtype} and shape {array.shape}")
    array = array.astype(np.float64, copy=False)
    bad = (array != 0.0) & (array != 1.0) if kind.binary else ~np.isfinite(array)
    if bad.any():
        at = int(np.argmax(bad))
        need = "0 or 1 (1 = error)" if kind.binary else "a finite real number"
        raise ValueError(f"{kind.name} input must be {need}, "
                         f"got {float(array[at])!r} at index {at}")
    return cast(list[float], (array.astype(np.int64) if kind.binary else array).tolist())


class OnlineDriftDetector:
    """One River drift detector over a stream, with positions, history and saved state."""

    __slots__ = ("_detections", "_drift", "_kind", "_params", "_position", "_river")

    def __init__(self, name: str = "adwin", **params: ParamValue) -> None:
        self._kind = _lookup(name)
        self._params = _validate(self._kind, params)
        self._river: Any = self._kind.factory(**self._params)
        self._position = 0
        self._detections: list[int] = []
        self._drift = False

    @property
    def name(self) -> str:
        """The detector's canonical name, e.g. ``"ADWIN"``."""
        return self._kind.name

    @property
    def params(self) -> dict[str, ParamValue]:
        """The effective parameters, defaults filled in (a copy)."""
        return dict(self._params)

    @property
    def position(self) -> int:
        """How many values were seen since creation; `reset()` does not change it."""
        return self._position

    @property
    def detections(self) -> tuple[int, ...]:
        """The 0-based stream positions of every detection so far."""
        return tuple(self._detections)

    @property
    def drift_detected(self) -> bool:
        """Whether the last value fed triggered a detection."""
        return self._drift

    @property
    def warning_detected(self) -> bool:
        """River's warning zone (DDM, EDDM, HDDM_A, HDDM_W); always false for the others."""
        return bool(getattr(self._river, "warning_detected", False))

    def update(self, x: float) -> Self:
        """Feed one value."""
        self._river.update(_check_value(self._kind, x))
        drifted = bool(self._river.drift_detected)
        if drifted:
            self._detections.append(self._position)
            self.reset()
        self._drift = drifted
        self._position += 1
        return self

    def update_many(self, values: Values) -> list[int]:
        """Feed a batch in order and return the positions detected within it.

        An empty batch changes nothing; otherwise `drift_detected` tells whether the batch's
        last value triggered a detection.
        """
        batch = _check_batch(self._kind, values)
        if not batch:
            return []
        start, detector, found = self._position, self._river, []
        for offset, value in enumerate(batch):
            detector.update(value)
            if detector.drift_detected:
                found.append(start + offset)
                detector = self._kind.factory(**self._params)
        self._river = detector
        self._position = start + len(batch)
        self._detections.extend(found)
        self._drift = found[-1:] == [self._position - 1]
        return found

    def reset(self) -> None:
        """Start a fresh River detector; `position` and `detections` are kept."""
        self._river = self._kind.factory(**self._params)
        self._drift = False

    def detection(self, position: int) -> DriftDetection:
        """The record of the detection at `position`, for storage."""
        if position not in self._detections:
            raise ValueError(f"no {self.name} detection at position {position!r}")
        return DriftDetection(position, self.name, MappingProxyType(dict(self._params)))

    def to_state(self) -> dict[str, object]:
        """A JSON-safe snapshot; the River detector is pickled and base64-encoded."""
        blob = base64.b64encode(pickle.dumps(self._river, protocol=pickle.HIGHEST_PROTOCOL))
        return {"format": STATE_FORMAT, "river_version": river_version, "detector": self.name,
                "params": dict(self._params), "position": self._position,
                "detections": list(self._detections), "river_state": blob.decode("ascii")}

    @classmethod
    def from_state(cls, state: Mapping[str, object]) -> Self:
        """Rebuild a detector from `to_state()` output, with `drift_detected` false.

        The state must come from a trusted store that this service wrote: unpickling can run
        arbitrary code. It must come from the same River version, else `ValueError`.
        """
        for key, want in (("format", STATE_FORMAT), ("river_version", river_version)):
            if state.get(key) != want:
                raise ValueError(f"state {key} must be {want!r}, got {state.get(key)!r}")
        params = state.get("params")
        if not isinstance(params, Mapping):
            raise ValueError(f"state params must be a mapping, got {params!r}")
        restored = cls(cast(str, state.get("detector")), **params)
        restored._position, restored._detections = _history(state)
        try:  # a trusted store only, see above
            inner = pickle.loads(base64.b64decode(str(state.get("river_state")), validate=True))
        except Exception as error:
            raise ValueError(f"state river_state cannot be decoded: {error!r}") from error
        if type(inner) is not type(restored._river):
            raise ValueError(f"state river_state must hold a {restored.name} detector, "
                             f"got {type(inner).__name__}")
        restored._river = inner
        return restored


def _history(state: Mapping[str, object]) -> tuple[int, list[int]]:
    position, found = state.get("position"), state.get("detections")
    if type(position) is not int or position < 0:
        raise ValueError(f"state position must be an integer >= 0, got {position!r}")
    if not isinstance(found, list) or not all(type(p) is int and 0 <= p < position
                                              for p in found) or found != sorted(set(found)):
        raise ValueError(f"state detections must be increasing positions in [0, {position}), "
                         f"got {found!r}")
    return position, list(found)


def make_detector(name: str = "adwin", **params: ParamValue) -> OnlineDriftDetector:
    """Build the named detector (case, '_' and '-' ignored) with validated parameters."""
    return OnlineDriftDetector(name, **params)
