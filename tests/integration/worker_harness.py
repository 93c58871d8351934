"""``driftline worker`` in its own process for the integration tests: its settings file,
start, readiness, metrics and stop, and polling until a condition holds."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path

from streams.config.settings import load_settings
from streams.devtools.broker import EmbeddedBroker, free_port
from streams.transport.topics import ensure_topics

WINDOW = 60  # seconds of event time
RATE = 50.0  # events per second of event time: 3,000 events per window
CONFIG = """\
topics: {{predictions: {prefix}.predictions, labels: {prefix}.labels,
         deadletter: {prefix}.deadletter, retrain: {prefix}.retrain, join: {prefix}.join,
         outcomes: {prefix}.outcomes, partitions: {partitions}}}
worker: {{group_id: {prefix}, web_port: {port}, checkpoint_interval: 1s}}
{extra}models:
  default:
    window: {{size: {window}s, grace: {grace}s, idle_timeout: {idle}s}}
    thresholds: {thresholds}
{model}"""
# The first window is the reference: the tests' windows hold a few thousand events.
FIRST_WINDOW = "{min_reference_rows: 0}"


class Worker:
    """``driftline worker`` in its own process group, with its settings file."""

    def __init__(self, tmp: Path, broker: EmbeddedBroker, database_url: str,
                 like: Worker | None = None, idle: float = 3.0, *, grace: float = 10,
                 partitions: int = 2, extra: str = "", model: str = "",
                 thresholds: str = FIRST_WINDOW) -> None:
        """A worker of its own topics and group, or of ``like``'s (a second member).

        ``extra`` adds top-level sections to its configuration file, ``model`` keys
        of ``models.default`` (indented by four spaces), ``thresholds`` is that
        model's ``thresholds`` (YAML flow mapping).
        """
        self.prefix: str = like.prefix if like else f"t{uuid.uuid4().hex[:10]}"
        self.port = free_port()
        self.tmp = tmp
        self.config = tmp / "driftline.yaml"
        self.config.write_text(CONFIG.format(prefix=self.prefix, port=self.port, window=WINDOW,
                                             idle=idle, grace=grace, partitions=partitions,
                                             extra=extra, model=model,
                                             thresholds=thresholds), encoding="utf-8")
        self.env = {**os.environ, "DRIFTLINE_BROKER_URL": broker.url,
                    "DRIFTLINE_DATABASE_URL": database_url}
        self.settings = load_settings(self.config, self.env)
        self.log = tmp / "worker.log"
        self.process: subprocess.Popen[bytes] | None = None
        ensure_topics(broker.bootstrap, dict.fromkeys(self.topics.values(), partitions))

    @property
    def topics(self) -> dict[str, str]:
        t = self.settings.topics
        return {"predictions": t.predictions, "labels": t.labels, "deadletter": t.deadletter,
                "retrain": t.retrain, "join": t.join, "outcomes": t.outcomes}

    def start(self, *args: str, wait: bool = True) -> None:
        """Start it with ``args`` added to its command line; wait until it is ready."""
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "streams.cli.main", "worker", "--config", str(self.config),
                 *args],
                env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                cwd=self.tmp)
        if wait:
            wait_for(self._ready, 90, "the worker to be ready")

    def status(self, path: str) -> int:
        """The HTTP status ``path`` answers with (0 when the server does not answer)."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}",
                                        timeout=2) as answer:
                return int(answer.status)
        except urllib.error.HTTPError as error:
            return int(error.code)
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return 0

    def _ready(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError("worker exited:\n" + self.log.read_text()[-3000:])
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/readyz",
                                        timeout=1) as answer:
                return bool(answer.status == 200)
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return False

    def metrics(self, query: str = "") -> str:
        # Prometheus's own default scrape timeout: a worker decoding a batch of poison
        # (20,000-deep nesting, 17 MiB) once answered a scrape later than 2 s.
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics{query}",
                                    timeout=10) as r:
            return str(r.read().decode())

    def metric(self, name: str, **labels: str) -> float:
        """The sum of the samples of ``name`` whose labels include ``labels``."""
        total = 0.0
        for line in self.metrics().splitlines():
            if line.startswith(name + "{") and all(f'{k}="{v}"' in line
                                                   for k, v in labels.items()):
                total += float(line.rsplit(" ", 1)[1])
        return total

    def stop(self, sig: signal.Signals = signal.SIGTERM) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, sig)
            self.process.wait(30)


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll ``condition`` until it holds; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.2)
