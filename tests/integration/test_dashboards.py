"""Every dashboard query and rule against a real Prometheus scraping a real worker.

A worker (embedded broker, PostgreSQL) reads simulated traffic with drift,
invalid events and a late event; Debian's ``prometheus`` scrapes its ``/metrics``
every second and evaluates ``dashboards/prometheus/rules``. Then each query, with
Grafana's variables substituted, must parse (Prometheus' ``/api/v1/query``), read
only metrics the worker exports (``/api/v1/label/__name__/values``) and return
data. Queries whose metrics are all in ``PENDING_METRICS`` are parsed, then
skipped with the reason; the set empties as issues 4 and 5 land.
"""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
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

from dashboards.catalogue import PENDING_METRICS
from dashboards.inventory import Query, queries
from dashboards.promql import substitute
from streams.broker import EmbeddedBroker, free_port
from streams.producer import encode_event, send_raw
from streams.simulator import Simulator
from tests.conftest import schema_url
from tests.integration.test_worker import (
    RATE,
    WINDOW,
    Worker,
    first_event_time,
    wait_for,
)
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

    def get(self, path: str, **params: str) -> dict[str, Any]:
        address = f"{self.url}{path}?{urllib.parse.urlencode(params)}"
        try:
            with urllib.request.urlopen(address, timeout=10) as answer:
                return dict(json.load(answer))
        except urllib.error.HTTPError as error:  # 400 carries the parse error
            return dict(json.load(error))

    def query(self, expr: str) -> dict[str, Any]:
        return self.get("/api/v1/query", query=expr)

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
def scraped(tmp_path_factory: pytest.TempPathFactory, broker: EmbeddedBroker,
            module_database: str) -> Iterator[Prometheus]:
    """A worker fed with drifting traffic, scraped until every current query has data."""
    binary = tool("prometheus")
    tmp = tmp_path_factory.mktemp("dashboards")
    worker = Worker(tmp, broker, module_database)
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
    prometheus = Prometheus(f"http://127.0.0.1:{port}", process, log)
    try:
        worker.start()
        wait_for(prometheus.ready, 30, "prometheus to be ready")
        _feed(worker, broker, prometheus)
        current = [q for q in ALL_QUERIES if not q.pending and q.kind != "alert"]
        try:
            wait_for(lambda: all(_has_data(prometheus, q) for q in current), 60,
                     "every current query to return data")
        except AssertionError as timeout:
            empty = "\n".join(str(q) for q in current if not _has_data(prometheus, q))
            raise AssertionError(f"{timeout}; still without data:\n{empty}") from None
        yield prometheus
    finally:
        worker.stop(signal.SIGKILL)
        process.terminate()
        process.wait(30)


def _feed(worker: Worker, broker: EmbeddedBroker, prometheus: Prometheus) -> None:
    """Four windows with drift from the third and 2 % invalid events, then a late event."""
    simulator = Simulator(seed=11, start=first_event_time(), events_per_second=RATE,
                          shift_at=2 * WINDOW)
    payloads = list(simulator.payloads(4 * int(WINDOW * RATE), invalid_rate=0.02))
    topic = worker.topics["predictions"]
    asyncio.run(send_raw(broker.bootstrap, topic, [v for _, v in payloads],
                         [k for k, _ in payloads]))
    wait_for(lambda: _has_data(prometheus, Query("", "", "driftline_feature_drift", "")), 60,
             "a closed window's drift in Prometheus")
    late = dict(next(simulator.events(1)))
    late["event_id"] = "late-event"
    late["event_time"] = (first_event_time() + timedelta(seconds=1)).isoformat()
    asyncio.run(send_raw(broker.bootstrap, topic, [encode_event(late)], [b"fraud"]))


def _has_data(prometheus: Prometheus, query: Query) -> bool:
    answer = prometheus.query(substitute(query.expr, VARIABLES))
    return answer.get("status") == "success" and bool(answer["data"]["result"])


@pytest.mark.parametrize("query", ALL_QUERIES, ids=str)
def test_query_parses_reads_exported_metrics_and_returns_data(query: Query,
                                                              scraped: Prometheus) -> None:
    expr = substitute(query.expr, VARIABLES)
    answer = scraped.query(expr)
    assert answer["status"] == "success", f"{query}: {answer.get('error')}"
    if query.pending:
        pytest.skip(f"waits for pending metrics {sorted(set(query.metrics))} (PENDING_METRICS)")
    assert query.metrics, f"{query}: reads no metric"
    missing = set(query.metrics) - scraped.names() - PENDING_METRICS
    assert not missing, f"{query}: not exported by the worker: {sorted(missing)}"
    if query.kind == "alert":
        return  # an alert's expression has data only while it fires
    assert answer["data"]["result"], f"{query}: returned no data"


def test_a_query_on_an_unknown_metric_or_bad_syntax_is_caught(scraped: Prometheus) -> None:
    """The checks above can fail: a typo in a name or in the syntax is reported."""
    assert scraped.query("sum(rate(driftline_events_total[1m])")["status"] == "error"
    assert "driftline_feature_psii" not in scraped.names()
    assert not scraped.query("driftline_feature_psii")["data"]["result"]


def test_the_worker_exports_every_metric_the_dashboards_read_today(scraped: Prometheus) -> None:
    wanted = {m for q in ALL_QUERIES for m in q.metrics} - PENDING_METRICS - RECORDED
    assert wanted - scraped.names() == set()
    assert wanted >= {"driftline_late_events_total", "driftline_events_invalid_total"}
