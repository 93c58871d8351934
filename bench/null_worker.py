"""The false-alarm budget measured on long seeded null streams through a real worker.

For each window size (``--sizes``, default 100, 1,000, 10,000 and 100,000 events a
window) a fresh run: the embedded broker, a fresh SQLite database and one
``python -m streams.cli.main worker --config FILE`` process, as an operator would run
it. Several models (each a stream of its own, so each with a reference of its own)
send windows of healthy events: a normal, a lognormal (skewed), a Student-t with 3
degrees of freedom (heavy-tailed), a Poisson (discrete) and a categorical feature,
all drawn from one seeded distribution for the whole stream. One event a window
later closes each model's last window. The script polls the store until every window
is stored, then counts the flagged ones (a window is flagged when any column
drifted, what an alert rule fires on).

The default budget (1 false alarm per 30 days, alpha 1.16e-4 at 5-minute windows) is
too small to measure in minutes, so the models take ``false_alarms: 1`` per
``window x 1 / alpha`` (alpha 0.1 by default, ``--alpha``) at 10-second windows:
the same calibration (``alpha = false_alarms x window.size /
false_alarm_period``, Bonferroni across the columns, tests whose null accounts
for both sample sizes) at a larger alpha. Everything else is the default policy:
``min_reference_rows`` 10,000, so the reference is gathered across the first
windows of each model; those windows (status ``insufficient_data``,
``reference_source`` ``gathering``) and the window that completes the reference
(its own rows are in it) are not judged and not counted.

Prints, per size: windows judged, flagged windows, rate, alpha, rate / alpha and
the one-sided 95 % Clopper–Pearson upper bound of the rate. Every window of a
model shares that model's reference, so windows of one model are not
independent; the bound treats them as if they were (it is narrower than the
truth), which is why each size runs several models. Exit status 1 when a rate
exceeds twice its alpha.

Each size runs twice (``--gate both``): with the default policy, where a column also
needs an effect that reaches its ``warn`` threshold (Wasserstein 0.1 σ, Hellinger
0.05), and with that effect gate off (``warn`` 1e-9), where the test alone decides.
The first is what an operator gets; the effect gate silences healthy windows from
about 1,000 events on, so it alone cannot show whether the test is calibrated. The
second measures the test's calibration: its rate should be near, and below twice,
alpha at every size.

Run: ``.venv/bin/python bench/null_worker.py [--sizes 100,1000] [--alpha 0.1]
[--seed 1] [--gate both|on|off]`` (``make bench-null-worker``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats
from soak_workers import WorkerProcess
from sqlalchemy import text

from store import repository
from store.engine import make_engine
from streams.devtools.broker import EmbeddedBroker, free_port
from streams.transport.producer import encode_event, send_routed
from streams.transport.topics import ensure_topics

WINDOW_S = 10  # seconds of event time a window
# The effect gate off: a column drifts on its test alone (Wasserstein and Hellinger warn
# 1e-9, the smallest the settings take being above 0).
NO_GATE = ", wasserstein: {warn: 0.000000001}, hellinger: {warn: 0.000000001}"

MIN_REFERENCE_ROWS = 10_000  # the default: the reference is gathered up to this many events
CATEGORIES = ["a", "b", "c", "d", "e"]
SHARES = [0.4, 0.2, 0.2, 0.1, 0.1]
READY_TIMEOUT_S = 120.0
CONFIG = """\
topics: {{predictions: {prefix}.predictions, labels: {prefix}.labels,
         deadletter: {prefix}.deadletter, retrain: {prefix}.retrain, join: {prefix}.join,
         outcomes: {prefix}.outcomes, partitions: 1}}
worker: {{group_id: {prefix}, web_port: {port}, checkpoint_interval: 2s}}
models:
  default:
    window: {{size: {window}s, grace: 5s, idle_timeout: 3600s}}
    thresholds: {{false_alarms: 1, false_alarm_period: {period}s{gate}}}
"""


@dataclass(frozen=True)
class Plan:
    """One size's run: ``models`` streams of ``judged`` counted windows each."""

    size: int  # events a window
    models: int
    judged: int

    @property
    def gathering(self) -> int:
        """Windows a model sends before its first counted one: the windows that gather
        the reference, including the one that completes it."""
        return -(-MIN_REFERENCE_ROWS // self.size)

    @property
    def windows(self) -> int:
        return self.gathering + self.judged


# Enough windows for a bound that means something, within minutes on two cores:
# several models a size, so that the luck of one reference does not make the rate.
PLANS = {100: Plan(100, 4, 100), 1_000: Plan(1_000, 4, 40), 10_000: Plan(10_000, 10, 10),
         100_000: Plan(100_000, 6, 5)}
_STARTED = time.monotonic()


def say(message: str) -> None:
    print(f"null-worker [{time.monotonic() - _STARTED:5.0f} s]: {message}", flush=True)


def window_events(rng: np.random.Generator, model: str, start: datetime, size: int,
                  first_id: int) -> Iterator[bytes]:
    """One window of ``size`` healthy events of ``model``, evenly spread from ``start``."""
    normal = rng.normal(0.0, 1.0, size)
    skewed = rng.lognormal(0.0, 1.0, size)
    heavy = rng.standard_t(3, size)
    discrete = rng.poisson(3.0, size)
    category = rng.choice(len(CATEGORIES), size=size, p=SHARES)
    step = WINDOW_S / size
    for i in range(size):
        moment = start + timedelta(seconds=i * step)
        yield encode_event({
            "event_id": f"{model}-{first_id + i}", "model_id": model, "model_version": "1",
            "event_time": moment.isoformat(),
            "features": {"normal": float(normal[i]), "skewed": float(skewed[i]),
                         "heavy": float(heavy[i]), "discrete": int(discrete[i]),
                         "category": CATEGORIES[category[i]]}})


def stream(plan: Plan, topic: str, start: datetime, seed: int
           ) -> Iterator[tuple[str, bytes, bytes]]:
    """Every model's windows, window by window, then one closing event per model."""
    models = [f"null{k}" for k in range(plan.models)]
    rngs = {m: np.random.default_rng([seed, plan.size, k]) for k, m in enumerate(models)}
    for w in range(plan.windows):
        begin = start + timedelta(seconds=w * WINDOW_S)
        for m in models:
            for value in window_events(rngs[m], m, begin, plan.size, w * plan.size):
                yield topic, m.encode(), value
    closing = start + timedelta(seconds=(plan.windows + 1) * WINDOW_S + WINDOW_S / 2)
    for m in models:
        yield topic, m.encode(), encode_event({
            "event_id": f"{m}-closer", "model_id": m, "model_version": "1",
            "event_time": closing.isoformat(), "features": {"normal": 0.0}})


def stored(url: str) -> dict[str, int]:
    """Windows stored per model so far."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text(
                "SELECT model_id, count(*) FROM windows GROUP BY model_id")).all()
    except Exception:  # the worker has not made the tables yet
        return {}
    finally:
        engine.dispose()
    return {str(model): int(count) for model, count in rows}


def windows_of(url: str, models: list[str]) -> dict[str, list[dict[str, Any]]]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return {m: repository.list_windows(conn, m) for m in models}
    finally:
        engine.dispose()


def wait_for(condition: Callable[[], bool], timeout: float, what: str,
             worker: WorkerProcess) -> None:
    """Poll ``condition`` until it holds; fail, with the end of the worker's log, after
    ``timeout`` s or when the worker died."""
    deadline = time.monotonic() + timeout
    while not condition():
        if not worker.alive() or time.monotonic() > deadline:
            tail = worker.log.read_text(errors="replace")[-3000:]
            why = "the worker exited" if not worker.alive() else f"timed out after {timeout:.0f} s"
            raise SystemExit(f"{why} while waiting for {what}; its log ends:\n{tail}")
        time.sleep(0.5)


@dataclass(frozen=True)
class Result:
    gate: bool
    size: int
    judged: int
    flagged: int
    alpha: float

    @property
    def rate(self) -> float:
        return self.flagged / self.judged

    @property
    def upper(self) -> float:
        """One-sided 95 % Clopper–Pearson upper bound of the rate."""
        if self.flagged >= self.judged:
            return 1.0
        return float(stats.beta.ppf(0.95, self.flagged + 1, self.judged - self.flagged))


def judge(plan: Plan, found: dict[str, list[dict[str, Any]]], alpha: float,
          gate: bool) -> Result:
    """Count the flagged windows among those judged against a complete reference.

    Fails when the store is not what was sent: a window short of events, gathering
    windows that are not ``insufficient_data``, a reference of the wrong size, an alpha
    other than the budget's.
    """
    judged = flagged = 0
    for model, windows in found.items():
        sizes = [w["n_events"] for w in windows[:plan.windows]]
        if sizes != [plan.size] * plan.windows:
            raise SystemExit(f"{model}: windows of {sorted(set(sizes))} events, "
                             f"{len(sizes)} windows")
        gathering, counted = windows[:plan.gathering - 1], windows[plan.gathering:plan.windows]
        if not all(w["status"] == "insufficient_data" and w["reference_source"] == "gathering"
                   for w in gathering):
            raise SystemExit(f"{model}: a window before the reference was judged")
        for w in counted:
            if w["reference_source"] == "gathering" or w["reference_id"] is None:
                raise SystemExit(f"{model}: a counted window has no reference")
            features = w["features"]
            expected = plan.gathering * plan.size
            if {f["name"] for f in features} != {"normal", "skewed", "heavy", "discrete",
                                                   "category"}:
                raise SystemExit(f"{model}: columns {[f['name'] for f in features]}")
            if any(f["n_reference"] != expected for f in features):
                raise SystemExit(f"{model}: a reference of other than {expected} rows")
            if any(abs(f["alpha"] - alpha) > 1e-9 * alpha for f in features):
                raise SystemExit(f"{model}: alpha {features[0]['alpha']}, not {alpha}")
            judged += 1
            flagged += any(f["drifted"] for f in features)
    return Result(gate, plan.size, judged, flagged, alpha)


def run(plan: Plan, alpha: float, seed: int, workdir: Path, gate: bool) -> Result:
    """One size: broker, worker, stream, store; the counted result. ``gate``: whether
    the effect must also reach its ``warn`` threshold (the default policy) or not."""
    prefix = f"null{plan.size}x{uuid.uuid4().hex[:6]}"
    port = free_port()
    config = workdir / f"{prefix}.yaml"
    period = WINDOW_S / alpha
    config.write_text(CONFIG.format(prefix=prefix, port=port, window=WINDOW_S,
                                    period=f"{period:g}", gate="" if gate else NO_GATE),
                      encoding="utf-8")
    url = f"sqlite:///{workdir / prefix}.db"
    models = [f"null{k}" for k in range(plan.models)]
    # The last closing event lies half a window before now (events from the future wait).
    span = (plan.windows + 2) * WINDOW_S
    begin = time.time() - span
    start = datetime.fromtimestamp(begin - begin % WINDOW_S, UTC)  # on a window's start
    with EmbeddedBroker(port=free_port()) as broker:
        topics = {kind: f"{prefix}.{kind}" for kind in
                  ("predictions", "labels", "deadletter", "retrain", "join", "outcomes")}
        ensure_topics(broker.bootstrap, dict.fromkeys(topics.values(), 1))
        env = {**os.environ, "DRIFTLINE_BROKER_URL": broker.url, "DRIFTLINE_DATABASE_URL": url}
        worker = WorkerProcess(prefix, config, env, port, workdir)
        worker.start()
        try:
            wait_for(worker.ready, READY_TIMEOUT_S, "the worker to be ready", worker)
            events = plan.models * (plan.windows * plan.size + 1)
            say(f"{plan.size} events a window: {plan.models} models x {plan.windows} windows "
                f"({plan.gathering} gathering), {events:,} events")
            sent = asyncio.run(send_routed(broker.bootstrap,
                                           stream(plan, topics["predictions"], start, seed)))
            if sent != events:
                raise SystemExit(f"the broker acknowledged {sent} of {events} events")
            say(f"sent {sent:,} events; waiting for {plan.models * plan.windows} windows")
            wait_for(lambda: all(stored(url).get(m, 0) >= plan.windows for m in models),
                     1800.0, "the windows to be stored", worker)
        finally:
            worker.stop(signal.SIGTERM)
    result = judge(plan, windows_of(url, models), alpha, gate)
    say(f"{plan.size} events a window, effect gate {'on' if gate else 'off'}: "
        f"{result.flagged} of {result.judged} flagged")
    return result


def table(results: list[Result]) -> str:
    lines = ["| effect gate | events a window | windows judged | flagged | rate | alpha "
             "| rate / alpha | 95 % upper bound |", "|---|---|---|---|---|---|---|---|"]
    for r in results:
        lines.append(f"| {'on' if r.gate else 'off'} | {r.size:,} | {r.judged} | {r.flagged} "
                     f"| {r.rate:.3f} | {r.alpha:.3f} | {r.rate / r.alpha:.2f} "
                     f"| {r.upper:.3f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,1000,10000,100000",
                        help="events a window, comma-separated, among "
                             f"{', '.join(map(str, PLANS))}")
    parser.add_argument("--alpha", type=float, default=0.1,
                        help="the budget a window (false_alarms 1 per window / alpha)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--gate", choices=("on", "off", "both"), default="both",
                        help="the effect gate: as by default (on), off (the test alone), both")
    args = parser.parse_args()
    plans = [PLANS[int(s)] for s in args.sizes.split(",")]
    gates = {"on": [True], "off": [False], "both": [True, False]}[args.gate]
    results = []
    with tempfile.TemporaryDirectory(prefix="null-worker-") as tmp:
        for gate in gates:
            for plan in plans:
                results.append(run(plan, args.alpha, args.seed, Path(tmp), gate))
    print(table(results))
    over = [r for r in results if r.rate > 2 * r.alpha]
    if over:
        print("rate above twice the budget at " + ", ".join(f"{r.size:,}" for r in over))
        sys.exit(1)


if __name__ == "__main__":
    main()
