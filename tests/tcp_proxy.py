"""A threaded TCP proxy that can forward, refuse or blackhole: outages of a server on demand.

``TcpProxy(host, port)`` listens on a free loopback port (``proxy.port``) and
forwards every connection to ``host:port`` until told otherwise:

- ``forward()``: connections are forwarded, both ways, byte for byte;
- ``refuse()``: the listening socket is closed, so connecting fails at once
  (connection refused), as with a server that is down;
- ``blackhole()``: connections are accepted and everything they send is read
  and dropped, without a byte of answer, as with a hung server: a client only
  gets out by its own timeout.

Going to ``refuse`` or ``blackhole`` cuts the connections being forwarded (both
ends closed), so a client's pooled connections fail at their next use, as after
a restart of the server. Blackholed connections stay silent until ``close()``,
whatever the mode is by then: a client waiting on one keeps waiting for its own
timeout, as it would on a real network. The listening port stays the same
across modes.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from types import TracebackType
from typing import Self

MODES = ("forward", "refuse", "blackhole")
_CHUNK = 65536
_POLL = 0.1  # seconds: how often the accept loop looks at the mode


class TcpProxy:
    """Forwards loopback connections to ``host:port``; refuses or blackholes on demand."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.port = 0
        self.mode = "forward"
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self._forwarded: set[socket.socket] = set()  # both ends of forwarded connections
        self._silent: set[socket.socket] = set()  # blackholed connections
        self._closed = threading.Event()
        self._thread: threading.Thread | None = None
        self.accepted = 0  # connections accepted, whatever became of them

    # ----- life ----------------------------------------------------------------------
    def start(self) -> Self:
        self._listen()
        self._thread = threading.Thread(target=self._accept_loop, daemon=True,
                                        name=f"tcp-proxy-{self.port}")
        self._thread.start()
        return self

    def close(self) -> None:
        self._closed.set()
        if self._thread is not None:
            self._thread.join(5)
        with self._lock:
            self._unlisten()
            self._cut(self._forwarded)
            self._cut(self._silent)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()

    # ----- modes ---------------------------------------------------------------------
    def forward(self) -> None:
        self._switch("forward")

    def refuse(self) -> None:
        self._switch("refuse")

    def blackhole(self) -> None:
        self._switch("blackhole")

    def _switch(self, mode: str) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
        with self._lock:
            self.mode = mode
            if mode != "forward":
                self._cut(self._forwarded)
            if mode == "refuse":
                self._unlisten()
            elif self._listener is None:
                self._listen()

    # ----- inside --------------------------------------------------------------------
    def _listen(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        deadline = time.monotonic() + 5
        while True:  # the old listener's port is free once the accept loop let go of it
            try:
                listener.bind(("127.0.0.1", self.port))
                break
            except OSError:
                if time.monotonic() > deadline:
                    listener.close()
                    raise
                time.sleep(_POLL / 2)
        listener.listen(64)
        listener.settimeout(_POLL)
        self.port = listener.getsockname()[1]
        self._listener = listener

    def _unlisten(self) -> None:
        if self._listener is not None:
            with contextlib.suppress(OSError):
                self._listener.shutdown(socket.SHUT_RDWR)  # wakes a blocked accept()
            self._listener.close()
            self._listener = None

    @staticmethod
    def _cut(sockets: set[socket.socket]) -> None:
        for sock in list(sockets):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        sockets.clear()

    def _accept_loop(self) -> None:
        while not self._closed.is_set():
            listener = self._listener
            if listener is None:
                self._closed.wait(_POLL)
                continue
            try:
                client, _ = listener.accept()
            except (TimeoutError, OSError):  # OSError: closed by refuse() meanwhile
                continue
            client.settimeout(None)
            self.accepted += 1
            with self._lock:
                mode = self.mode
            if mode == "blackhole":
                self._start_silent(client)
            elif mode == "forward":
                self._start_forwarding(client)
            else:
                client.close()

    def _start_silent(self, client: socket.socket) -> None:
        with self._lock:
            self._silent.add(client)
        threading.Thread(target=self._drop, args=(client,), daemon=True).start()

    def _start_forwarding(self, client: socket.socket) -> None:
        try:
            server = socket.create_connection(self.target, timeout=5)
        except OSError:
            client.close()
            return
        server.settimeout(None)
        with self._lock:
            self._forwarded.update((client, server))
        for source, sink in ((client, server), (server, client)):
            threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _drop(client: socket.socket) -> None:
        """Read and forget everything ``client`` sends, until it closes or is cut."""
        with contextlib.suppress(OSError):
            while client.recv(_CHUNK):
                pass

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        """Copy ``source`` to ``sink`` until either end closes; then close both."""
        try:
            while data := source.recv(_CHUNK):
                sink.sendall(data)
        except OSError:
            pass
        with self._lock:
            for sock in (source, sink):
                if sock in self._forwarded:
                    self._forwarded.discard(sock)
                    with contextlib.suppress(OSError):
                        sock.shutdown(socket.SHUT_RDWR)
                    sock.close()
