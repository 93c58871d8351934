"""At most ``ingest.max_features_per_model`` distinct feature names per model version.

Producers choose feature names, so a bug or an attacker can send a new name with every
event. Each name costs memory in the open windows, a column in the reference, metric
series and rows per window: unbounded names are unbounded memory and cardinality. So a
model version admits feature names first come, first served, up to the cap; the values
of any other name are dropped from the batch before it reaches the windows, counted
(``driftline_features_dropped_total{model}``: values dropped) and logged at most once a
minute per model.

The admitted names are not checkpointed: after a restart they are derived again from
what the model's state holds (its reference's columns and its open windows' sampled
rows), so the cap holds at every moment though the set may be admitted anew.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Iterable

import numpy as np

from streams.decoding.columns import OUTPUT_COLUMNS, ModelBatch
from streams.ingest.windows import ModelWindows
from streams.runtime.metrics import Metrics

log = logging.getLogger(__name__)
LOG_INTERVAL = 60.0  # seconds between two lines about one model's dropped names


@dataclasses.dataclass
class FeatureCap:
    """The admitted names of one model version (``admit`` trims batches to them)."""

    limit: int
    names: set[str] = dataclasses.field(default_factory=set)
    dropped: int = 0
    _logged_at: float = -LOG_INTERVAL

    @classmethod
    def of(cls, limit: int, held: Iterable[str]) -> FeatureCap:
        """A cap already holding ``held`` (a restored model's names, within the limit)."""
        cap = cls(limit)
        for name in held:
            if len(cap.names) >= limit:
                break
            cap.names.add(name)
        return cap

    def admit(self, batch: ModelBatch, metrics: Metrics) -> ModelBatch:
        """``batch`` without the features beyond the cap (the same object when none is).

        A batch decoded within a ``NameBudget`` (``streams.decoding.columns``) lists its skipped
        names in ``skipped``: they are admitted or refused here in batch order like
        the built ones, and the columns of any admitted after all (a budget taken
        before another batch of the version was admitted) are built now.
        """
        skipped = batch.skipped
        refused = []
        for name in batch.order if skipped else batch.feature_names:
            if name not in self.names:
                if len(self.names) < self.limit:
                    self.names.add(name)
                else:
                    refused.append(name)
        if skipped:
            batch = self._completed(batch)
        if not refused:
            return batch
        gone = set(refused)
        rows = len(batch.row_keys)  # count_nonzero: a flood's 10^5 names in a few ms
        values = sum(skipped[name] if name in skipped
                     else rows - int(np.count_nonzero(batch.missing[name])) for name in refused)
        self.dropped += values
        metrics.features_dropped.labels(model=batch.model_id).inc(values)
        now = time.monotonic()
        if now - self._logged_at >= LOG_INTERVAL:
            self._logged_at = now
            log.warning("model %r version %r has %d feature names, the most "
                        "ingest.max_features_per_model allows; %d values of new names dropped "
                        "so far (this batch: %s)", batch.model_id[:100],
                        batch.model_version[:100], self.limit, self.dropped,
                        ", ".join(repr(n[:40]) for n in refused[:3])
                        + (f" and {len(refused) - 3} more" if len(refused) > 3 else ""))
        return dataclasses.replace(
            batch, columns={k: v for k, v in batch.columns.items() if k not in gone},
            missing={k: v for k, v in batch.missing.items() if k not in gone},
            feature_names=tuple(n for n in batch.feature_names if n not in gone))

    def _completed(self, batch: ModelBatch) -> ModelBatch:
        """``batch`` with the columns of its skipped names the cap holds built, in batch
        order, and nothing skipped left (the others are refused by ``admit``)."""
        columns, missing = dict(batch.columns), dict(batch.missing)
        feature_names = []
        for name in batch.order:
            if name in batch.skipped:
                if name not in self.names:
                    continue
                assert batch.rebuild is not None  # set with skipped by the decoder
                columns[name], missing[name] = batch.rebuild(name)
            feature_names.append(name)
        order = [*feature_names, *OUTPUT_COLUMNS]  # every built name is in batch.order
        return dataclasses.replace(
            batch, columns={n: columns[n] for n in order}, missing={n: missing[n] for n in order},
            feature_names=tuple(feature_names), skipped={}, order=(), rebuild=None)


def held_names(windows: ModelWindows) -> list[str]:
    """The feature names a model's state holds: its reference's, then its open windows'."""
    names: dict[str, None] = {}
    if windows.reference is not None:
        names.update(dict.fromkeys(c.name for c in windows.reference.profile.columns))
    for window in windows.windows.values():
        if window.rows is not None:
            names.update(dict.fromkeys(window.rows.names))
    return [name for name in names if name not in OUTPUT_COLUMNS]
