"""Poison messages through a running worker: nothing a producer sends stops it or is lost.

A real worker (embedded broker, PostgreSQL) reads valid events with, in their
midst, each message that once crashed a worker or that tests a limit of the
event contract (``docs/events.md``). The worker must keep running (same process,
``/healthz`` 200), send each refused message to the dead-letter topic once with
its reason, count it in ``driftline_events_invalid_total``, store every valid
event around it, and not read any of it again after a restart.

Each poison is sent inside one Kafka record batch of its own between valid
events, so one fetch holds it with them, and the module runs twice: with
``ingest.max_batch: 32`` every fetch is smaller than the columnar decoder's
``MIN_ROWS`` (64), so the per-event decoder reads the poison; with the default
``max_batch`` the record batch of 201 messages is decoded by the columnar (Arrow)
path, which hands some inputs back to the per-event decoder whole (expected below,
counted by ``driftline_decoded_batches_total{path}``).
"""

from __future__ import annotations

import asyncio
import json
import signal
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from sqlalchemy import text

from store.engine import make_engine
from streams.decoding.fastdecode import MIN_ROWS
from streams.devtools.broker import EmbeddedBroker
from streams.devtools.simulator import Simulator
from streams.transport.producer import encode_event
from tests import containers
from tests.conftest import schema_url
from tests.integration.event_stream import first_event_time, produce
from tests.integration.kafka_read import read_topic
from tests.integration.stored import stored_windows
from tests.integration.worker_harness import Worker, wait_for

pytestmark = pytest.mark.integration
RATE = 50.0  # events per second of event time
AROUND = 2_000  # valid events before the first poison and after the last
BESIDE = 100  # valid events on each side of a poison, in its record batch
MAX_EVENT_BYTES = 1024 * 1024  # ingest.max_event_bytes by default
PATHS = {"per_event": "ingest: {max_batch: 32}\n", "columnar": ""}
assert 2 * BESIDE + 1 >= MIN_ROWS > 32


@dataclass(frozen=True)
class Poison:
    """One message sent among valid events and what must become of it."""

    name: str
    reason: str | None  # the dead-letter reason; None: a valid event, stored
    error: str  # a part of the dead letter's error text
    columnar: bool  # whether the columnar path decodes its record batch (else handed back)


def _event(base: dict[str, Any], **fields: Any) -> bytes:
    return json.dumps({**base, **fields}).encode()


def _with_field(base: dict[str, Any], raw: bytes) -> bytes:
    """``base`` with an unknown field ``extra`` holding the JSON text ``raw``."""
    return _event(base, extra=None).replace(b'"extra": null', b'"extra": ' + raw)


def _with_feature(base: dict[str, Any], name: str, raw: bytes = b"1.5") -> bytes:
    """``base`` with a feature ``name`` holding the JSON text ``raw``."""
    value = _event(base, features={**base["features"], name: "@@"})
    return value.replace(b'"@@"', raw)


def _padded(base: dict[str, Any], size: int) -> bytes:
    """``base`` with an unknown text field making it ``size`` bytes long."""
    value = _event(base, pad="")
    return _event(base, pad="x" * (size - len(value)))


# Each poison: how it is made from the valid event beside it, and what must become of it.
POISONS: list[tuple[Poison, Any]] = [
    (Poison("arrays 20,000 deep", "bad_value", "nests objects or arrays 20001 deep", True),
     lambda e: _with_field(e, b"[" * 20_000 + b"]" * 20_000)),
    (Poison("objects 1,000 deep", "bad_value", "nests objects or arrays 1001 deep", True),
     lambda e: _with_field(e, b'{"a":' * 1_000 + b"1" + b"}" * 1_000)),
    (Poison("NUL in model_id", "bad_value", "$.model_id must not contain control", True),
     lambda e: _event(e, model_id="fraud\x00x")),
    (Poison("raw NUL byte in model_id", "bad_json", "not valid JSON", True),
     lambda e: _event(e, model_id="fraud@").replace(b"@", b"\x00")),
    (Poison("NUL in model_version", "bad_value", "$.model_version must not contain control",
            True),
     lambda e: _event(e, model_version="1\x00")),
    (Poison("NUL in a feature name", "bad_value", 'the key of $.features["a\\u0000b"]', False),
     lambda e: _with_feature(e, "a\x00b")),
    (Poison("feature name of 10 KB", "bad_value", "the key of $.features[", False),
     lambda e: _with_feature(e, "f" * 10_240)),
    (Poison("1e400 in a feature", None, "", False),
     lambda e: _with_feature(e, "huge", b"1e400")),
    (Poison("-0 in a feature", None, "", True),
     lambda e: _with_feature(e, "zero", b"-0")),
    (Poison("400-digit integer in a feature", None, "", False),
     lambda e: _with_feature(e, "digits", b"9" * 400)),
    (Poison("-1e400 in a feature", None, "", False),
     lambda e: _with_feature(e, "low", b"-1e400")),
    (Poison("-0 score", None, "", True),
     lambda e: _event(e, score=0.5).replace(b'"score": 0.5', b'"score": -0')),
    (Poison("1e400 score", "bad_value", "$.score must be a finite number", True),
     lambda e: _event(e, score=0.5).replace(b'"score": 0.5', b'"score": 1e400')),
    (Poison("400-digit score", "bad_value", "$.score is a number too large", True),
     lambda e: _event(e, score=0.5).replace(b'"score": 0.5', b'"score": ' + b"9" * 400)),
    (Poison("invalid UTF-8", "bad_json", "not valid JSON", False),
     lambda e: _event(e, model_id="fraud@").replace(b"@", b"\xff\xfe")),
    (Poison("empty message", "empty_payload", "message value is empty", True),
     lambda e: b""),
    (Poison("event of ingest.max_event_bytes", None, "", True),
     lambda e: _padded(e, MAX_EVENT_BYTES)),
    (Poison("one byte over ingest.max_event_bytes", "oversize",
            f"more than ingest.max_event_bytes ({MAX_EVENT_BYTES})", True),
     lambda e: _padded(e, MAX_EVENT_BYTES + 1)),
    # Beyond the consumer's max_partition_fetch_bytes (16 MiB): the broker still hands
    # over a record batch larger than that when it is the first of the fetch.
    (Poison("message of 17 MiB", "oversize", "message value is 17825792 bytes", True),
     lambda e: _padded(e, 17 * 1024 * 1024)),
]
# Apache Kafka refuses records over its message.max.bytes (1 MB by default) when they are
# produced, so under the containers switch the poisons over 900 kB are not sent.
BROKER_LIMIT = 900_000 if containers.enabled() else None


def _label(base: dict[str, Any], raw: bytes) -> bytes:
    """The label event ``base`` with its label the JSON text ``raw``."""
    return _event(base, label="@@").replace(b'"@@"', raw)


# (name, how it is made from a label event, its dead-letter reason and error, or None: a
# valid label that joins its prediction, and whether the pair is then counted ``invalid``).
LABEL_POISONS: list[tuple[str, Any, str | None, str]] = [
    ("1e400 label", lambda e: _label(e, b"1e400"), None, "invalid"),
    ("400-digit label", lambda e: _label(e, b"9" * 400), None, "invalid"),
    ("-0 label", lambda e: _label(e, b"-0"), None, "joined"),
    ("NUL in a text label", lambda e: _event(e, label="x\x00y"), None, "invalid"),
    ("text label of 100 KB", lambda e: _event(e, label="y" * 100_000), None, "invalid"),
    ("NUL in a label's model_id", lambda e: _event(e, model_id="fraud\x00"), "bad_value",
     "$.model_id must not contain control"),
    ("arrays 20,000 deep in a label", lambda e: _with_field(e, b"[" * 20_000 + b"]" * 20_000),
     "bad_value", "nests objects or arrays 20001 deep"),
    ("empty label message", lambda e: b"", "empty_payload", "message value is empty"),
    ("label of invalid UTF-8", lambda e: _event(e, model_id="fraud@").replace(b"@", b"\xff"),
     "bad_json", "not valid JSON"),
    ("label over ingest.max_event_bytes", lambda e: _padded(e, MAX_EVENT_BYTES + 1),
     "oversize", f"more than ingest.max_event_bytes ({MAX_EVENT_BYTES})"),
]


@dataclass
class Run:
    """The module's worker, its database and what was sent to it."""

    path: str
    worker: Worker
    database_url: str
    pid: int
    valid: int = 0  # valid events sent
    letters: Counter[str] = field(default_factory=Counter)  # dead letters expected, by reason
    keys: dict[bytes, tuple[str, str, str]] = field(default_factory=dict)  # of each poison:
    # its topic, dead-letter reason and a part of the error


@pytest.fixture(scope="module", params=list(PATHS))
def run(request: pytest.FixtureRequest, broker: EmbeddedBroker, postgres_url: str,
        tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    """One worker of one partition for the module, per decode path."""
    path = str(request.param)
    with schema_url(postgres_url, "poison", migrated=True) as url:
        # Windows close on event time alone (the pauses between poisons must not close
        # them for being idle, which would make the events after a pause late).
        worker = Worker(tmp_path_factory.mktemp(path), broker, url, idle=3_600, partitions=1,
                        extra=PATHS[path])
        try:
            worker.start()
            assert worker.process is not None
            yield Run(path, worker, url, worker.process.pid)
        finally:
            worker.stop(signal.SIGKILL)


async def send_batch(bootstrap: str, topic: str, records: list[tuple[bytes, bytes]]) -> None:
    """``records`` (key, value) as ONE record batch of partition 0: one fetch reads them."""
    size = sum(len(k) + len(v) for k, v in records) + 100 * len(records) + 1024
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=False,
                                max_batch_size=size, max_request_size=size + 1024)
    await producer.start()
    try:
        batch = producer.create_batch()
        for key, value in records:
            assert batch.append(key=key, value=value, timestamp=None) is not None
        await (await producer.send_batch(batch, topic, partition=0))
    finally:
        await producer.stop()


def total(worker: Worker, name: str, **labels: str) -> float:
    return worker.metric(name, **labels) if worker.process is not None else 0.0


def stored(database_url: str) -> int:
    return sum(w["n_events"] for w in stored_windows(database_url))


def assert_alive(run: Run) -> None:
    worker = run.worker
    assert worker.process is not None
    assert worker.process.pid == run.pid
    assert worker.process.poll() is None, worker.log.read_text()[-3000:]
    assert worker.status("/healthz") == 200


def test_every_poison_is_dead_lettered_and_the_events_around_it_stored(run: Run,
                                                                     broker: EmbeddedBroker
                                                                     ) -> None:
    worker, topic = run.worker, run.worker.topics["predictions"]
    events = [p for p, _ in simulated()]
    produce(broker.bootstrap, topic, events[:AROUND])
    run.valid = AROUND

    def caught_up() -> bool:
        assert total(worker, "driftline_events_total", outcome="late") == 0
        return (total(worker, "driftline_events_total", outcome="accepted") == run.valid
                and total(worker, "driftline_events_invalid_total") == run.letters.total())

    wait_for(caught_up, 120, f"the first {AROUND} events")
    paths: dict[str, str] = {}
    for i, (poison, make) in enumerate(POISONS):
        start = AROUND + 2 * BESIDE * i
        before, after = events[start:start + BESIDE], events[start + BESIDE:start + 2 * BESIDE]
        # Keys are the producer's too: a NUL and a byte that is not UTF-8 in each.
        key, value = f"poison-{i}".encode() + b"\x00\xff", make(after[0])
        if BROKER_LIMIT is not None and len(value) > BROKER_LIMIT:
            value = encode_event(after[0])  # a valid event in its place
            poison = Poison(poison.name, None, "", poison.columnar)
        records = [(b"fraud", encode_event(e)) for e in before]
        records += [(key, value), *((b"fraud", encode_event(e)) for e in after)]
        decoded = {p: total(worker, "driftline_decoded_batches_total", path=p)
                   for p in ("columnar", "per_event")}
        asyncio.run(send_batch(broker.bootstrap, topic, records))
        run.valid += 2 * BESIDE + (poison.reason is None)
        if poison.reason is not None:
            run.letters[poison.reason] += 1
            run.keys[key] = (topic, poison.reason, poison.error)
        wait_for(caught_up, 120, f"the events around the poison {poison.name!r}")
        assert_alive(run)
        paths[poison.name] = "columnar" if total(
            worker, "driftline_decoded_batches_total", path="columnar") > decoded["columnar"] \
            else "per_event"
    # One event far ahead in event time closes every window before it; its own stays open.
    flush = next(Simulator(seed=22, start=first_event_time() + timedelta(minutes=30)
                           ).events(1))
    produce(broker.bootstrap, topic, [*events[-AROUND:], flush])
    run.valid += AROUND + 1
    wait_for(caught_up, 120, f"the last {AROUND} events")
    wait_for(lambda: stored(run.database_url) == run.valid - 1, 180,
             "every valid event stored")
    assert_alive(run)

    expected = {p.name: "columnar" if run.path == "columnar" and p.columnar else "per_event"
                for p, _ in POISONS}
    assert paths == expected
    invalid = {reason: total(worker, "driftline_events_invalid_total", reason=reason)
               for reason in run.letters}
    assert invalid == {reason: float(n) for reason, n in run.letters.items()}
    assert total(worker, "driftline_windows_set_aside_total") == 0
    assert_letters(run, broker)


def simulated() -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """The (prediction, label) pairs the tests send, the same in every test."""
    return list(Simulator(seed=21, start=first_event_time(), events_per_second=RATE,
                          shift_at=None).labelled(2 * AROUND + 2 * BESIDE * len(POISONS)))


def assert_letters(run: Run, broker: EmbeddedBroker) -> None:
    """The dead-letter topic holds one letter for each poison sent, with its reason."""
    records = asyncio.run(read_topic(broker.bootstrap, run.worker.topics["deadletter"], 60))
    letters = [(r.key, json.loads(r.value)) for r in records]
    assert sorted(key for key, _ in letters) == sorted(run.keys)  # each poison once
    for key, letter in letters:
        topic, reason, error = run.keys[key]
        assert (letter["reason"], letter["topic"]) == (reason, topic), key
        assert error in letter["error"], (key, letter["error"])


def test_poisoned_labels_are_dead_lettered_or_counted(run: Run, broker: EmbeddedBroker) -> None:
    """Labels of the first predictions, poisons among them (the label reader is per event)."""
    worker, topic = run.worker, run.worker.topics["labels"]
    if run.valid < AROUND:
        pytest.skip("the predictions were not sent")
    labels = [label for _, label in simulated()[:AROUND]]
    values = [encode_event(label) for label in labels]
    keys = [str(label["prediction_id"]).encode() for label in labels]
    counted = Counter(joined=AROUND)
    for i, (_, make, reason, error) in enumerate(LABEL_POISONS):
        at = 100 + 50 * i
        values[at] = make(labels[at])
        if BROKER_LIMIT is not None and len(values[at]) > BROKER_LIMIT:
            values[at] = encode_event(labels[at])
            continue
        if reason is None:
            counted[error] += error != "joined"  # an invalid pair is joined, then counted
        else:
            keys[at] = f"label-poison-{i}".encode()
            run.keys[keys[at]] = (topic, reason, error)
            run.letters[reason] += 1
            counted["joined"] -= 1
    asyncio.run(send_batch(broker.bootstrap, topic, list(zip(keys, values, strict=True))))

    def outcomes() -> dict[str, float]:
        return {outcome: total(worker, "driftline_labels_total", outcome=outcome)
                for outcome in counted}

    wait_for(lambda: outcomes() == counted and total(worker, "driftline_events_invalid_total")
             == run.letters.total(), 120, "every label joined or counted")
    assert_alive(run)
    assert outcomes() == counted
    assert_letters(run, broker)


def test_a_restarted_worker_reads_none_of_it_again(run: Run, broker: EmbeddedBroker) -> None:
    worker, topic = run.worker, run.worker.topics["predictions"]
    if not run.valid:
        pytest.skip("the poison test did not run")
    windows = stored_windows(run.database_url)
    worker.stop()  # a clean stop: the offsets are committed
    assert worker.process is not None
    assert worker.process.returncode == 0, worker.log.read_text()[-3000:]
    worker.start()
    assert worker.process is not None
    run.pid = worker.process.pid
    end = len(asyncio.run(read_topic(broker.bootstrap, topic, 60)))
    engine = make_engine(run.database_url)
    try:
        with engine.connect() as conn:
            checkpoint = conn.execute(text("SELECT next_offset FROM ingest_checkpoints "
                                           "WHERE topic = :t"), {"t": topic}).scalar_one()
    finally:
        engine.dispose()
    assert checkpoint == end

    # New records behind the old ones, in the same partitions: once they are read, any
    # old record read again would have been read (and counted) before them.
    prediction, label = next(Simulator(seed=23, start=first_event_time() + timedelta(
        minutes=31)).labelled(1))
    produce(broker.bootstrap, topic, [prediction])
    asyncio.run(send_batch(broker.bootstrap, worker.topics["labels"], [
        (b"after-restart", b""), (str(label["prediction_id"]).encode(), encode_event(label))]))
    run.keys[b"after-restart"] = (worker.topics["labels"], "empty_payload", "empty")

    def read() -> bool:
        return (total(worker, "driftline_events_total") >= 1
                and total(worker, "driftline_labels_total", outcome="joined") >= 1
                and total(worker, "driftline_events_invalid_total") >= 1)

    wait_for(read, 120, "the restarted worker to read the new records")
    assert_alive(run)
    assert total(worker, "driftline_events_total") == 1
    assert total(worker, "driftline_events_invalid_total") == 1
    assert total(worker, "driftline_labels_total") == 1  # joined, no duplicate
    assert stored_windows(run.database_url) == windows
    assert_letters(run, broker)
