"""examples/model_server.py runs against the embedded broker: its predictions and labels
arrive, keyed as the contract says, and the worker's decoders accept every one."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from streams.config.settings import IngestSettings
from streams.decoding.events import RawMessage, decode_labels, decode_predictions
from streams.decoding.fastdecode import decode_prediction_columns
from streams.devtools.broker import EmbeddedBroker
from tests.integration.kafka_read import read_topic

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
REQUESTS = 400
DONE = re.compile(r"done: (\d+) predictions and (\d+) labels of model (\S+) sent")


def test_the_example_model_server_publishes_valid_predictions_and_labels(
        broker: EmbeddedBroker, fresh_topic: str) -> None:
    predictions, labels = f"{fresh_topic}.predictions", f"{fresh_topic}.labels"
    run = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "model_server.py"),
         "--bootstrap", broker.bootstrap, "--requests", str(REQUESTS), "--rate", "0",
         "--label-lag", "50", "--drift-after", "200", "--report-every", "100",
         "--predictions-topic", predictions, "--labels-topic", labels, "--create-topics"],
        capture_output=True, text=True, timeout=240, cwd=ROOT,
        check=False)
    assert run.returncode == 0, run.stderr
    done = DONE.search(run.stdout)
    assert done is not None, run.stdout
    sent_predictions, sent_labels, model = int(done[1]), int(done[2]), done[3]
    assert (sent_predictions, model) == (REQUESTS, "credit")
    assert 0.8 * REQUESTS < sent_labels < REQUESTS  # --label-share 0.9 by default
    assert "served 400 predictions" in run.stdout

    prediction_records = asyncio.run(read_topic(broker.bootstrap, predictions))
    label_records = asyncio.run(read_topic(broker.bootstrap, labels))
    now, ingest = datetime.now(UTC), IngestSettings()
    decoded = decode_predictions(prediction_records, now=now, ingest=ingest)
    decoded_labels = decode_labels(label_records, now=now, ingest=ingest)
    assert decoded.dead_letters == []
    assert decoded_labels.dead_letters == []
    columns = decode_prediction_columns(prediction_records, now=now, ingest=ingest)
    assert (columns.n_events, columns.dead_letters) == (REQUESTS, [])
    assert columns.columnar  # the worker's hot path (Arrow) took every event as it is
    assert len(decoded.events) == sent_predictions
    assert len(decoded_labels.events) == sent_labels
    assert {r.key for r in prediction_records} == {b"credit"}
    assert len({r.partition for r in prediction_records}) == 1
    ids = {e.prediction_id for e in decoded.events}
    assert len(ids) == REQUESTS
    assert {e.prediction_id for e in decoded_labels.events} <= ids
    assert [r.key for r in label_records] == [
        e.prediction_id.encode() for e in decoded_labels.events]
    for event in decoded.events:
        assert set(event.features) == {"income", "debt_ratio", "age", "open_loans", "region"}
        assert event.score is not None
        assert 0 <= event.score <= 1
        assert event.prediction == int(event.score >= 0.5)
    assert {e.label for e in decoded_labels.events} <= {0, 1}


def test_the_example_writes_a_month_of_history_that_a_backfill_accepts(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "model_server.py"), "--history",
         str(tmp_path), "--days-ago", "31", "--every", "3600", "--requests", "720",
         "--drift-after", "500"],
        capture_output=True, text=True, timeout=240, cwd=ROOT, check=False)
    assert run.returncode == 0, run.stderr
    assert "wrote 720 predictions" in run.stdout
    predictions = (tmp_path / "predictions.jsonl").read_bytes().splitlines()
    labels = (tmp_path / "labels.jsonl").read_bytes().splitlines()
    assert len(predictions) == 720
    assert 0.8 * 720 < len(labels) < 720
    records = [RawMessage("p", 0, i, None, line) for i, line in enumerate(predictions)]
    label_records = [RawMessage("l", 0, i, None, line) for i, line in enumerate(labels)]
    now = datetime.now(UTC)
    live = decode_predictions(records, now=now, ingest=IngestSettings())
    assert {d.reason for d in live.dead_letters} == {"past_timestamp"}  # older than 7 days
    history = IngestSettings(max_past=IngestSettings().backfill_max_past)
    decoded = decode_predictions(records, now=now, ingest=history)
    assert (len(decoded.events), decoded.dead_letters) == (720, [])
    times = [e.event_time for e in decoded.events]
    assert times == sorted(times)
    assert (times[-1] - times[0]).total_seconds() == 719 * 3600
    assert decode_labels(label_records, now=now, ingest=history).dead_letters == []
