"""Alert benchmark: window close to webhook receipt, worker on the embedded broker.

One ``driftline worker`` (embedded broker, SQLite in a temporary directory or
``--database-url``) with one drift rule and one signed webhook receiver served
by this process on loopback; every window close makes one alert transition
(``bench/alerts_live.py`` says how). Per window, from just before the
due-making event is produced:

(a) to the window's row in the database (the window-close baseline, as
    ``bench/stream.py`` measures it);
(b) to the webhook's receipt at the receiver: target p99 <= 1 s;
(c) from the row seen to the webhook, (b) - (a): the alerting share, as seen
    from outside;
(d) from the outbox row's ``created_at`` (the worker's clock, in the window's
    transaction, just before the rules run) to the receipt: the same share by
    the worker's own timestamp, which also holds the rest of the transaction.

Baseline: plain POSTs of a webhook's body from this process to the same
receiver, over a kept-alive aiohttp connection, interleaved with the windows.
Alert dispatch settings are the defaults (``alerting.receivers.DispatchSettings``).

Usage: ``.venv/bin/python bench/alerts.py [--windows N] [--window-events N]
[--database-url URL] [--check]``
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import datetime as dt
import math
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from alerts_live import FEATURE, Database, Events, Live, database_url, live
from alerts_receiver import Receiver
from machine import machine
from stream_measure import WorkerConfig, WorkerProcess, run_bench

from alerting.receivers import DispatchSettings
from store.engine import mask_url
from streams.devtools.broker import EmbeddedBroker, free_port
from streams.transport.topics import ensure_topics

TARGET_S = 1.0
GRACE_S = 2
EVENTS_PER_S = 1000  # of event time
PARTITIONS = 4
SECRET = "whsec_" + base64.b64encode(b"driftline-alert-benchmark-key").decode()
RULES = f"""\
alerting:
  receivers:
    bench: {{type: webhook, url: "{{url}}/alerts", signing_secret: {SECRET}}}
  rules:
    - {{name: sessions-shift, metric: feature.psi, above: 0.25, resolve_below: 0.1,
       features: [{FEATURE}], receivers: [bench]}}
"""

_STARTED = time.monotonic()


def _say(message: str) -> None:
    print(f"bench-alerts [{time.monotonic() - _STARTED:4.0f} s]: {message}", flush=True)


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f} ms" if seconds >= 0.0995 else f"{seconds * 1000:.1f} ms"


def _stats(seconds: Sequence[float]) -> tuple[float, float, float]:
    p50, p99 = (float(v) for v in np.percentile(seconds, [50, 99]))
    return p50, p99, max(seconds)


def _row(what: str, seconds: Sequence[float], target: float | None = None,
         windows: str | None = None) -> tuple[str, bool]:
    p50, p99, top = _stats(seconds)
    ok = target is None or p99 <= target
    goal = "" if target is None else f"p99 ≤ {target:g} s"
    verdict = "" if target is None else ("PASS" if ok else "FAIL")
    count = str(len(seconds)) if windows is None else windows
    return (f"| {what} | {count} | {_ms(p50)} | {_ms(p99)} | {_ms(top)} | {goal} | "
            f"{verdict} |"), ok


def table(run: Live, offset: float) -> tuple[list[str], bool]:
    """The results table and whether the target is met; ``offset`` maps perf_counter to epoch."""
    ws = run.windows
    row = [w.row - w.sent for w in ws]
    hook = [w.receipt.at - w.sent for w in ws]
    share = [w.receipt.at - w.row for w in ws]
    created = [w.receipt.at + offset - run.outbox[w.receipt.webhook_id]["created_at"].timestamp()
               for w in ws]
    lines = ["| what | windows | p50 | p99 | max | target | result |",
             "|---|---|---|---|---|---|---|"]
    line, _ = _row("(a) due-making event produced → window row in the database", row)
    lines.append(line)
    line, met = _row("(b) due-making event produced → webhook received", hook, TARGET_S)
    lines.append(line)
    for what, values in (("(c) window row seen → webhook received, (b) − (a)", share),
                         ("(d) outbox row created (worker clock) → webhook received", created)):
        lines.append(_row(what, values)[0])
    lines.append(_row("plain POST round trip, this process → the same receiver "
                      f"({len(run.baseline)} POSTs)", run.baseline, windows="—")[0])
    return lines, met


def _summary(run: Live) -> str:
    attempts = [int(run.outbox[w.receipt.webhook_id]["attempts"]) for w in run.windows]
    statuses = [w.status for w in run.windows]
    acks = [w.acked - w.sent for w in run.windows]
    return (f"{len(run.windows)} webhooks ({statuses.count('firing')} firing, "
            f"{statuses.count('resolved')} resolved), delivery attempts per row: "
            f"{min(attempts)}–{max(attempts)}; producing the due-making event took "
            f"{_ms(float(np.median(acks)))} (median, to the broker's ack); predictions "
            f"pending in the join at the end: {run.pending_predictions:,.0f}")


def _clock_offset() -> float:
    """``time.time() - time.perf_counter()``, from the closest of a few paired readings."""
    pairs = []
    for _ in range(9):
        before = time.perf_counter()
        wall = time.time()
        after = time.perf_counter()
        pairs.append((after - before, wall - (before + after) / 2))
    return min(pairs)[1]


def run(args: argparse.Namespace, workdir: Path) -> bool:
    size_s = args.window_events // EVENTS_PER_S
    start = math.floor((time.time() - 7200) / size_s) * size_s
    dispatch = DispatchSettings()
    with (EmbeddedBroker(port=free_port()) as broker, Receiver() as receiver,
          database_url(args.database_url, f"sqlite:///{workdir / 'alerts.db'}") as (url, what)):
        _say(f"embedded broker at {broker.bootstrap}; database {what}; receiver {receiver.url}")
        topic = "bench.alerts.predictions"
        ensure_topics(broker.bootstrap, {topic: PARTITIONS})
        config = WorkerConfig(topic, "bench-alerts",
                              f"{{size: {size_s}s, grace: {GRACE_S}s, idle_timeout: 10m}}",
                              partitions=PARTITIONS, extra=RULES.replace("{url}", receiver.url))
        db = Database(url)
        try:
            with WorkerProcess(workdir, "alerts", broker.url, workdir / "alerts.db", config,
                               database_url=url) as worker:
                worker.start()
                _say(f"worker ready; {args.windows + 1} windows of {args.window_events:,} "
                     f"events ({size_s} s of event time, grace {GRACE_S} s); default dispatch: "
                     f"poll_interval {dispatch.poll_interval:g} s, batch {dispatch.batch}")
                events = Events(start, size_s, EVENTS_PER_S)
                offset = _clock_offset()
                result = asyncio.run(live(broker.bootstrap, topic, worker, db, receiver, events,
                                          GRACE_S, args.windows, _say))
        finally:
            db.close()
    lines, met = table(result, offset)
    print(f"\n{_summary(result)}\n")
    print("\n".join(lines))
    return met


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Alert latency of the driftline worker.")
    parser.add_argument("--windows", type=int, default=30,
                        help="windows timed (one alert transition each), after the reference")
    parser.add_argument("--window-events", type=int, default=20_000,
                        help=f"events per window (a multiple of {EVENTS_PER_S})")
    parser.add_argument("--database-url", default=None,
                        help="the worker's database (default: SQLite in a temporary directory); "
                             "a PostgreSQL URL gets a fresh schema, dropped afterwards")
    parser.add_argument("--check", action="store_true", help="exit 1 when the target is missed")
    args = parser.parse_args(argv)
    if args.windows < 1:
        parser.error("--windows must be >= 1")
    if args.window_events < EVENTS_PER_S or args.window_events % EVENTS_PER_S:
        parser.error(f"--window-events must be a positive multiple of {EVENTS_PER_S}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    _say(f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC; {machine()}")
    if args.database_url:
        _say(f"database URL {mask_url(args.database_url)}")
    return run_bench("bench-alerts", lambda workdir: run(args, workdir), check=args.check,
                     stopped="worker and broker", say=_say, started=_STARTED)


if __name__ == "__main__":
    sys.exit(main())
