"""The live phase of ``bench/alerts.py``: windows closed one at a time, each alert timed.

Events come from ``streams.devtools.simulator.Simulator`` (model ``fraud``): windows of
even index are stable, windows of odd index shifted (``sessions_7d``' Poisson
mean 4 -> 7, among others). Both simulators share one seed and one start, so
event ``i`` has the same event time in both; each event is taken from the one
that matches the parity of its window. Window 0 becomes the model's reference
(the ``first_window`` policy); from window 1 on, the rule
``feature.psi > 0.25 on sessions_7d, resolved below 0.1`` fires on every odd
window and resolves on every even one: one transition, hence one webhook, per
window close.

Per window ``k``: the events before the one that makes ``k`` due (the first
whose event time reaches the window's end plus the grace period) are produced
and awaited (the events the worker counted), the worker is left 0.3 s to go idle
in its fetch, then the due-making event is produced and timed from just before
the send: to the window's row in the database (polled every 2 ms) and to the
webhook at the receiver (stamped by the receiver's thread). Then a few plain
POSTs go from this process to the same receiver (the baseline, interleaved with
the windows so both see the same machine).

No labels are sent, so the worker's join keeps every prediction pending
(``window events`` more per window) and checkpoints them every 5 s, as a
deployment whose labels come late does.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any

import aiohttp
from aiokafka import AIOKafkaProducer
from alerts_receiver import Receipt, Receiver, round_trips
from sqlalchemy import func, select, text
from sqlalchemy.engine import Engine, make_url
from stream_measure import BenchError, WorkerProcess, counter

from store.engine import make_engine
from store.migrate import upgrade
from store.outbox import list_outbox, pending_count
from store.tables import windows
from streams.devtools.simulator import Simulator
from streams.transport.producer import encode_event

MODEL = "fraud"
FEATURE = "sessions_7d"
SEED = 7
IDLE_S = 0.3  # the worker goes idle in its fetch before the due-making event
ROW_POLL_S = 0.002
WAIT_S = 30.0
BASELINE_POSTS = 5  # per window
Say = Callable[[str], None]
Record = tuple[bytes, bytes]


class Events:
    """The event stream: stable even windows, shifted odd windows (module docstring)."""

    def __init__(self, start: float, size_s: float, per_second: float) -> None:
        self.start, self.size = start, size_s
        begin = datetime.fromtimestamp(start, UTC)
        stable = Simulator(seed=SEED, model_id=MODEL, events_per_second=per_second,
                           shift_at=None, start=begin)
        shifted = Simulator(seed=SEED, model_id=MODEL, events_per_second=per_second,
                            shift_at=0.0, start=begin)
        self._pairs = zip(stable.events(None), shifted.events(None), strict=True)

    def window_start(self, k: int) -> float:
        return self.start + k * self.size

    def _next(self) -> tuple[float, Record]:
        for calm, drifted in self._pairs:
            moment = datetime.fromisoformat(calm["event_time"]).timestamp()
            k = math.floor((moment - self.start) / self.size)
            if k >= 0:  # the few late events before the first window are left out
                event = drifted if k % 2 else calm
                return moment, (MODEL.encode(), encode_event(event))
        raise BenchError("the simulator's stream ended")  # it is endless

    def until(self, moment: float) -> tuple[list[Record], Record]:
        """The events before the first whose event time reaches ``moment``, and that one."""
        before: list[Record] = []
        while True:
            at, record = self._next()
            if at >= moment:
                return before, record
            before.append(record)


class Database:
    """What the benchmark reads from the worker's database."""

    def __init__(self, url: str) -> None:
        self.engine: Engine = make_engine(url)

    def windows(self) -> int:
        """Rows of the model in ``windows`` (committed ones)."""
        with self.engine.connect() as conn:
            query = select(func.count()).select_from(windows).where(windows.c.model_id == MODEL)
            return int(conn.execute(query).scalar_one())

    def outbox(self) -> dict[str, dict[str, Any]]:
        """Outbox rows by idempotency key."""
        with self.engine.connect() as conn:
            return {str(row["idempotency_key"]): row for row in list_outbox(conn)}

    def settled(self) -> bool:
        """No outbox row is pending (every delivery recorded)."""
        with self.engine.connect() as conn:
            return pending_count(conn) == 0

    def close(self) -> None:
        self.engine.dispose()


@contextlib.contextmanager
def database_url(given: str | None, default: str) -> Iterator[tuple[str, str]]:
    """``(url, what)``: SQLite as given (or ``default``), or a fresh migrated PostgreSQL schema.

    The schema is dropped afterwards; the worker migrates SQLite itself.
    """
    url = given or default
    if make_url(url).get_backend_name() != "postgresql":
        yield url, f"SQLite ({make_url(url).database})"
        return
    schema = f"bench_alerts_{uuid.uuid4().hex[:12]}"
    admin = make_engine(url)
    try:
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        parsed = make_url(url)
        options = f"{parsed.query.get('options', '')} -csearch_path={schema}".strip()
        scoped = parsed.update_query_dict({"options": options}).render_as_string(
            hide_password=False)
        upgrade(scoped)
        yield scoped, f"PostgreSQL (schema {schema}, dropped afterwards)"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


@dataclass
class Window:
    """One timed window close (``perf_counter`` seconds)."""

    index: int
    status: str
    sent: float  # just before producing the due-making event
    acked: float
    row: float  # the window's row first seen
    receipt: Receipt


@dataclass
class Live:
    windows: list[Window] = field(default_factory=list)
    baseline: list[float] = field(default_factory=list)  # plain POST round trips, seconds
    outbox: dict[str, dict[str, Any]] = field(default_factory=dict)
    pending_predictions: float = 0.0  # the join's, at the end (no labels are sent)


async def _send_all(producer: AIOKafkaProducer, topic: str, batch: list[Record]) -> None:
    futures = [await producer.send(topic, value, key=key) for key, value in batch]
    await asyncio.gather(*futures)


async def _until(condition: Callable[[], bool], what: str, interval: float,
                 timeout: float = WAIT_S) -> float:
    """Poll ``condition`` (in a thread); the ``perf_counter`` of the first true reading."""
    deadline = time.monotonic() + timeout
    while not await asyncio.to_thread(condition):
        if time.monotonic() > deadline:
            raise BenchError(f"timed out after {timeout:.0f} s waiting for {what}")
        await asyncio.sleep(interval)
    return time.perf_counter()


def _counted(worker: WorkerProcess) -> float:
    """Events the worker has counted, accepted or late (a few simulated events are late)."""
    return counter(worker.metrics(), "driftline_events_total")


def _at_least(read: Callable[[], float], n: float) -> bool:
    return read() >= n


def _has_webhook(receiver: Receiver, window_start: float) -> bool:
    return _webhook_of(receiver, window_start) is not None


def _webhook_of(receiver: Receiver, window_start: float) -> Receipt | None:
    for receipt in receiver.receipts("/alerts"):
        data = receipt.body.get("data", {})
        if datetime.fromisoformat(data.get("window_start", "")).timestamp() == window_start:
            return receipt
    return None


async def live(bootstrap: str, topic: str, worker: WorkerProcess, db: Database,
               receiver: Receiver, events: Events, grace_s: float, n_windows: int,
               say: Say) -> Live:
    """Close windows 0 .. ``n_windows`` one at a time; time 1 .. ``n_windows`` (module docs)."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all",
                                enable_idempotence=False, linger_ms=0,
                                max_batch_size=256 * 1024)
    await producer.start()
    result = Live()
    sent = 0
    try:
        async with aiohttp.ClientSession() as session:
            for k in range(n_windows + 1):
                before, (key, value) = events.until(events.window_start(k + 1) + grace_s)
                await _send_all(producer, topic, before)
                sent += len(before)
                await _until(partial(_at_least, partial(_counted, worker), sent),
                             f"window {k}: the worker to count {sent:,} events", 0.05, 60)
                await asyncio.sleep(IDLE_S)
                started = time.perf_counter()
                await (await producer.send(topic, value, key=key))
                acked = time.perf_counter()
                sent += 1
                row = await _until(partial(_at_least, db.windows, k + 1),
                                   f"window {k}'s row", ROW_POLL_S)
                if k == 0:  # the reference: no rule can fire yet
                    continue
                start = events.window_start(k)
                await _until(partial(_has_webhook, receiver, start),
                             f"window {k}'s webhook", 0.005)
                receipt = _webhook_of(receiver, start)
                assert receipt is not None
                status = str(receipt.body["data"]["status"])
                result.windows.append(Window(k, status, started, acked, row, receipt))
                result.baseline += await round_trips(session, f"{receiver.url}/baseline",
                                                     receipt.raw, BASELINE_POSTS)
                if k % 5 == 0:
                    w = result.windows[-1]
                    say(f"window {k}/{n_windows}: {status}, row "
                        f"{(w.row - w.sent) * 1000:.0f} ms, webhook "
                        f"{(w.receipt.at - w.sent) * 1000:.0f} ms")
    finally:
        await producer.stop()
    await _until(db.settled, "the outbox's deliveries to be recorded", 0.01)
    result.outbox = await asyncio.to_thread(db.outbox)
    result.pending_predictions = counter(await asyncio.to_thread(worker.metrics),
                                         "driftline_pending_predictions")
    return result
