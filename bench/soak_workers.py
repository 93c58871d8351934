"""The soak test's worker processes and their memory, one record per lifetime.

Each ``WorkerProcess`` is ``python -m streams.cli.main worker --config FILE`` in a process
group of its own, with the broker and database in its environment, as an operator
would run it; a kill ends its current ``Lifetime`` and a restart begins the next.
``Sampler`` reads every live worker's resident set size (``VmRSS`` of
``/proc/PID/status``) every ``interval`` seconds into the current lifetime.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

CONFIG = """\
topics: {{predictions: {prefix}.predictions, labels: {prefix}.labels,
         deadletter: {prefix}.deadletter, retrain: {prefix}.retrain, join: {prefix}.join,
         outcomes: {prefix}.outcomes, partitions: {partitions}}}
ingest: {{unknown_models: reject, max_event_bytes: 64KiB}}
worker: {{group_id: {prefix}, web_port: {port}, checkpoint_interval: 2s}}
labels: {{prediction_ttl: {ttl}s, horizon: {ttl}s}}
models:
  default:
    window: {{size: {window}s, grace: {grace}s, idle_timeout: {idle}s}}
{models}"""


def write_config(path: Path, *, prefix: str, port: int, partitions: int, window: float,
                 grace: float, idle: float, ttl: float, models: tuple[str, ...]) -> None:
    """The worker's settings file: its topics, group, web port, the listed models, and
    ``ttl`` as both the label join's prediction TTL and the performance horizon."""
    listed = "".join(f"  {model}: {{}}\n" for model in models)
    path.write_text(CONFIG.format(prefix=prefix, port=port, partitions=partitions,
                                  window=window, grace=grace, idle=idle, ttl=ttl,
                                  models=listed),
                    encoding="utf-8")


@dataclass
class Lifetime:
    """One run of a worker process: from start to exit, with its RSS samples."""

    pid: int
    started: float  # time.monotonic()
    ended: float | None = None
    how: str = ""  # the signal that ended it, or "end" / "exited <status>"
    samples: list[tuple[float, int]] = field(default_factory=list)  # (monotonic, bytes)


class WorkerProcess:
    """One member of the consumer group, restartable."""

    def __init__(self, name: str, config: Path, env: dict[str, str], port: int,
                 workdir: Path) -> None:
        self.name, self.config, self.env, self.port = name, config, env, port
        self.log = workdir / f"{name}.log"
        self.workdir = workdir
        self.process: subprocess.Popen[bytes] | None = None
        self.lifetimes: list[Lifetime] = []
        self.lock = threading.Lock()

    def start(self) -> None:
        with self.log.open("ab") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "streams.cli.main", "worker", "--config", str(self.config)],
                env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                cwd=self.workdir)
        with self.lock:
            self.process = process
            self.lifetimes.append(Lifetime(process.pid, time.monotonic()))

    def ready(self) -> bool:
        """Whether ``/readyz`` answers 200 (it holds partitions, restored)."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/readyz",
                                        timeout=2) as answer:
                return bool(answer.status == 200)
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return False

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, sig: signal.Signals, how: str = "", timeout: float = 60.0) -> int | None:
        """Send ``sig`` to its process group and wait; SIGKILL after ``timeout``.

        The exit status (negative: the signal that ended it).
        """
        with self.lock:
            process = self.process
        if process is None:
            return None
        if process.poll() is None:
            os.killpg(process.pid, sig)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(30)
                how = f"{how or sig.name} (SIGKILL after {timeout:.0f} s)"
        with self.lock:
            life = self.lifetimes[-1]
            life.ended = time.monotonic()
            life.how = how or sig.name
            self.process = None
        return process.returncode

    def sample(self) -> None:
        """One RSS sample into the current lifetime (nothing when not running)."""
        with self.lock:
            if self.process is None or self.process.poll() is not None:
                return
            rss = rss_bytes(self.process.pid)
            if rss is not None:
                self.lifetimes[-1].samples.append((time.monotonic(), rss))


def rss_bytes(pid: int) -> int | None:
    """``VmRSS`` of ``pid`` in bytes, or None when the process is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except (FileNotFoundError, ProcessLookupError):
        return None
    return None


class Sampler:
    """Samples the workers' RSS every ``interval`` seconds in a thread until ``stop()``."""

    def __init__(self, workers: list[WorkerProcess], interval: float) -> None:
        self.workers, self.interval = workers, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="soak-rss", daemon=True)

    def begin(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(30)

    def _run(self) -> None:
        while not self._stop.is_set():
            for worker in self.workers:
                worker.sample()
            self._stop.wait(self.interval)
