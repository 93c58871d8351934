"""The join: prediction stubs and labels meet by ``prediction_id`` (``streams.labels.join``).

Reads ``driftline.join`` in batches; each partition has a ``JoinState``
checkpointed with its offset. Outcomes go to ``driftline.outcomes`` keyed by
model_id, one ``OutcomeBundle`` per model per batch, acknowledged before the
checkpoint that covers them, each outcome tagged with the join-topic offset it
came from (see ``streams.outcomes`` for how a replay is recognised). Expiry runs
once per fetch; its counts and the join's tallies become
``driftline_labels_total{model,outcome}`` and ``driftline_pending_predictions``.
A model's four join outcomes are exported at 0 from the first tally that names
it (its first pending prediction, usually), so a first unmatched or expired label
later on is an increase Prometheus can see.

The snapshot holds every pending prediction (id, times, prediction, score, and
for count windows the window's start), so it
grows with the TTL and the prediction rate; it is written every
``worker.checkpoint_interval`` for the partitions that moved.
"""

from __future__ import annotations

import asyncio
import logging
import time
import zlib
from collections import Counter
from typing import Any

import msgspec

from streams.labels.batched import BatchedConsumer
from streams.labels.bundles import OutcomeBundle, PredictionStubs, decode_join, encode
from streams.labels.join import JoinState, Outcome

log = logging.getLogger(__name__)
TALLY_OUTCOMES = {"joined": "joined", "duplicate_labels": "duplicate",
                  "unmatched_labels": "unmatched", "expired_predictions": "expired"}


def join_records(state: JoinState, records: list[tuple[int, bytes]], now: float,
                 where: str = "") -> dict[str, tuple[list[int], list[Outcome]]]:
    """Apply one fetch of (offset, bundle) records; the outcomes and their offsets by model."""
    by_model: dict[str, tuple[list[int], list[Outcome]]] = {}
    for offset, value in records:
        try:
            bundle = decode_join(value)
        except (msgspec.DecodeError, TypeError) as exc:
            log.warning("join: skipping a message that is not a bundle at %s@%d: %s",
                        where, offset, exc)
            continue
        if isinstance(bundle, PredictionStubs):
            outcomes = state.add_predictions(bundle.columns())
        else:
            outcomes = state.add_labels(bundle.columns(), now)
        for outcome in outcomes:
            offsets, rows = by_model.setdefault(outcome.model_id, ([], []))
            offsets.append(offset)
            rows.append(outcome)
    return by_model


class JoinService(BatchedConsumer):
    name_suffix = "join"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.states: dict[int, JoinState] = {}
        self._reported: dict[tuple[int, str, str], int] = {}
        self._pending_models: set[str] = set()
        super().__init__(*args, **kwargs)

    def _new_state(self) -> JoinState:
        labels = self.settings.labels
        return JoinState(labels.prediction_ttl, labels.early_label_hold)

    def restore_state(self, partition: int, state: bytes | None) -> None:
        if state:
            labels = self.settings.labels
            data = msgspec.json.decode(zlib.decompress(state))
            self.states[partition] = JoinState.from_dict(data, labels.prediction_ttl,
                                                         labels.early_label_hold)
        else:
            self.states[partition] = self._new_state()
        tallies = self.states[partition].counters()
        for name in TALLY_OUTCOMES:  # restored tallies were exported by the previous owner
            for model, count in getattr(tallies, name).items():
                self._reported[(partition, name, model)] = count

    def forget(self, partition: int) -> None:
        self.states.pop(partition, None)
        for key in [k for k in self._reported if k[0] == partition]:
            del self._reported[key]

    def snapshot(self, partition: int) -> bytes:
        data = self.states[partition].to_dict()
        return zlib.compress(msgspec.json.encode(data), 1)  # JSON, by the fast encoder

    async def handle(self, partition: int, records: list[Any]) -> None:
        by_model = join_records(self.states[partition], [(r.offset, r.value) for r in records],
                                time.monotonic(), f"{self.topic}/{partition}")
        covered = records[-1].offset + 1
        sends = [await self.send(self.settings.topics.outcomes,
                                 encode(OutcomeBundle(partition, covered, offsets, rows)),
                                 key=model.encode("utf-8"))
                 for model, (offsets, rows) in sorted(by_model.items())]
        await asyncio.gather(*sends)

    def on_timer(self) -> None:
        now = time.monotonic()
        pending: Counter[str] = Counter()
        seen: set[str] = set()
        for partition, state in self.states.items():
            state.expire(now)
            counters = state.counters()
            pending.update(counters.pending_predictions)
            seen.update(counters.pending_predictions)
            for name, outcome in TALLY_OUTCOMES.items():
                seen.update(getattr(counters, name))
                for model, count in getattr(counters, name).items():
                    key = (partition, name, model)
                    new = count - self._reported.get(key, 0)
                    if new > 0:
                        self.metrics.labels.labels(model=self.metrics.label_model(model),
                                                   outcome=outcome).inc(new)
                        self._reported[key] = count
        for model in {self.metrics.label_model(m) for m in seen} - self._pending_models:
            for outcome in TALLY_OUTCOMES.values():
                self.metrics.labels.labels(model=model, outcome=outcome)
            self._pending_models.add(model)
        # Models beyond the series cap add up under _other.
        totals: Counter[str] = Counter()
        for model, count in pending.items():
            totals[self.metrics.label_model(model)] += count
        for model in self._pending_models:
            self.metrics.pending_predictions.labels(model=model).set(totals.get(model, 0))
