"""A real HTTP server for tests: uvicorn serving an ASGI app in a thread on a loopback port.

``serve(app)`` binds a socket on ``127.0.0.1`` port 0 (the system picks a free
one) and listens on it *before* uvicorn starts, then runs uvicorn on that socket
in a thread and yields the base URL. A client may connect at once: until
uvicorn accepts, the connection waits in the socket's backlog, so no test has to
wait for the server to be up. On exit uvicorn is told to stop and its thread is
joined; a server that does not stop fails the test instead of hanging it.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn

STOP_TIMEOUT = 10.0  # seconds for uvicorn to finish its requests and stop


@contextmanager
def serve(app: Any) -> Iterator[str]:
    """Serve ``app`` on a free loopback port; yields ``http://127.0.0.1:PORT``."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    failures: list[BaseException] = []

    def run() -> None:
        try:
            server.run(sockets=[sock])
        except BaseException as exc:  # reported by the test thread below
            failures.append(exc)

    thread = threading.Thread(target=run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(STOP_TIMEOUT)
        sock.close()
        if thread.is_alive():
            raise RuntimeError(f"the test server on port {port} did not stop")
        if failures:
            raise RuntimeError(f"the test server on port {port} failed") from failures[0]
