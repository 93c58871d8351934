"""At most ``ingest.max_models`` model versions with open state on one worker.

Producers choose model ids and versions, so a bug or an attacker can send a new one
with every event. Each version costs open windows, a checkpointed state, a reference
and metric series: unbounded versions are unbounded memory and cardinality. So the
worker admits model versions first come, first served, while it holds open state for
fewer than the cap (the distinct (model, version) keys of its partitions' states);
the events of any other version are dead-lettered as ``too_many_models`` with the
original record, counted in ``driftline_events_invalid_total{reason}`` like every
dead letter and logged at most once a minute. Nothing is lost: the dead letters can be
replayed once the cap is raised.

A version stops counting when the ingest lets go of its state (``Ingest.tick``): no
open window, every closed window stored, and no event for the model's
``idle_timeout``. Its stored windows stay; an event of it later is admitted again
(when there is room) and continues after its last stored window.

The admitted set is not checkpointed apart: it is the set of versions in the
partitions' states, so a restarted worker derives it from the restored checkpoints.
A version let go of since the last checkpoint of its partition is restored with it,
and let go of again after its ``idle_timeout``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Collection, Iterable, Sequence

import numpy as np

from streams.decoding.columns import OFFSET_BITS, ModelBatch
from streams.decoding.events import DETAIL_CHARS, DeadLetter, Message
from streams.decoding.fastdecode import DecodedColumns

log = logging.getLogger(__name__)
LOG_INTERVAL = 60.0  # seconds between two lines about refused model versions
ID_CHARS = 100  # characters of a model id or version kept in a detail or a log line
_OFFSET_MASK = np.uint64((1 << OFFSET_BITS) - 1)


def refusal(model_id: str, version: str, limit: int) -> str:
    """The dead letter's detail for an event of a version beyond the cap."""
    return (f"model {model_id[:ID_CHARS]!r} version {version[:ID_CHARS]!r} is not admitted: "
            f"this worker holds state for {limit} model versions, the most "
            f"ingest.max_models allows")[:DETAIL_CHARS]


class ModelCap:
    """Admits the model versions of decoded batches while fewer than ``limit`` are held."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.refused = 0  # events dead-lettered so far
        self._logged_at = -LOG_INTERVAL

    def admit(self, decoded: DecodedColumns, messages: Sequence[Message],
              held: Collection[tuple[str, str]]) -> set[tuple[str, str]]:
        """Move the batches of versions beyond the cap from ``decoded`` to its dead letters.

        ``held`` are the versions with open state; the ones admitted from this batch are
        returned (the caller creates their state). A version keeps its place in both
        ``decoded.batches`` and ``decoded.backfill``.
        """
        admitted: set[tuple[str, str]] = set()
        refused: list[ModelBatch] = []
        for batches in (decoded.batches, decoded.backfill):
            for key in list(batches):
                if key in held or key in admitted:
                    continue
                if len(held) + len(admitted) < self.limit:
                    admitted.add(key)
                else:
                    refused.append(batches.pop(key))
        if refused:
            decoded.dead_letters += self._dead_letters(refused, messages)
            decoded.n_events -= sum(len(b) for b in refused)
        return admitted

    def _dead_letters(self, refused: Iterable[ModelBatch], messages: Sequence[Message]
                      ) -> list[DeadLetter]:
        by_offset = {m.offset: m for m in messages}
        letters = []
        for batch in refused:
            detail = refusal(batch.model_id, batch.model_version, self.limit)
            for offset in (batch.row_keys & _OFFSET_MASK).tolist():
                message = by_offset[offset]
                letters.append(DeadLetter("too_many_models", detail, message.topic,
                                          message.partition, message.offset, message.key,
                                          message.value))
        letters.sort(key=lambda letter: letter.offset)
        self.refused += len(letters)
        now = time.monotonic()
        if now - self._logged_at >= LOG_INTERVAL:
            self._logged_at = now
            versions = sorted({(b.model_id[:ID_CHARS], b.model_version[:ID_CHARS])
                               for b in refused})
            shown = ", ".join(f"{m!r} version {v!r}" for m, v in versions[:3])
            more = f" and {len(versions) - 3} more" if len(versions) > 3 else ""
            log.warning("this worker holds state for %d model versions, the most "
                        "ingest.max_models allows; %d events of other versions "
                        "dead-lettered as too_many_models so far (this batch: model %s%s)",
                        self.limit, self.refused, shown, more,
                        extra={"event": "too_many_models", "refused": self.refused,
                               "limit": self.limit})
        return letters
