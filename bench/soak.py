"""Soak test: two workers in one group under steady traffic, killed and restarted, checked.

For ``--minutes`` (default 30) the embedded broker and a fresh PostgreSQL schema
(``DRIFTLINE_TEST_DATABASE_URL``) serve two ``driftline worker`` processes of one
consumer group, while a producer (``soak_traffic``) sends a steady mix of valid
predictions of three listed models, their labels, and invalid messages of known kinds. Every
``--kill-min``..``--kill-max`` seconds (seeded) one worker, drawn at random, is
killed (SIGKILL, or SIGTERM one time in four) and started again. Every
``--sample`` seconds each worker's RSS is read.

Then the producer stops, the workers drain (the last windows close at the idle
timeout) and ``soak_checks`` compares the store and the dead-letter topic with
what the broker acknowledged, exactly, and each worker lifetime's memory with a
bound. Prints a summary; exit status 1 when a check fails.

Usage: ``.venv/bin/python bench/soak.py [--minutes 30] [--seed 1] [--rate 150]``
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from machine import machine
from soak_checks import (
    MIB,
    Check,
    Memory,
    label_checks,
    letter_checks,
    memory_checks,
    memory_of,
    read_letters,
    stored_labels,
    stored_windows,
    window_checks,
)
from soak_traffic import MODELS, Traffic, first_start
from soak_workers import Sampler, WorkerProcess, write_config
from sqlalchemy import text
from sqlalchemy.engine import make_url

from store.engine import make_engine
from store.migrate import upgrade
from streams.devtools.broker import EmbeddedBroker, free_port
from streams.transport.topics import ensure_topics

DATABASE_VARIABLE = "DRIFTLINE_TEST_DATABASE_URL"
WINDOW_S = 60.0
GRACE_S = 15.0  # the simulator's late events are at most 10 s late
IDLE_S = 20.0
# The label join remembers a joined prediction id for the prediction TTL (default 7 days)
# and the performance of a window is kept for the horizon (7 days): state that grows for
# a week by design. Five minutes of each bounds it within the soak, so that flat memory
# can be seen; labels come 10 s after their prediction on average (soak_traffic).
LABEL_TTL_S = 300.0
PARTITIONS = 4
READY_TIMEOUT_S = 180.0
DRAIN_TIMEOUT_S = 600.0  # labels of the last predictions may wait labels.early_label_hold
_STARTED = time.monotonic()


def say(message: str) -> None:
    print(f"soak [{time.monotonic() - _STARTED:5.0f} s]: {message}", flush=True)


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> bool:
    """Poll ``condition`` until it holds or ``timeout`` passes; whether it held."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            say(f"timed out after {timeout:.0f} s waiting for {what}")
            return False
        time.sleep(1.0)
    return True


@contextmanager
def fresh_schema(server_url: str) -> Iterator[str]:
    """A URL whose connections use a new, migrated schema; dropped afterwards."""
    schema = f"soak_{uuid.uuid4().hex[:12]}"
    admin = make_engine(server_url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    parsed = make_url(server_url)
    options = f"{parsed.query.get('options', '')} -csearch_path={schema}".strip()
    url = parsed.update_query_dict({"options": options}).render_as_string(hide_password=False)
    try:
        upgrade(url)
        yield url
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=30.0, help="traffic time (30)")
    parser.add_argument("--seed", type=int, default=1, help="kills and invalid mix (1)")
    parser.add_argument("--rate", type=float, default=150.0,
                        help="messages a second, valid and invalid (150)")
    parser.add_argument("--invalid-share", type=float, default=0.02,
                        help="share of invalid messages (0.02)")
    parser.add_argument("--kill-min", type=float, default=120.0, help="seconds (120)")
    parser.add_argument("--kill-max", type=float, default=300.0, help="seconds (300)")
    parser.add_argument("--sample", type=float, default=10.0, help="RSS every N s (10)")
    parser.add_argument("--warmup", type=float, default=180.0,
                        help="seconds of a lifetime before its start RSS (180)")
    parser.add_argument("--growth-bound", type=float, default=32.0,
                        help="MiB a lifetime's RSS may grow after the warm-up (32)")
    parser.add_argument("--keep", type=Path, default=None,
                        help="directory for the configs and worker logs (default: temporary)")
    args = parser.parse_args(argv)
    if not 0 < args.kill_min <= args.kill_max:
        parser.error("need 0 < --kill-min <= --kill-max")
    return args


class Soak:
    """One run: the broker, the workers, the producer, the kill schedule."""

    def __init__(self, args: argparse.Namespace, broker: EmbeddedBroker, database_url: str,
                 workdir: Path) -> None:
        self.args, self.broker, self.database_url = args, broker, database_url
        self.workdir = workdir
        self.prefix = f"soak{uuid.uuid4().hex[:8]}"
        self.topic = f"{self.prefix}.predictions"
        self.deadletter = f"{self.prefix}.deadletter"
        env = {**os.environ, "DRIFTLINE_BROKER_URL": broker.url,
               "DRIFTLINE_DATABASE_URL": database_url}
        self.workers = []
        for name in ("worker-a", "worker-b"):
            port = free_port()
            config = workdir / f"{name}.yaml"
            write_config(config, prefix=self.prefix, port=port, partitions=PARTITIONS,
                         window=WINDOW_S, grace=GRACE_S, idle=IDLE_S, ttl=LABEL_TTL_S,
                         models=MODELS)
            self.workers.append(WorkerProcess(name, config, env, port, workdir))
        self.kills: list[tuple[float, str, str, int | None]] = []  # (s, worker, signal, exit)
        self.draw = random.Random(args.seed)
        self.exit_codes: dict[str, int | None] = {}

    def run(self) -> tuple[list[Check], list[Memory], dict[str, object]]:
        names = [f"{self.prefix}.{t}" for t in ("predictions", "labels", "deadletter",
                                                "retrain", "join", "outcomes")]
        ensure_topics(self.broker.bootstrap, dict.fromkeys(names, PARTITIONS))
        for worker in self.workers:
            worker.start()
        wait_for(lambda: all(w.ready() for w in self.workers), READY_TIMEOUT_S,
                 "both workers to be ready")
        sampler = Sampler(self.workers, self.args.sample)
        sampler.begin()
        traffic = Traffic(self.broker.bootstrap, self.topic, f"{self.prefix}.labels",
                          rate=self.args.rate,
                          invalid_share=self.args.invalid_share, window=WINDOW_S,
                          seed=self.args.seed, start=first_start())
        traffic.begin()
        say(f"producing {self.args.rate:.0f} messages/s for {self.args.minutes:g} min")
        self._kill_loop(time.monotonic() + self.args.minutes * 60)
        sent = traffic.stop()
        say(f"stopped producing: {sent.n_valid:,} valid, {sent.n_invalid:,} invalid, "
            f"{sent.n_labels:,} labels")
        checks = [Check("producer ran without error", sent.error is None, repr(sent.error))]
        for worker in self.workers:
            if not worker.alive():
                worker.start()
        drained = wait_for(lambda: self._stored() == (sent.n_valid, sent.n_labels),
                           DRAIN_TIMEOUT_S, "the stored events and labels to reach those sent")
        say(f"drained: {drained}")
        letters = asyncio.run(read_letters(self.broker.bootstrap, self.deadletter, self.topic))
        if len(letters.by_source) < sent.n_invalid:  # the last batch may still be on its way
            time.sleep(5)
            letters = asyncio.run(read_letters(self.broker.bootstrap, self.deadletter,
                                               self.topic))
        sampler.stop()
        for worker in self.workers:
            self.exit_codes[worker.name] = worker.stop(signal.SIGTERM, "end")
        rows = stored_windows(self.database_url)
        performance = stored_labels(self.database_url)
        checks += (window_checks(sent, rows) + label_checks(sent, performance)
                   + letter_checks(sent, letters))
        terms = [code for _, _, how, code in self.kills if how == "SIGTERM"]
        checks.append(Check("a worker sent SIGTERM during the run exits 0",
                            all(code == 0 for code in terms),
                            f"exit statuses {terms}" if terms else "no SIGTERM drawn"))
        checks.append(Check("workers stop cleanly at the end (exit 0 on SIGTERM)",
                            all(code == 0 for code in self.exit_codes.values()),
                            ", ".join(f"{k} {v}" for k, v in self.exit_codes.items())))
        memories = [memory_of(w.name, i + 1, life, self.args.warmup, 60.0)
                    for w in self.workers for i, life in enumerate(w.lifetimes)]
        self._write_samples()
        checks += memory_checks(memories, self.args.growth_bound,
                                need_judged=self.args.minutes >= 15)
        figures: dict[str, object] = {
            "valid events sent": f"{sent.n_valid:,}",
            "labels sent": f"{sent.n_labels:,}",
            "invalid events sent": f"{sent.n_invalid:,} ("
            + ", ".join(f"{k} {v}" for k, v in sorted(sent.invalid_kinds.items())) + ")",
            "dead-letter records": f"{letters.records:,} ({len(letters.by_source):,} distinct)",
            "windows stored": f"{len(rows)}",
            "kills": f"{len(self.kills)} ("
            + ", ".join(f"{how} {name} at {at / 60:.1f} min"
                        for at, name, how, _ in self.kills)
            + ")",
            "worker ERROR lines": ", ".join(f"{w.name} {_errors(w.log)}" for w in self.workers),
        }
        return checks, memories, figures

    def _write_samples(self) -> None:
        """Every RSS sample, as ``rss.csv`` in the work directory (kept with ``--keep``)."""
        lines = ["worker,lifetime,seconds_since_start,rss_mib"]
        for worker in self.workers:
            for number, life in enumerate(worker.lifetimes, start=1):
                lines += [f"{worker.name},{number},{t - life.started:.1f},{rss / MIB:.1f}"
                          for t, rss in life.samples]
        (self.workdir / "rss.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")

    def _kill_loop(self, until: float) -> None:
        began = time.monotonic()
        while True:
            due = time.monotonic() + self.draw.uniform(self.args.kill_min, self.args.kill_max)
            if due >= until:
                time.sleep(max(0.0, until - time.monotonic()))
                return
            time.sleep(due - time.monotonic())
            worker = self.draw.choice(self.workers)
            sig = signal.SIGTERM if self.draw.random() < 0.25 else signal.SIGKILL
            at = time.monotonic() - began
            code = worker.stop(sig)
            self.kills.append((at, worker.name, sig.name, code))
            pause = self.draw.uniform(0.0, 10.0)
            say(f"{sig.name} {worker.name} (exit {code}); restarting it in {pause:.0f} s")
            time.sleep(pause)
            worker.start()
            wait_for(worker.ready, READY_TIMEOUT_S, f"{worker.name} to be ready again")

    def _stored(self) -> tuple[int, int]:
        """The stored events and joined labels, in all."""
        return (sum(int(r["n_events"]) for r in stored_windows(self.database_url)),
                sum(stored_labels(self.database_url).values()))


def _errors(log: Path) -> int:
    return sum(1 for line in log.read_text(errors="replace").splitlines()
               if " ERROR " in line or line.startswith("Traceback"))


def summary(checks: list[Check], memories: list[Memory], figures: dict[str, object],
            head: dict[str, str]) -> str:
    lines = [f"| {k} | {v} |" for k, v in head.items()]
    lines += [f"| {k} | {v} |" for k, v in figures.items()]
    out = ["| run | |", "|---|---|", *lines, "",
           "| worker lifetime | minutes | ended by | RSS after warm-up (MiB) | RSS at end (MiB)"
           " | slope (MiB/h) |", "|---|---|---|---|---|---|"]
    for m in memories:
        if m.judged:
            out.append(f"| {m.worker} #{m.number} | {m.minutes:.1f} | {m.how} | "
                       f"{m.start_mib:.1f} | {m.end_mib:.1f} | {m.slope_mib_h:+.1f} |")
        else:
            out.append(f"| {m.worker} #{m.number} | {m.minutes:.1f} | {m.how} | "
                       "too short to judge | | |")
    out += ["", "| check | result | detail |", "|---|---|---|"]
    out += [f"| {c.name} | {'PASS' if c.ok else 'FAIL'} | {c.detail} |" for c in checks]
    return "\n".join(out)


def _commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, check=True, cwd=Path(__file__).parent).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _interrupted(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


def main(argv: list[str] | None = None) -> int:
    args = arguments(argv)
    # Stopped early (SIGTERM, or SIGINT, which a background job ignores otherwise): the
    # workers, the broker and the schema are still cleaned up.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, _interrupted)
    server = os.environ.get(DATABASE_VARIABLE, "")
    if not server:
        print(f"soak: error: {DATABASE_VARIABLE} is not set (a PostgreSQL server URL)",
              file=sys.stderr)
        return 2
    head = {"date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), "commit": _commit(),
            "machine": machine(), "traffic": f"{args.minutes:g} min at {args.rate:g}/s, "
            f"{args.invalid_share:.0%} invalid, seed {args.seed}"}
    say(f"{head['machine']}; commit {head['commit']}")
    with tempfile.TemporaryDirectory(prefix="soak-") as temporary:
        workdir = args.keep or Path(temporary)
        workdir.mkdir(parents=True, exist_ok=True)
        with fresh_schema(server) as url, EmbeddedBroker(port=free_port()) as broker:
            soak = Soak(args, broker, url, workdir)
            try:
                checks, memories, figures = soak.run()
            finally:
                for worker in soak.workers:
                    worker.stop(signal.SIGKILL, "cleanup")
    print(summary(checks, memories, figures, head))
    failed = [c.name for c in checks if not c.ok]
    print(f"\n{'FAIL: ' + '; '.join(failed) if failed else 'PASS: every check'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
