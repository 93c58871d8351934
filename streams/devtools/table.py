"""The demo's live table and its closing summary, read from the database.

A window's row is printed once its drift verdict is stored, its labels had time
to arrive (``settle`` seconds of event time after its end, as sent by the
simulator) and 95 % of the expected share of them is stored (or three times
``settle`` passed). So each row shows the drift verdict beside the window's
realised performance, the estimate made before the labels came, the label
coverage and any concept-drift detection that fell in it. Rows trail the
stream by a few windows; the rest are printed at the end.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import click
from sqlalchemy import Engine

from store import repository
from store.performance import list_detections, list_performance

HEADER = ("window       events  share  verdict        accuracy  estimate  labels  "
          "concept drift       drifted features")


@dataclass
class Table:
    """What has been printed, and what the summary needs."""

    model: str
    settle: timedelta
    label_share: float = 1.0
    seen: set[str] = field(default_factory=set)
    drift_began: str | None = None
    drifted: dict[str, str] = field(default_factory=dict)
    accuracy: list[tuple[datetime, float]] = field(default_factory=list)
    detections: list[dict[str, Any]] = field(default_factory=list)


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def _number(value: Any) -> str:
    return "-" if value is None else f"{float(value):.3f}"


def print_rows(table: Table, engine: Engine, sent_until: datetime | None,
               final: bool = False) -> None:
    """Print the windows that are due (all of them when ``final``)."""
    with engine.connect() as conn:
        windows = repository.list_windows(conn, table.model)
        performance = {(p["model_version"], p["window_start"]): p
                       for p in list_performance(conn, table.model)}
        detections = list_detections(conn, table.model)
    for row in windows:
        key = f"{row['model_version']}@{row['window_start']}"
        start, end = _time(row["window_start"]), _time(row["window_end"])
        perf = performance.get((row["model_version"], start)) or {}
        if key in table.seen or not (final or _due(table, end, sent_until, perf)):
            continue
        table.seen.add(key)
        drifted = {f["name"]: f["severity"] for f in row["features"] + row["predictions"]
                   if f["drifted"]}
        if drifted and table.drift_began is None and len(table.seen) > 1:
            table.drift_began = row["window_start"]
        for name, severity in drifted.items():
            table.drifted.setdefault(name, severity)
        metrics, estimate = perf.get("metrics") or {}, perf.get("estimate") or {}
        if metrics.get("accuracy") is not None:
            table.accuracy.append((start, float(metrics["accuracy"])))
        found = [d for d in detections if d["model_version"] == row["model_version"]
                 and start <= d["event_time"] < end]
        table.detections += found
        concept = f"DETECTED ({found[0]['detector']})" if found else "-"
        share = "-" if row["drift_share"] is None else f"{row['drift_share']:.0%}"
        names = ", ".join(f"{n} ({s})" for n, s in drifted.items()) or "-"
        if row.get("reference_source") == "gathering":
            names = "(gathering the reference)"
        elif len(table.seen) == 1:
            names = "(the reference window)"
        status = {"drift": "DATASET DRIFT", "insufficient_data": "insufficient data"}.get(
            row["status"], "feature drift" if drifted else "ok")
        click.echo(f"{row['window_start'][11:16]}-{row['window_end'][11:16]}  "
                   f"{row['n_events']:>6}  {share:>5}  {status:<14} "
                   f"{_number(metrics.get('accuracy')):>8}  "
                   f"{_number(estimate.get('accuracy')):>8}  "
                   f"{_percent(perf.get('label_coverage')):>6}  {concept:<18}  {names}")


def _due(table: Table, end: datetime, sent_until: datetime | None,
         perf: dict[str, Any]) -> bool:
    """Labels had time to come and most of them are in (or the wait has been long)."""
    if sent_until is None or end + table.settle > sent_until:
        return False
    coverage = perf.get("label_coverage") or 0.0
    return coverage >= 0.95 * table.label_share or end + 3 * table.settle <= sent_until


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def concept_summary(table: Table, concept_time: datetime | None) -> bool:
    """Print what the labels showed; True when the concept change was found, and only after it."""
    if concept_time is None:
        return True
    before = _mean([a for start, a in table.accuracy if start < concept_time])
    after = _mean([a for start, a in table.accuracy if start >= concept_time])
    click.echo(f"concept change injected at event time {concept_time:%Y-%m-%d %H:%M} "
               "(the labels change, the inputs do not)")
    early = [d for d in table.detections if d["event_time"] < concept_time]
    late = [d for d in table.detections if d["event_time"] >= concept_time]
    if late:
        first = late[0]
        click.echo(f"concept drift detected by {first['detector']} at event time "
                   f"{first['event_time']:%H:%M:%S} (error stream position {first['position']})")
    else:
        click.echo("concept drift: NOT DETECTED")
    if table.detections:
        click.echo("detections (error stream position @ event time): " + ", ".join(
            f"{d['position']} @ {d['event_time']:%H:%M:%S}" for d in table.detections))
    if early:
        click.echo(f"FALSE ALARMS: {len(early)} concept-drift detection(s) before the change")
    click.echo(f"accuracy: {_number(before)} before the change, {_number(after)} after")
    dropped = before is not None and after is not None and after < before
    return bool(late) and not early and dropped
