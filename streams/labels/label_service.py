"""Label events in: validate, dead-letter the bad ones, forward to the join topic.

Labels arrive on ``driftline.labels`` partitioned however the producer chose
(``docs/events.md`` asks for the key ``prediction_id``, but a client's
partitioner is its own); this service re-partitions them by ``join_partition`` into
``driftline.join`` in bundles, beside the prediction stubs the ingest sends
there. It holds no state: its checkpoint is the offset alone, stored after the
bundles and dead letters are acknowledged, so a crash can forward a label twice
(the join counts the second one as a duplicate) but never loses one. Labels of a
backfill (``streams.decoding.backfill``) are validated against ``ingest.backfill_max_past``;
while labels are dead-lettered as ``past_timestamp`` a WARNING says so once a minute.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from streams.decoding.backfill import backfill_ingest, named, split
from streams.decoding.events import PastTimestampLog, RawMessage, decode_labels
from streams.labels.batched import BatchedConsumer
from streams.labels.bundles import encode, split_labels


class LabelService(BatchedConsumer):
    name_suffix = "labels"

    def restore_state(self, partition: int, state: bytes | None) -> None:
        pass

    def forget(self, partition: int) -> None:
        pass

    def snapshot(self, partition: int) -> bytes:
        return b""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._past = PastTimestampLog("labels", self.settings.ingest.max_past)

    async def handle(self, partition: int, records: list[Any]) -> None:
        raws = [RawMessage(self.topic, partition, r.offset, r.key, r.value, r.timestamp,
                           r.headers) for r in records]
        now, ingest, known = datetime.now(UTC), self.settings.ingest, self.settings.known_models
        live, backfill = split(raws)
        decoded = decode_labels(live, now=now, ingest=ingest, known_models=known)
        self._past.note(decoded.dead_letters)
        if backfill:
            old = decode_labels(backfill, now=now, ingest=backfill_ingest(ingest),
                                known_models=known)
            decoded.events += old.events
            decoded.positions += old.positions
            decoded.dead_letters += named(old.dead_letters)
        topics = self.settings.topics
        sends = [await self.send(topics.deadletter, dl.to_json(), key=dl.key)
                 for dl in decoded.dead_letters]
        for dl in decoded.dead_letters:
            self.metrics.invalid.labels(reason=dl.reason).inc()
        events = decoded.events
        bundles = split_labels([e.prediction_id for e in events], [e.model_id for e in events],
                               [e.event_time.timestamp() for e in events],
                               [e.label for e in events], topics.partitions)
        sends += [await self.send(topics.join, encode(rows), partition=part)
                  for part, rows in sorted(bundles.items())]
        await asyncio.gather(*sends)
