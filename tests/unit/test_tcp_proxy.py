"""``tests.tcp_proxy``: the proxy the outage tests put between the worker and a server."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from tests.tcp_proxy import TcpProxy


@pytest.fixture
def echo() -> Iterator[int]:
    """A loopback server that sends back what it receives."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    stop = threading.Event()

    def serve(conn: socket.socket) -> None:
        with conn:
            while data := conn.recv(1024):
                conn.sendall(data)

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join()
    server.close()


def roundtrip(port: int, timeout: float = 2) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as conn:
        conn.sendall(b"ping")
        return conn.recv(1024)


def test_forward_refuse_blackhole_and_back(echo: int) -> None:
    with TcpProxy("127.0.0.1", echo) as proxy:
        assert roundtrip(proxy.port) == b"ping"
        held = socket.create_connection(("127.0.0.1", proxy.port), timeout=2)
        held.sendall(b"a")
        assert held.recv(16) == b"a"
        proxy.refuse()
        assert held.recv(16) == b""  # a forwarded connection is cut
        held.close()
        with pytest.raises(ConnectionRefusedError):
            roundtrip(proxy.port)
        proxy.blackhole()
        with pytest.raises(TimeoutError):  # accepted, never answered
            roundtrip(proxy.port, timeout=0.5)
        proxy.forward()
        assert roundtrip(proxy.port) == b"ping"
        with pytest.raises(ValueError, match="mode must be one of"):
            proxy._switch("drop")
