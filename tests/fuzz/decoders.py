"""Coverage-guided fuzzing (atheris, libFuzzer) of the event decoders, both paths.

An input is a batch: its lines are the values of consecutive Kafka messages. Each batch is
decoded as predictions by the columnar (Arrow) path and by the per-event (msgspec) path,
and as labels. Nothing may raise or crash, every message must come out as an event or a
dead letter, and the two prediction paths must agree on which messages are dead letters
and why.

    .venv/bin/python tests/fuzz/decoders.py NEW_CORPUS_DIR tests/fuzz/corpus/decoders \\
        -max_total_time=600        # a longer hunt; new inputs land in NEW_CORPUS_DIR

``tests/unit/streams/decoding/test_fuzz_decoders.py`` runs a short, seeded campaign in
``make test``.
Inputs worth keeping (one that found a bug, once fixed) go in ``corpus/decoders/``.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime

import atheris

with atheris.instrument_imports(include=["streams"]):
    from streams.config.settings import IngestSettings
    from streams.decoding.events import RawMessage, decode_labels
    from streams.decoding.fastdecode import decode_prediction_columns

NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
INGEST = IngestSettings(max_event_bytes=4_096)
MAX_MESSAGES = 200


def messages_of(data: bytes) -> list[RawMessage]:
    """The batch an input stands for: one message per line (an empty line: a message with
    an empty value)."""
    return [RawMessage("driftline.predictions", 0, offset, b"k", value)
            for offset, value in enumerate(data.split(b"\n")[:MAX_MESSAGES])]


def check(data: bytes) -> None:
    """Decode one input every way; raise AssertionError on any disagreement."""
    messages = messages_of(data)
    n = len(messages)
    fast = decode_prediction_columns(messages, now=NOW, ingest=INGEST, min_rows=1)
    slow = decode_prediction_columns(messages, now=NOW, ingest=INGEST, min_rows=n + 1)
    for decoded in (fast, slow):
        assert decoded.n_events + len(decoded.dead_letters) == n, (decoded.n_events, n)
        assert sum(len(b.event_times) for b in decoded.batches.values()) == decoded.n_events
    assert ([(d.offset, d.reason) for d in fast.dead_letters]
            == [(d.offset, d.reason) for d in slow.dead_letters])
    assert sorted(fast.batches) == sorted(slow.batches)
    labels = decode_labels(messages, now=NOW, ingest=INGEST)
    assert len(labels.events) + len(labels.dead_letters) == n


def main(argv: list[str]) -> None:
    atheris.Setup(argv, check)
    atheris.Fuzz()


if __name__ == "__main__":
    main(sys.argv)
