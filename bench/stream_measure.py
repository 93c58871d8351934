"""Pieces of the streaming benchmark: a worker subprocess, its metrics, a raw consumer.

``WorkerProcess`` runs ``python -m streams.cli.main worker --config FILE`` in a
process group of its own (the embedded broker's URL and an SQLite database in
``DRIFTLINE_BROKER_URL`` / ``DRIFTLINE_DATABASE_URL``), waits for ``/readyz``,
reads ``/metrics`` and the process's ``VmRSS`` / ``VmHWM`` from
``/proc/<pid>/status``, and stops the whole group (SIGTERM, then SIGKILL).
Every wait has a deadline.
"""

from __future__ import annotations

import contextlib
import math
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType, TracebackType
from typing import Self

from aiokafka import AIOKafkaConsumer

from streams.config.settings import child_environment
from streams.devtools.broker import free_port
from streams.transport.consuming import FETCH_MAX_BYTES, PARTITION_FETCH_MAX_BYTES

MAIN = Path(__file__).resolve().parent.parent
HTTP_TIMEOUT_S = 2.0


MAX_BATCH = 10_000  # records a worker fetches at most at once (``ingest.max_batch``)
# The worker's fetch settings, for the bench's own consumers.
WORKER_FETCH = {"max_poll_records": MAX_BATCH, "fetch_max_bytes": FETCH_MAX_BYTES,
                "max_partition_fetch_bytes": PARTITION_FETCH_MAX_BYTES}


class BenchError(RuntimeError):
    """A phase of the benchmark could not complete (with the reason)."""


def run_bench(name: str, body: Callable[[Path], bool], *, check: bool, stopped: str,
              say: Callable[[str], None], started: float) -> int:
    """Run ``body`` in a fresh temporary directory with SIGTERM taken as Ctrl-C.

    The exit code: 0, 1 when ``check`` is set and ``body`` reports a missed
    target, 2 on a ``BenchError``, 130 when interrupted (``stopped`` names what
    the interruption stopped).
    """
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        with tempfile.TemporaryDirectory(prefix=f"driftline-{name}-") as tmp:
            met = body(Path(tmp))
    except KeyboardInterrupt:
        print(f"\n{name}: interrupted; {stopped} stopped", file=sys.stderr)
        return 130
    except BenchError as error:
        print(f"{name}: error: {error}", file=sys.stderr)
        return 2
    say(f"done in {time.monotonic() - started:.0f} s")
    return 1 if check and not met else 0


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


@dataclass(frozen=True)
class WorkerConfig:
    """What differs between the benchmark's workers (rendered to the YAML settings)."""

    topic: str
    group_id: str
    window: str  # the flow mapping of models.default.window, e.g. "{size: 60s, grace: 5s}"
    checkpoint_interval: str = "5s"
    partitions: int = 4
    extra: str = ""  # more top-level YAML sections (e.g. ``alerting:``), appended as given

    def render(self, port: int) -> str:
        t, g = self.topic, self.group_id
        # Side topics of its own: a join topic shared between workers would hand one
        # worker's label join the prediction stubs of all the workers before it.
        return (f"topics: {{predictions: {t}, labels: {g}.labels, deadletter: {g}.deadletter, "
                f"retrain: {g}.retrain, join: {g}.join, outcomes: {g}.outcomes, "
                f"partitions: {self.partitions}}}\n"
                f"worker: {{group_id: {self.group_id}, web_port: {port}, "
                f"checkpoint_interval: {self.checkpoint_interval}}}\n"
                f"ingest: {{max_batch: {MAX_BATCH}}}\n"
                f"models:\n  default:\n    window: {self.window}\n{self.extra}")


class WorkerProcess:
    """A ``driftline worker`` subprocess (context manager: stopped on exit, whatever happens)."""

    def __init__(self, workdir: Path, name: str, broker_url: str, database: Path,
                 config: WorkerConfig, database_url: str | None = None,
                 environment: Mapping[str, str] | None = None) -> None:
        """``database_url`` (e.g. PostgreSQL) replaces the SQLite file ``database``;
        ``environment`` is added to the worker's."""
        self.name = name
        self.port = free_port()
        self.database = database
        self.config_path = workdir / f"{name}.yaml"
        self.config_path.write_text(config.render(self.port), encoding="utf-8")
        self.log = workdir / f"{name}.log"
        self.env = child_environment({"DRIFTLINE_BROKER_URL": broker_url,
                                      "DRIFTLINE_DATABASE_URL":
                                          database_url or f"sqlite:///{database}",
                                      **(environment or {})})
        self.process: subprocess.Popen[bytes] | None = None

    def launch(self) -> Self:
        """Start the process (in a new session, so a process group of its own)."""
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "streams.cli.main", "worker", "--config",
                 str(self.config_path), "--loglevel", "warning"],
                cwd=MAIN, env=self.env, stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True)
        return self

    def wait_ready(self, timeout: float = 90.0) -> Self:
        wait_until(self._ready, timeout, f"worker {self.name} to answer /readyz", 0.1)
        return self

    def start(self, timeout: float = 90.0) -> Self:
        return self.launch().wait_ready(timeout)

    @property
    def pid(self) -> int:
        if self.process is None:
            raise BenchError(f"worker {self.name} is not started")
        return self.process.pid

    def _check_alive(self) -> None:
        if self.process is not None and self.process.poll() is not None:
            tail = self.log.read_text(errors="replace").strip().splitlines()[-12:]
            raise BenchError(f"worker {self.name} exited with status "
                             f"{self.process.returncode}:\n" + "\n".join(tail))

    def _get(self, path: str) -> tuple[int, str]:
        self._check_alive()
        url = f"http://127.0.0.1:{self.port}{path}"
        try:
            with urllib.request.urlopen(url, timeout=HTTP_TIMEOUT_S) as answer:
                return int(answer.status), answer.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, ""
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return 0, ""

    def _ready(self) -> bool:
        return self._get("/readyz")[0] == 200

    def metrics(self, *names: str, timeout: float = 15.0) -> str:
        """``/metrics`` (with ``names``, only those series: ``?name[]=``), asked again
        while a busy worker does not answer within 2 s."""
        query = "?" + "&".join(f"name[]={name}" for name in names) if names else ""
        deadline = time.monotonic() + timeout
        while True:
            status, text = self._get("/metrics" + query)
            if status == 200:
                return text
            if status or time.monotonic() > deadline:
                raise BenchError(f"worker {self.name}: /metrics answered {status or 'nothing'}")

    def accepted(self) -> float:
        """Events accepted so far: read at 10 Hz, so only that counter is asked for (the
        whole page, some 1,100 series once windows close, costs the worker ~8 ms a read)."""
        return counter(self.metrics("driftline_events_total"), "driftline_events_total",
                       'outcome="accepted"')

    def memory_kib(self) -> tuple[int, int]:
        """(VmRSS, VmHWM) of the worker process in KiB."""
        self._check_alive()
        fields: dict[str, int] = {}
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                fields[key] = int(value.split()[0])
        return fields["VmRSS"], fields["VmHWM"]

    def stop(self, timeout: float = 20.0) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        if process.poll() is None:
            _signal_group(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                _signal_group(process.pid, signal.SIGKILL)
                process.wait(timeout)
        _signal_group(process.pid, signal.SIGKILL)  # anything left in its group

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def wait_until(condition: Callable[[], bool], timeout: float, what: str,
               interval: float = 0.1) -> None:
    """Poll ``condition`` every ``interval`` s; ``BenchError`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise BenchError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


# ----- Prometheus text ------------------------------------------------------------------
def counter(text: str, name: str, label: str = "") -> float:
    """Sum of the samples of ``name`` (a counter or gauge) whose labels contain ``label``."""
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name) and line[len(name):len(name) + 1] in ("{", " ") \
                and label in line.split("}")[0]:
            total += float(line.rsplit(" ", 1)[1])
    return total


def histogram(text: str, name: str) -> dict[float, float]:
    """Cumulative bucket counts of a label-less histogram: upper bound -> count."""
    buckets: dict[float, float] = {}
    prefix = f'{name}_bucket{{le="'
    for line in text.splitlines():
        if line.startswith(prefix):
            bound = line[len(prefix):].split('"', 1)[0]
            buckets[math.inf if bound == "+Inf" else float(bound)] = float(
                line.rsplit(" ", 1)[1])
    return dict(sorted(buckets.items()))


def add_histograms(parts: Iterable[dict[float, float]]) -> dict[float, float]:
    total: dict[float, float] = {}
    for part in parts:
        for bound, count in part.items():
            total[bound] = total.get(bound, 0.0) + count
    return dict(sorted(total.items()))


def histogram_quantile(q: float, buckets: dict[float, float]) -> float | None:
    """Prometheus' ``histogram_quantile``: linear interpolation inside the bucket.

    The first bucket starts at 0; a rank in the ``+Inf`` bucket gives the largest
    finite bound (the true value is above it). None for an empty histogram.
    """
    total = buckets.get(math.inf, 0.0)
    if total <= 0:
        return None
    rank, lower, below = q * total, 0.0, 0.0
    for bound, cumulative in buckets.items():
        if cumulative >= rank:
            if math.isinf(bound):
                return lower
            inside = cumulative - below
            return lower + (bound - lower) * ((rank - below) / inside if inside else 1.0)
        lower, below = bound, cumulative
    return lower


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far (``/proc/<pid>/stat``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _cpu(watch: Mapping[str, Sequence[int]]) -> dict[str, float]:
    return {who: sum(cpu_seconds(pid) for pid in pids) for who, pids in watch.items()}


def _spent(before: Mapping[str, float], after: Mapping[str, float]) -> dict[str, float]:
    return {who: after[who] - before[who] for who in before}


# ----- the raw consumer baseline -----------------------------------------------------------
@dataclass(frozen=True)
class Rate:
    """Events counted after the first observation, over the seconds to the last one."""

    events: int
    seconds: float
    first: int  # events already there at the first observation (not in the rate)
    cpu: Mapping[str, float] = field(default_factory=dict)  # CPU seconds over the span, by process

    def cpu_per_event(self, who: str) -> float:
        """Microseconds of ``who``'s CPU (user + system) per counted event."""
        return self.cpu[who] / self.events * 1e6 if self.events else math.nan

    @property
    def per_second(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else math.nan


async def raw_consume(bootstrap: str, topic: str, group_id: str, expected: int,
                      timeout: float = 120.0, watch: Mapping[str, Sequence[int]] | None = None
                      ) -> Rate:
    """Read ``expected`` records as a consumer group with the worker's consumer settings.

    Timed from the return of the first non-empty ``getmany`` to the return of the
    one that completes ``expected``; the first batch is not counted in the rate.
    The CPU of the processes in ``watch`` (name: pids, summed) is read at both ends.
    """
    watch = watch or {}
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, group_id=group_id, enable_auto_commit=False,
        auto_offset_reset="earliest", session_timeout_ms=6000, heartbeat_interval_ms=1000,
        **WORKER_FETCH)
    await consumer.start()
    try:
        deadline = time.monotonic() + timeout
        got, first, started = 0, 0, 0.0
        before: dict[str, float] = {}
        while got < expected:
            if time.monotonic() > deadline:
                raise BenchError(f"raw consumer read {got:,} of {expected:,} records "
                                 f"within {timeout:.0f} s")
            batches = await consumer.getmany(timeout_ms=500, max_records=MAX_BATCH)
            n = sum(len(records) for records in batches.values())
            if n and not got:
                started, first, before = time.perf_counter(), n, _cpu(watch)
            got += n
        ended, after = time.perf_counter(), _cpu(watch)
    finally:
        await consumer.stop()
    return Rate(got - first, ended - started, first, _spent(before, after))


def follow_rate(read: Callable[[], float], expected: int, timeout: float,
                interval: float = 0.1, watch: Mapping[str, Sequence[int]] | None = None
                ) -> Rate:
    """Poll a running count at ``interval``; rate from the first non-zero reading to ``expected``.

    The first reading's events are not in the rate; the end is seen up to one
    ``interval`` late, so the rate is slightly pessimistic. The CPU of the processes
    in ``watch`` (name: pids, summed) is read after the first non-zero reading and after the
    last one.
    """
    watch = watch or {}
    deadline = time.monotonic() + timeout
    first, started = 0.0, 0.0
    before: dict[str, float] = {}
    while True:
        now = time.perf_counter()
        count = read()
        if count and not first:
            first, started, before = count, now, _cpu(watch)
        if count >= expected:
            return Rate(int(count - first), now - started, int(first),
                        _spent(before, _cpu(watch)))
        if time.monotonic() > deadline:
            raise BenchError(f"{count:,.0f} of {expected:,} events accepted within "
                             f"{timeout:.0f} s")
        time.sleep(max(0.0, interval - (time.perf_counter() - now)))


def median(values: Iterable[float]) -> float:
    return float(statistics.median(list(values)))
