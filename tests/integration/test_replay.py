"""``driftline replay``: what it refuses, warns about and reports, and its exit status."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from streams.cli.main import main
from streams.devtools.broker import EmbeddedBroker
from tests.integration.kafka_read import PARTITIONS, read_partitions

pytestmark = pytest.mark.integration


def _event(i: int, moment: datetime) -> dict[str, Any]:
    return {"event_id": f"e{i}", "model_id": "fraud", "prediction_id": f"p{i}",
            "event_time": moment.isoformat().replace("+00:00", "Z"),
            "features": {"amount": float(i)}, "prediction": 1, "score": 0.5}


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def _replay(path: Path, broker: EmbeddedBroker, topic: str, *extra: str) -> Result:
    return CliRunner().invoke(main, ["replay", str(path), "--broker", broker.url,
                                     "--topic", topic, *extra])


def test_old_events_without_backfill_are_warned_about_refused_and_not_sent(
        broker: EmbeddedBroker, fresh_topic: str, tmp_path: Path) -> None:
    now = datetime.now(UTC)
    lines = [json.dumps(_event(i, now - timedelta(days=30, seconds=i))) for i in range(5)]
    lines += [json.dumps(_event(5, now - timedelta(minutes=1))), "{not json"]
    path = _write(tmp_path / "history.jsonl", lines)
    result = _replay(path, broker, fresh_topic)
    assert result.exit_code == 1, result.output
    warning, summary = [line for line in result.output.splitlines()
                        if line.startswith("driftline:")]
    assert warning.startswith("driftline: warning: event_time ")
    assert "is earlier than now - ingest.max_past" in warning
    assert warning.endswith("the worker dead-letters such events as past_timestamp, so they "
                            "are not sent; to replay history, pass --backfill or use "
                            "`driftline backfill` (docs/backfill.md)")
    assert summary == (f"driftline: sent 1 events from {path} to {fresh_topic} at "
                       f"{broker.bootstrap}; refused 6 (past_timestamp 5, bad_json 1); "
                       "not delivered 0")
    records = asyncio.run(read_partitions(broker.bootstrap, fresh_topic, PARTITIONS))
    assert [json.loads(r.value)["event_id"] for r in records] == ["e5"]


def test_the_same_events_as_a_backfill_are_sent_marked(
        broker: EmbeddedBroker, fresh_topic: str, tmp_path: Path) -> None:
    now = datetime.now(UTC)
    lines = [json.dumps(_event(i, now - timedelta(days=30, seconds=i))) for i in range(5)]
    lines.append(json.dumps(_event(5, now - timedelta(days=800))))  # beyond backfill_max_past
    path = _write(tmp_path / "history.jsonl", lines)
    result = _replay(path, broker, fresh_topic, "--backfill")
    assert result.exit_code == 1, result.output
    assert "is earlier than now - ingest.backfill_max_past (" in result.output
    assert "pass --backfill" not in result.output
    assert result.output.splitlines()[-1].endswith(
        "as a backfill at " + broker.bootstrap + "; refused 1 (past_timestamp 1); "
        "not delivered 0")
    records = asyncio.run(read_partitions(broker.bootstrap, fresh_topic, PARTITIONS))
    assert sorted(json.loads(r.value)["event_id"] for r in records) == [f"e{i}" for i in range(5)]
    assert {tuple(r.headers) for r in records} == {(("driftline-backfill", b"1"),)}


def test_the_limits_come_from_the_settings_file(broker: EmbeddedBroker, fresh_topic: str,
                                                tmp_path: Path) -> None:
    now = datetime.now(UTC)
    path = _write(tmp_path / "history.jsonl",
                  [json.dumps(_event(0, now - timedelta(days=30)))])
    config = _write(tmp_path / "driftline.yaml", ["ingest: {max_past: 60d}"])
    result = _replay(path, broker, fresh_topic, "--config", str(config))
    assert result.exit_code == 0, result.output
    assert "; refused 0; not delivered 0" in result.output


def test_events_the_broker_does_not_take_are_counted_and_exit_3(
        broker: EmbeddedBroker, fresh_topic: str, tmp_path: Path) -> None:
    now = datetime.now(UTC)
    huge = _event(1, now)
    huge["features"]["blob"] = "x" * 2_000_000  # beyond the producer's 1 MB request size
    path = _write(tmp_path / "events.jsonl", [json.dumps(_event(0, now)), json.dumps(huge)])
    result = _replay(path, broker, fresh_topic, "--send-invalid")
    assert result.exit_code == 3, result.output
    assert result.output.splitlines()[-1].endswith(
        "; invalid, sent anyway 1 (oversize 1); not delivered 1 (MessageSizeTooLargeError 1)")
    assert "sent 1 events" in result.output
