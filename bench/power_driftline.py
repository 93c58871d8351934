"""driftline's per-feature verdict as the power benchmark asks it (``bench/power.py``).

``driftline_flags(reference, window, kind)`` runs ``detectors.compare`` on the
one feature and says whether the policy calls it drifted (severity ``warn`` or
``critical``). With one column, the correction leaves the p-value as it is.
``CLASSIC`` is the classic rule (PSI and Benjamini–Hochberg at 0.05), for a column
beside the default budget verdict: ``--verdict classic=power_driftline:CLASSIC``.

A verdict is any ``Verdict``: a callable ``(reference, window, kind) -> bool``.
``verdict_for(policy)`` makes one of a ``DriftPolicy``; ``load_verdict("pkg.mod:attr")``
takes an attribute that is either a policy or such a callable, which is how
``power.py --verdict NAME=pkg.mod:attr`` adds a column for another verdict.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scenarios import Kind, category_labels

from detectors import DriftPolicy, compare

Verdict = Callable[[NDArray[np.generic], NDArray[np.generic], Kind], bool]
CLASSIC = DriftPolicy.of("classic")


def _values(data: NDArray[np.generic], kind: Kind) -> NDArray[Any]:
    return category_labels(data) if kind == "categorical" else np.asarray(data, np.float64)


def driftline_flags(
    reference: NDArray[np.generic],
    window: NDArray[np.generic],
    kind: Kind,
    policy: DriftPolicy | None = None,
) -> bool:
    """Whether ``policy`` (default: ``DriftPolicy()``) flags the one feature as drifted."""
    report = compare({"x": _values(reference, kind)}, {"x": _values(window, kind)},
                     {"x": kind}, policy=policy or DriftPolicy())
    return report.features[0].drifted


def verdict_for(policy: DriftPolicy) -> Verdict:
    """The verdict of ``policy`` through ``driftline_flags``."""
    return partial(driftline_flags, policy=policy)


def load_verdict(target: str) -> Verdict:
    """``"package.module:attribute"``: a ``DriftPolicy`` or a ``Verdict`` callable."""
    module_name, _, attribute = target.partition(":")
    if not module_name or not attribute:
        raise ValueError(f"verdict {target!r}: expected package.module:attribute")
    found = getattr(importlib.import_module(module_name), attribute)
    if isinstance(found, DriftPolicy):
        return verdict_for(found)
    if callable(found):
        return found  # type: ignore[no-any-return]
    raise TypeError(f"verdict {target!r} is neither a DriftPolicy nor a callable")


def as_flagger(
    verdict: Verdict,
) -> Callable[[Sequence[NDArray[np.generic]], Sequence[NDArray[np.generic]], Kind], list[bool]]:
    """A verdict of one trial as the batch function ``peer.run_cells`` runs."""
    def flagger(references: Sequence[NDArray[np.generic]],
                windows: Sequence[NDArray[np.generic]], kind: Kind) -> list[bool]:
        return [bool(verdict(r, w, kind)) for r, w in zip(references, windows, strict=True)]
    return flagger
