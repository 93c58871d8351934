"""Every dashboard query and rule against a real Prometheus scraping a real worker.

A worker (embedded broker, PostgreSQL) reads simulated traffic with data drift
and a concept change from the third window, invalid events, delayed labels (80 %
of them come), and a late event; an alert rule on the drift notifies two
receivers on a local HTTP server, one of which refuses (410: a dead letter).
Debian's ``prometheus`` scrapes the worker's ``/metrics`` every second and
evaluates ``dashboards/prometheus/rules``. Then each query, with Grafana's
variables substituted, must parse (Prometheus' ``/api/v1/query``), read only
metrics the worker exports (``/api/v1/label/__name__/values``) and return data.
Annotations are range queries over the run, as Grafana asks for them, so the
concept-drift annotation has data only if a detection happened after its
counter was scraped at 0. Alert expressions have data only while they fire; the
dead letter must make ``DriftlineWebhookDeadLetters`` fire.
"""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from pytest_httpserver import HTTPServer

from dashboards.inventory import Query, queries
from dashboards.promql import BUILTIN_VARIABLES, substitute
from store.engine import make_engine
from store.performance import load_calibration
from streams.devtools.broker import EmbeddedBroker, free_port
from streams.devtools.simulator import Simulator
from streams.transport.producer import encode_event, send_events, send_raw
from tests.conftest import schema_url
from tests.integration.event_stream import first_event_time
from tests.integration.worker_harness import RATE, WINDOW, Worker, wait_for
from tests.prometheus_tools import tool

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "dashboards" / "prometheus" / "rules" / "driftline.yml"
VARIABLES = {"model": "fraud", "version": "1", "feature": "amount"}
PROMETHEUS_CONFIG = """\
global: {{scrape_interval: 1s, evaluation_interval: 1s}}
rule_files: [{rules}]
scrape_configs:
  - job_name: driftline
    static_configs: [{{targets: ["127.0.0.1:{port}"]}}]
"""
PER_WINDOW = int(WINDOW * RATE)
INVALID_RATE = 0.02
# The estimate's calibration (the join keeps its defaults); the concept-drift detector is fed
# a span 20 s of event time after it (ADWIN fires at 146 s, and the labels sent before the
# last window's go to 180 s), and a rule on the drift that notifies a receiver that answers
# and one that refuses.
MODEL = "    performance: {calibration_rows: 500, detector_delay: 20s}\n"
ALERTING = """\
alerting:
  receivers:
    oncall: {{type: slack, url: "{base}oncall"}}
    gone: {{type: slack, url: "{base}gone"}}
  rules:
    - {{name: amount-drift, metric: feature.psi, above: 0.25, features: [amount],
        severity: critical, receivers: [oncall, gone]}}
  dispatch: {{base_delay: 100ms, max_delay: 1s, poll_interval: 200ms}}
"""


def _rule_queries() -> list[Query]:
    groups = yaml.safe_load(RULES.read_text(encoding="utf-8"))["groups"]
    return [Query("rules", rule.get("record") or rule["alert"], rule["expr"],
                  "record" if "record" in rule else "alert")
            for group in groups for rule in group["rules"]]


ALL_QUERIES = queries() + _rule_queries()
RECORDED = {q.where for q in ALL_QUERIES if q.kind == "record"}


@dataclass
class Prometheus:
    """A Prometheus server on a loopback port; ``query`` returns the API's JSON."""

    url: str
    process: subprocess.Popen[bytes]
    log: Path
    started: float

    def get(self, path: str, **params: str) -> dict[str, Any]:
        address = f"{self.url}{path}?{urllib.parse.urlencode(params)}"
        try:
            with urllib.request.urlopen(address, timeout=10) as answer:
                return dict(json.load(answer))
        except urllib.error.HTTPError as error:  # 400 carries the parse error
            return dict(json.load(error))

    def query(self, expr: str) -> dict[str, Any]:
        return self.get("/api/v1/query", query=expr)

    def evaluate(self, query: Query) -> dict[str, Any]:
        """``query`` as Grafana runs it: annotations over the run, the rest at this instant."""
        expr = substitute(query.expr, VARIABLES)
        if query.kind != "annotation":
            return self.query(expr)
        now = time.time()
        return self.get("/api/v1/query_range", query=expr, start=str(self.started), end=str(now),
                        step=BUILTIN_VARIABLES["__interval"])

    def names(self) -> set[str]:
        return set(self.get("/api/v1/label/__name__/values")["data"])

    def ready(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError("prometheus exited:\n" + self.log.read_text()[-3000:])
        try:
            with urllib.request.urlopen(f"{self.url}/-/ready", timeout=1) as answer:
                return bool(answer.status == 200)
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return False


@pytest.fixture(scope="module")
def module_database(postgres_url: str) -> Iterator[str]:
    """A migrated PostgreSQL schema for this module's worker."""
    with schema_url(postgres_url, "dash", migrated=True) as url:
        yield url


@pytest.fixture(scope="module")
def receivers() -> Iterator[HTTPServer]:
    """``/oncall`` answers 200; ``/gone`` answers 410, which the dispatcher dead-letters."""
    server = HTTPServer(host="127.0.0.1")
    server.expect_request("/oncall", method="POST").respond_with_data("ok")
    server.expect_request("/gone", method="POST").respond_with_data("gone", status=410)
    server.start()
    try:
        yield server
    finally:
        server.clear()
        server.stop()


@pytest.fixture(scope="module")
def scraped(tmp_path_factory: pytest.TempPathFactory, broker: EmbeddedBroker,
            module_database: str, receivers: HTTPServer) -> Iterator[Prometheus]:
    """A worker fed with drifting, labelled traffic, scraped until every query has data."""
    binary = tool("prometheus")
    tmp = tmp_path_factory.mktemp("dashboards")
    worker = Worker(tmp, broker, module_database, model=MODEL,
                    extra=ALERTING.format(base=receivers.url_for("/")))
    config = tmp / "prometheus.yml"
    config.write_text(PROMETHEUS_CONFIG.format(rules=json.dumps(str(RULES)), port=worker.port),
                      encoding="utf-8")
    log = tmp / "prometheus.log"
    port = free_port()
    with log.open("wb") as out:
        process = subprocess.Popen(
            [binary, f"--config.file={config}", f"--storage.tsdb.path={tmp / 'tsdb'}",
             f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    prometheus = Prometheus(f"http://127.0.0.1:{port}", process, log, time.time())
    try:
        worker.start()
        wait_for(prometheus.ready, 30, "prometheus to be ready")
        _feed(worker, broker, prometheus, module_database)
        current = [q for q in ALL_QUERIES if q.kind != "alert"]
        try:
            wait_for(lambda: all(_has_data(prometheus, q) for q in current), 60,
                     "every query to return data")
        except AssertionError as timeout:
            empty = "\n".join(str(q) for q in current if not _has_data(prometheus, q))
            raise AssertionError(f"{timeout}; still without data:\n{empty}") from None
        yield prometheus
    finally:
        worker.stop(signal.SIGKILL)
        process.terminate()
        process.wait(30)


def _feed(worker: Worker, broker: EmbeddedBroker, prometheus: Prometheus,
          database_url: str) -> None:
    """Four windows, drift and a concept change from the third, 2 % invalid events.

    1. Window 0 and its labels: the estimate's calibration is stored, and the
       concept-drift counter is scraped at 0, before anything else is sent.
    2. Windows 1-3 and the labels of 1-2; the error rate rises from window 2, so
       the detector fires. Windows 1-3 close after the calibration: each has an
       estimate. The drift of window 2 fires ``amount-drift``.
    3. Once every window has closed, window 3's labels (its label coverage is known
       when its row is written) and an event older than the grace period.
    """
    simulator = Simulator(seed=11, start=first_event_time(), events_per_second=RATE,
                          shift_at=2 * WINDOW, label_delay=5.0, label_share=0.8)
    topics = worker.topics

    def send(first: int, windows: int, labelled: int) -> None:
        payloads = list(simulator.payloads(windows * PER_WINDOW, INVALID_RATE,
                                           first=first * PER_WINDOW))
        asyncio.run(send_raw(broker.bootstrap, topics["predictions"],
                             [v for _, v in payloads], [k for k, _ in payloads]))
        send_labels(first, labelled)

    def send_labels(first: int, windows: int) -> None:
        labels = list(simulator.labels(windows * PER_WINDOW, first=first * PER_WINDOW,
                                       invalid_rate=INVALID_RATE))
        asyncio.run(send_events(broker.bootstrap, topics["labels"], labels,
                                key=lambda e: str(e["model_id"]).encode()))

    engine = make_engine(database_url)
    try:
        send(0, 1, 1)
        wait_for(lambda: _calibrated(engine), 60, "the score calibration to be stored")
    finally:
        engine.dispose()
    detections = Query("", "", 'driftline_concept_drift_detections_total{model="fraud"}', "")
    wait_for(lambda: _has_data(prometheus, detections), 30,
             "the concept-drift counter scraped at 0")
    assert prometheus.query(detections.expr)["data"]["result"][0]["value"][1] == "0"
    send(1, 3, 2)
    wait_for(lambda: worker.metric("driftline_windows_closed_total", model="fraud") == 4, 90,
             "the four windows to close")
    send_labels(3, 1)
    late = dict(next(simulator.events(1)))
    late["event_id"] = "late-event"
    late["event_time"] = (first_event_time() + timedelta(seconds=1)).isoformat()
    asyncio.run(send_raw(broker.bootstrap, topics["predictions"], [encode_event(late)],
                         [b"fraud"]))


def _calibrated(engine: Any) -> bool:
    with engine.connect() as conn:
        return load_calibration(conn, "fraud", "1") is not None


def _has_data(prometheus: Prometheus, query: Query) -> bool:
    answer = prometheus.evaluate(query)
    return answer.get("status") == "success" and bool(answer["data"]["result"])


@pytest.mark.parametrize("query", ALL_QUERIES, ids=str)
def test_query_parses_reads_exported_metrics_and_returns_data(query: Query,
                                                              scraped: Prometheus) -> None:
    answer = scraped.evaluate(query)
    assert answer["status"] == "success", f"{query}: {answer.get('error')}"
    assert query.metrics, f"{query}: reads no metric"
    missing = set(query.metrics) - scraped.names()
    assert not missing, f"{query}: not exported by the worker: {sorted(missing)}"
    if query.kind == "alert":
        return  # an alert's expression has data only while it fires
    assert answer["data"]["result"], f"{query}: returned no data"


def test_a_query_on_an_unknown_metric_or_bad_syntax_is_caught(scraped: Prometheus) -> None:
    """The checks above can fail: a typo in a name or in the syntax is reported."""
    assert scraped.query("sum(rate(driftline_events_total[1m])")["status"] == "error"
    assert "driftline_feature_psii" not in scraped.names()
    assert not scraped.query("driftline_feature_psii")["data"]["result"]


def test_the_worker_exports_every_metric_the_dashboards_read(scraped: Prometheus) -> None:
    wanted = {m for q in ALL_QUERIES for m in q.metrics} - RECORDED
    assert wanted - scraped.names() == set()
    assert wanted >= {"driftline_late_events_total", "driftline_events_invalid_total",
                      "driftline_model_performance", "driftline_labels_total",
                      "driftline_concept_drift_detections_total", "driftline_alerts_firing",
                      "driftline_webhook_deliveries_total", "driftline_outbox_pending"}


def test_the_first_dead_letter_fires_its_alert(scraped: Prometheus) -> None:
    """The refusing receiver's first dead letter is an increase from the 0 it was
    exported at, so ``DriftlineWebhookDeadLetters`` fires for it and only for it."""

    def firing() -> set[str]:
        alerts = scraped.get("/api/v1/alerts")["data"]["alerts"]
        return {a["labels"].get("receiver", "") for a in alerts
                if a["labels"]["alertname"] == "DriftlineWebhookDeadLetters"
                and a["state"] == "firing"}

    wait_for(lambda: "gone" in firing(), 30, "DriftlineWebhookDeadLetters for gone")
    assert firing() == {"gone"}
