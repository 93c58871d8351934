"""Outages of the database and of the broker: visible on ``/readyz``, short, quiet in the log,
and nothing lost (``streams.runtime.health``, ``streams.runtime.logfloods``,
``streams.transport.consuming.retrying``).

The database is reached through a TCP proxy (``tests.tcp_proxy``) that is switched to a
blackhole mid-stream: connections accepted, never answered. The broker is one of the test's
own, stopped and started again (it comes back empty, as in ``test_offset_reset``).
"""

from __future__ import annotations

import json
import signal
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from streams.devtools.broker import EmbeddedBroker, free_port
from streams.devtools.simulator import Simulator
from streams.transport.topics import ensure_topics
from tests.integration.event_stream import first_event_time, produce
from tests.integration.stored import stored_windows
from tests.integration.worker_harness import RATE, WINDOW, Worker, wait_for
from tests.tcp_proxy import TcpProxy

pytestmark = pytest.mark.integration
PASSWORD = "outage-s3cret-pw"  # trust auth ignores it; it must never reach the log
OUTAGE = 30.0  # seconds each outage lasts
CONNECT_TIMEOUT = 3  # seconds: the proxied URL's connect_timeout (the default is 10 s)


def answer(worker: Worker, path: str) -> tuple[int, dict[str, Any], float]:
    """(status, JSON body, seconds it took) of ``path``; status 0 when nothing answered."""
    started = time.monotonic()
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{worker.port}{path}",
                                    timeout=5) as reply:
            status, raw = int(reply.status), reply.read()
    except urllib.error.HTTPError as error:
        status, raw = int(error.code), error.read()
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return 0, {}, time.monotonic() - started
    return status, json.loads(raw or b"{}"), time.monotonic() - started


def log_lines(worker: Worker, start: int = 0) -> list[str]:
    """The worker's log lines from byte ``start`` on."""
    with worker.log.open("rb") as log:
        log.seek(start)
        return log.read().decode("utf-8", "replace").splitlines()


def tail(worker: Worker) -> str:
    return "\n".join(line[:300] for line in log_lines(worker)[-80:])


def total_stored(database_url: str) -> int:
    return sum(int(w["n_events"]) for w in stored_windows(database_url))


def reason_is(worker: Worker, status: int, words: str) -> bool:
    code, body, _ = answer(worker, "/readyz")
    return code == status and any(words in problem for problem in body.get("problems", []))


def events_for(windows: int, seed: int) -> list[dict[str, Any]]:
    return list(Simulator(seed=seed, start=first_event_time(), events_per_second=RATE)
                .events(windows * int(WINDOW * RATE)))


@pytest.fixture
def database_proxy(database_url: str) -> Iterator[TcpProxy]:
    url = make_url(database_url)
    with TcpProxy(url.host or "127.0.0.1", url.port or 5432) as proxy:
        yield proxy


def proxied(database_url: str, proxy: TcpProxy) -> str:
    """``database_url`` through ``proxy``, with a password and a short connect timeout."""
    url = make_url(database_url).set(host="127.0.0.1", port=proxy.port, password=PASSWORD)
    url = url.update_query_dict({"connect_timeout": str(CONNECT_TIMEOUT)})
    return url.render_as_string(hide_password=False)


def test_a_database_outage_is_unready_quiet_and_loses_nothing(
        tmp_path: Path, broker: EmbeddedBroker, database_url: str,
        database_proxy: TcpProxy) -> None:
    worker = Worker(tmp_path, broker, proxied(database_url, database_proxy))
    events = events_for(6, seed=11)
    before, during = events[:2 * int(WINDOW * RATE)], events[2 * int(WINDOW * RATE):]
    outage: dict[str, Any] = {}
    try:
        worker.start()
        produce(broker.bootstrap, worker.topics["predictions"], before)
        wait_for(lambda: total_stored(database_url) == len(before), 120,
                 "the events before the outage to be stored")
        start = worker.log.stat().st_size
        database_proxy.blackhole()
        went = time.monotonic()
        produce(broker.bootstrap, worker.topics["predictions"], during)
        wait_for(lambda: reason_is(worker, 503, "database unreachable"), 60,
                 "/readyz to say the database is unreachable")
        outage["unready_after"] = time.monotonic() - went
        slowest_health = 0.0
        while time.monotonic() - went < OUTAGE:
            status, body, seconds = answer(worker, "/healthz")
            assert status == 200, body  # waiting for the database is not being stuck
            slowest_health = max(slowest_health, seconds)
            assert reason_is(worker, 503, "database unreachable")
            time.sleep(1)
        assert slowest_health < 3.0
        assert worker.metric("driftline_ready") == 0
        database_proxy.forward()
        back = time.monotonic()
        wait_for(lambda: answer(worker, "/readyz")[0] == 200, 60, "/readyz to answer 200 again")
        outage["ready_after_return"] = time.monotonic() - back
        lines = log_lines(worker, start)
        wait_for(lambda: total_stored(database_url) == len(events), 120,
                 "every event to be stored")
    except AssertionError as failure:
        raise AssertionError(f"{failure}\nworker log:\n{tail(worker)}") from None
    finally:
        worker.stop(signal.SIGKILL)
    print(f"database outage: unready {outage['unready_after']:.1f} s after it began, ready "
          f"{outage['ready_after_return']:.1f} s after the database returned, "
          f"{len(lines)} log lines during it")
    retries = [line for line in lines if "storing windows failed" in line]
    assert retries, "\n".join(lines[-40:])
    assert all("attempt" in line for line in retries)
    assert len(retries) <= 12  # a 30 s outage: the first five attempts, then one per 30 s
    assert len(lines) < 100
    assert any("storing windows succeeded after" in line for line in lines)
    assert PASSWORD not in worker.log.read_text(encoding="utf-8", errors="replace")
    # Back within seconds: one connect timeout and one backoff at most, with margin for load.
    assert outage["ready_after_return"] < CONNECT_TIMEOUT + 4 + 15
    stored = stored_windows(database_url)
    assert sum(w["n_events"] for w in stored) == len(events)  # every event counted once


@pytest.fixture
def own_broker() -> Iterator[EmbeddedBroker]:
    """A broker of this test alone, on a port it can be started on again."""
    with EmbeddedBroker(port=free_port()) as running:
        yield running


def test_a_broker_outage_is_unready_and_its_log_flood_is_bounded(
        tmp_path: Path, own_broker: EmbeddedBroker, database_url: str) -> None:
    worker = Worker(tmp_path, own_broker, database_url, partitions=1)
    events = events_for(2, seed=12)
    figures: dict[str, float] = {}
    try:
        worker.start()
        produce(own_broker.bootstrap, worker.topics["predictions"], events)
        wait_for(lambda: total_stored(database_url) == len(events), 120,
                 "the events to be stored")
        start = worker.log.stat().st_size
        own_broker.stop()
        went = time.monotonic()
        wait_for(lambda: reason_is(worker, 503, "broker unreachable"), 60,
                 "/readyz to say the broker is unreachable")
        figures["unready_after"] = time.monotonic() - went
        while time.monotonic() - went < OUTAGE:
            status, body, seconds = answer(worker, "/healthz")
            assert (status, seconds < 3.0) == (200, True), body
            assert reason_is(worker, 503, "broker unreachable")
            time.sleep(1)
        figures["outage"] = time.monotonic() - went
        outage_lines = log_lines(worker, start)
        own_broker.start()  # in memory: it comes back with no topics
        ensure_topics(own_broker.bootstrap, dict.fromkeys(worker.topics.values(), 1))
        back = time.monotonic()
        wait_for(lambda: answer(worker, "/readyz")[0] == 200, 120,
                 "/readyz to answer 200 again")
        figures["ready_after_return"] = time.monotonic() - back
        wait_for(lambda: any("broker reachable again" in line
                             for line in log_lines(worker, start)), 30,
                 "the broker_reachable line")
    except AssertionError as failure:
        raise AssertionError(f"{failure}\nworker log:\n{tail(worker)}") from None
    finally:
        worker.stop(signal.SIGKILL)
    lines = log_lines(worker, start)
    (reachable,) = [line for line in lines if "broker reachable again" in line]
    suppressed = int(reachable.split("(")[1].split()[0])
    written = len(outage_lines) / figures["outage"]
    print(f"broker outage: unready {figures['unready_after']:.1f} s after it began, ready "
          f"{figures['ready_after_return']:.1f} s after it returned; "
          f"{written:.2f} lines/s written, "
          f"{(len(outage_lines) + suppressed) / figures['outage']:.1f} lines/s without the "
          f"flood filter ({suppressed} suppressed)")
    assert any("broker unreachable" in line for line in outage_lines)
    assert written < 5, "\n".join(outage_lines[-60:])  # about 400 a second unfiltered
    assert figures["ready_after_return"] < 60
