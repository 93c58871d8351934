"""The webhook receiver of the alert benchmark: a threaded HTTP server on loopback.

Every POST is read whole, stamped with ``time.perf_counter()`` once its body is
in, recorded with its path, ``webhook-id`` header and body, and answered
``200 ok``. HTTP/1.1 with ``Content-Length``, so a client keeps its connection
open as the dispatcher's aiohttp session does. ``round_trips`` times plain
POSTs from the benchmark's own process to the same server: the baseline.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self

import aiohttp


@dataclass(frozen=True)
class Receipt:
    """One POST as received: ``at`` is ``time.perf_counter()`` when its body was read."""

    at: float
    path: str
    webhook_id: str
    body: dict[str, Any]  # parsed, for /alerts only
    raw: bytes


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # else the body waits ~40 ms behind the headers (delayed ACK)
    server: _Server

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        at = time.perf_counter()
        parsed = json.loads(body) if self.path == "/alerts" else {}
        self.server.record(Receipt(at, self.path, self.headers.get("webhook-id", ""), parsed,
                                   body))
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: Any) -> None:
        return


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.lock = threading.Lock()
        self.receipts: list[Receipt] = []

    def record(self, receipt: Receipt) -> None:
        with self.lock:
            self.receipts.append(receipt)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client dropping its kept-alive connection is not an error; others are printed."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class Receiver:
    """The server in a thread of its own (context manager: shut down on exit)."""

    def __init__(self) -> None:
        self._server = _Server()
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def receipts(self, path: str) -> list[Receipt]:
        with self._server.lock:
            return [r for r in self._server.receipts if r.path == path]

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


async def round_trips(session: aiohttp.ClientSession, url: str, body: bytes, n: int
                      ) -> list[float]:
    """Seconds of ``n`` sequential POSTs of ``body`` to ``url`` (request sent -> 200 read)."""
    seconds: list[float] = []
    headers = {"content-type": "application/cloudevents+json"}
    for _ in range(n):
        started = time.perf_counter()
        async with session.post(url, data=body, headers=headers) as answer:
            await answer.read()
            if answer.status != 200:
                raise RuntimeError(f"the receiver answered {answer.status}")
        seconds.append(time.perf_counter() - started)
    return seconds
