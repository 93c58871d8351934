"""``driftline_decoded_batches_total{path}``: which decoder read each batch of the ingest."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from streams.decoding.backfill import HEADERS
from streams.decoding.events import RawMessage
from streams.decoding.fastdecode import MIN_ROWS
from streams.ingest.service import Ingest

START = (datetime.now(UTC) - timedelta(hours=1)).replace(microsecond=0)


def _message(offset: int, *, backfill: bool = False, value: bytes | None = None) -> RawMessage:
    event = {"event_id": f"e{offset}", "model_id": "fraud",
             "event_time": (START + timedelta(seconds=offset)).isoformat(),
             "features": {"amount": float(offset), "country": "DE"}}
    return RawMessage("driftline.predictions", 0, offset, b"fraud",
                      json.dumps(event).encode() if value is None else value, 1,
                      HEADERS if backfill else ())



def decoded(ingest: Ingest) -> dict[str, float | None]:
    registry = ingest.metrics.registry
    return {path: registry.get_sample_value("driftline_decoded_batches_total", {"path": path})
            for path in ("columnar", "per_event")}


def test_each_batch_is_counted_under_the_path_that_decoded_it(ingest: Ingest) -> None:
    ingest.decode([_message(i) for i in range(MIN_ROWS - 1)])
    assert decoded(ingest) == {"columnar": None, "per_event": 1.0}
    assert ingest.decode([_message(i) for i in range(MIN_ROWS)]).columnar
    assert decoded(ingest) == {"columnar": 1.0, "per_event": 1.0}
    # Invalid UTF-8 hands the whole batch to the per-event decoder, which dead-letters it.
    batch = [_message(i) for i in range(200)]
    batch[100] = _message(100, value=b'{"event_id": "\xff"}')
    result = ingest.decode(batch)
    assert (result.n_events, [d.reason for d in result.dead_letters]) == (199, ["bad_json"])
    assert decoded(ingest) == {"columnar": 1.0, "per_event": 2.0}


def test_backfill_records_are_a_batch_of_their_own(ingest: Ingest) -> None:
    ingest.decode([_message(i, backfill=True) for i in range(10)])
    assert decoded(ingest) == {"columnar": None, "per_event": 1.0}
    ingest.decode([_message(i, backfill=i % 2 == 0) for i in range(2 * MIN_ROWS)])
    assert decoded(ingest) == {"columnar": 2.0, "per_event": 1.0}
