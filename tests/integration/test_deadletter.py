"""``driftline deadletter`` on a real broker: dead letters written as the worker writes them.

Invalid events go to a predictions topic; they are read back and decoded by the
worker's decoder, and their dead letters are written to a dead-letter topic the
way the worker writes them (value ``DeadLetter.to_json()``, key the event's key),
each with a known write time. The command must show their reasons and source
offsets, newest last, and filter them.
"""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from click.testing import CliRunner, Result

from streams.cli.main import main
from streams.config.settings import load_settings
from streams.decoding.events import DeadLetter, RawMessage, decode_predictions
from streams.devtools.broker import EmbeddedBroker
from streams.transport.producer import send_raw
from streams.transport.topics import ensure_topics
from tests.integration.kafka_read import read_partitions

pytestmark = pytest.mark.integration

HOUR_MS = 3_600_000
EVENT = {"event_id": "e1", "model_id": "fraud", "event_time": "2026-12-07T10:00:00Z",
         "features": {"amount": 1.5}}
INVALID: list[tuple[bytes | None, bytes]] = [
    (b"fraud", b'{"event_id": "e1", "model_id": "fraud",'),  # bad_json
    (b"fraud", json.dumps({**EVENT, "model_version": 7}).encode()),  # wrong_type
    (b"churn", json.dumps({k: v for k, v in EVENT.items() if k != "features"}).encode()),
    (b"churn", json.dumps({**EVENT, "event_time": "2026-12-07T10:00:00"}).encode()),  # naive
    (None, b""),  # empty_payload
]
REASONS = ["bad_json", "wrong_type", "missing_field", "bad_value", "empty_payload"]


def dead_letters(bootstrap: str, topic: str) -> list[DeadLetter]:
    """The invalid events, sent to ``topic``, read back and decoded as the worker does."""
    ensure_topics(bootstrap, {topic: 2})
    assert asyncio.run(send_raw(bootstrap, topic, [v for _, v in INVALID],
                                [k for k, _ in INVALID])) == len(INVALID)
    records = asyncio.run(read_partitions(bootstrap, topic, 2))
    raws = [RawMessage(r.topic, r.partition, r.offset, r.key, r.value) for r in records]
    decoded = decode_predictions(raws, now=datetime.now(UTC), ingest=load_settings(None, {}).ingest)
    assert not decoded.events
    return decoded.dead_letters


async def write(bootstrap: str, topic: str, letters: list[DeadLetter], first_ms: int, *,
                partition: int | None = None, one_by_one: bool = False) -> None:
    """``letters`` as the worker writes them, the i-th at ``first_ms + i``.

    ``one_by_one`` waits for each before sending the next: one record a batch.
    """
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=False)
    await producer.start()
    try:
        sent = []
        for i, letter in enumerate(letters):
            sent.append(await producer.send(topic, value=letter.to_json(), key=letter.key,
                                            partition=partition, timestamp_ms=first_ms + i))
            if one_by_one:
                await sent[-1]
        await asyncio.gather(*sent)
    finally:
        await producer.stop()


async def groups(bootstrap: str) -> set[str]:
    """The consumer groups the broker knows."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        return {str(group[0]) for group in await admin.list_consumer_groups()}
    finally:
        await admin.close()


def deadletter(broker: EmbeddedBroker, topic: str, *args: str) -> Result:
    return CliRunner().invoke(main, ["deadletter", "--broker", broker.url, "--topic", topic,
                                     *args], env={"DRIFTLINE_CONFIG": ""})


def shown(result: Result) -> list[tuple[str, str, int, int]]:
    """(reason, topic, partition, offset) of each table row, in order."""
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["TIME", "REASON", "TOPIC", "PARTITION", "OFFSET", "KEY",
                                "DETAIL"]
    cells = [line.split() for line in lines[1:]]
    return [(c[1], c[2], int(c[3]), int(c[4])) for c in cells]


@pytest.fixture
def written(broker: EmbeddedBroker, fresh_topic: str) -> tuple[str, list[DeadLetter], int]:
    """A dead-letter topic holding the invalid events' letters twice: two hours ago and now.

    Returns the topic, the letters (old ones first) and the write time of the new ones.
    """
    letters = dead_letters(broker.bootstrap, f"{fresh_topic}.in")
    assert sorted(letter.reason for letter in letters) == sorted(REASONS)
    topic = f"{fresh_topic}.dl"
    ensure_topics(broker.bootstrap, {topic: 3})
    now_ms = int(time.time() * 1000)
    asyncio.run(write(broker.bootstrap, topic, letters, now_ms - 2 * HOUR_MS))
    asyncio.run(write(broker.bootstrap, topic, letters, now_ms))
    return topic, letters + letters, now_ms


def test_the_newest_dead_letters_show_their_reasons_and_sources(
        broker: EmbeddedBroker, written: tuple[str, list[DeadLetter], int]) -> None:
    topic, letters, _ = written
    before = asyncio.run(groups(broker.bootstrap))
    expected = [(dl.reason, dl.topic, dl.partition, dl.offset) for dl in letters]
    assert shown(deadletter(broker, topic, "--limit", "100")) == expected
    assert shown(deadletter(broker, topic, "--limit", "3")) == expected[-3:]
    assert shown(deadletter(broker, topic)) == expected  # 20 by default
    assert asyncio.run(groups(broker.bootstrap)) == before  # no group joined, nothing committed


def test_filters_by_reason_and_age(broker: EmbeddedBroker,
                                   written: tuple[str, list[DeadLetter], int]) -> None:
    topic, letters, _ = written
    expected = [(dl.reason, dl.topic, dl.partition, dl.offset) for dl in letters]
    picked = shown(deadletter(broker, topic, "--reason", "wrong_type", "--reason", "bad_value"))
    assert picked == [e for e in expected if e[0] in {"wrong_type", "bad_value"}]
    assert len(picked) == 4
    assert shown(deadletter(broker, topic, "--since", "1h")) == expected[len(expected) // 2:]
    assert shown(deadletter(broker, topic, "--since", "3h", "--reason", "bad_json",
                            "--limit", "1")) == [e for e in expected if e[0] == "bad_json"][-1:]
    nothing = deadletter(broker, topic, "--reason", "oversize")
    assert nothing.exit_code == 0
    assert nothing.stdout == ""
    assert nothing.stderr.strip() == f"no dead letters with reason oversize in {topic}"


def test_a_rare_reason_is_found_far_back(broker: EmbeddedBroker, fresh_topic: str) -> None:
    common = DeadLetter("bad_json", "Input data was truncated", "p", 0, 0, b"k", b"{")
    rare = DeadLetter("oversize", "too big", "p", 0, 3, b"k", b"x")
    letters = [common] * 3 + [rare] + [common] * 40
    letters = [DeadLetter(dl.reason, dl.detail, "p", 0, i, dl.key, dl.value)
               for i, dl in enumerate(letters)]
    ensure_topics(broker.bootstrap, {fresh_topic: 2})
    asyncio.run(write(broker.bootstrap, fresh_topic, letters, int(time.time() * 1000),
                      partition=1, one_by_one=True))
    assert shown(deadletter(broker, fresh_topic, "--reason", "oversize", "--limit", "1")) == [
        ("oversize", "p", 0, 3)]
    assert shown(deadletter(broker, fresh_topic, "--limit", "5")) == [
        ("bad_json", "p", 0, offset) for offset in range(39, 44)]
    assert shown(deadletter(broker, fresh_topic, "--limit", "2", "--reason", "oversize",
                            "--reason", "bad_json")) == [("bad_json", "p", 0, 42),
                                                         ("bad_json", "p", 0, 43)]


def test_json_prints_the_records_as_stored(broker: EmbeddedBroker,
                                           written: tuple[str, list[DeadLetter], int]) -> None:
    topic, letters, _ = written
    result = deadletter(broker, topic, "--format", "json", "--limit", "4")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [dl.to_json().decode() for dl in letters[-4:]]
    stored: dict[str, Any] = json.loads(result.stdout.splitlines()[-1])
    assert stored["reason"] == letters[-1].reason


def test_a_missing_topic_and_an_unreachable_broker_are_one_line(
        broker: EmbeddedBroker, fresh_topic: str) -> None:
    missing = deadletter(broker, fresh_topic, "--timeout", "10")
    assert missing.exit_code == 2
    assert missing.stderr.strip() == (f"driftline: error: {broker.bootstrap}: topic "
                                      f"{fresh_topic} does not exist")
    unreachable = CliRunner().invoke(main, ["deadletter", "--broker", "127.0.0.1:9",
                                            "--timeout", "2"], env={"DRIFTLINE_CONFIG": ""})
    assert unreachable.exit_code == 2
    assert unreachable.stderr.strip() == ("driftline: error: cannot reach the broker at "
                                          "127.0.0.1:9 (is it running? `driftline broker` "
                                          "starts one)")
