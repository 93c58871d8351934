"""The demo's local receivers: a signed-webhook endpoint that prints alerts, and a deployer.

One HTTP server on loopback serves ``POST /alerts`` (a ``webhook`` receiver:
CloudEvents of alert firings and resolutions) and ``POST /retrain`` (a
``deployer`` receiver: retrain requests). Each delivery's Standard Webhooks
signature is checked before it is printed; a redelivery (same ``webhook-id``)
is acknowledged and not printed twice, as a real receiver would do.
"""

from __future__ import annotations

import base64
import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import click

from alerting import signing


class DemoReceiver:
    """Collects and prints what driftline delivers; ``url`` is its base address."""

    def __init__(self) -> None:
        self.secret = "whsec_" + base64.b64encode(os.urandom(24)).decode()
        self.alerts: list[dict[str, Any]] = []
        self.retrains: list[dict[str, Any]] = []
        self.refused = 0
        self._seen: set[str] = set()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> DemoReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def receive(self, path: str, headers: dict[str, str], body: bytes) -> int:
        if not signing.verify(self.secret, headers, body):
            self.refused += 1
            return 401
        with self._lock:
            if headers["webhook-id"] in self._seen:
                return 200
            self._seen.add(headers["webhook-id"])
        event = json.loads(body)
        data = event.get("data", {})
        if path == "/retrain":
            self.retrains.append(event)
            click.echo(f"  >> RETRAIN REQUESTED  {data.get('model_id')} v"
                       f"{data.get('model_version')}  key={data.get('idempotency_key')}  "
                       f"(signature verified)")
        else:
            self.alerts.append(event)
            mark = "ALERT FIRING" if event.get("type", "").endswith("firing") else "ALERT RESOLVED"
            click.echo(f"  >> {mark}  [{data.get('severity')}]  {data.get('summary')}")
        return 200

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                headers = {k.lower(): v for k, v in self.headers.items()}
                status = receiver.receive(self.path, headers, body)
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return  # quiet: the demo prints what it received

        return Handler

    def config(self) -> str:
        """The ``alerting`` section of the demo's settings."""
        return f"""\
alerting:
  receivers:
    demo-alerts: {{type: webhook, url: "{self.url}/alerts", signing_secret: "{self.secret}"}}
    demo-deployer: {{type: deployer, url: "{self.url}/retrain", signing_secret: "{self.secret}"}}
  rules:
    # A feature drifts critically: page, and ask for a retrain (one per model version).
    - {{name: feature-drift, metric: feature.psi, above: 0.25, resolve_below: 0.1,
       severity: critical, receivers: [demo-alerts, demo-deployer], retrain: true}}
    # Realised accuracy (labels in) under 0.76 for two windows.
    - {{name: accuracy-drop, metric: performance.accuracy, below: 0.76, resolve_above: 0.78,
       for: 2, severity: warning, receivers: [demo-alerts]}}
    - {{name: concept-drift, metric: concept_drift, severity: warning, receivers: [demo-alerts]}}
  dispatch: {{poll_interval: 500ms}}
"""
