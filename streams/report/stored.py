"""A report of one model version over a time range, from the stored windows.

Decisions:

- The verdict, the column table and the thresholds are the *newest* window's in
  the range; the page says how many windows of the range drifted.
- A stored window keeps each column's counts in its reference's bins
  (``ColumnDrift.counts``). The bars are the newest window's, beside the reference
  it was compared with, so they show what the verdict and the column table judged
  (a sum over the range would blur a shift that began inside it). Windows stored
  before the counts were kept have none: then only the reference is drawn, and
  the page says so. Beside the bars, each column's effect statistic is drawn per
  window against its thresholds, which shows when a shift began.
- The page counts the windows with dataset drift and, apart, those with at least
  one drifted column; windows without a reference (gathering one) are named as
  such, not as a reference.
- Performance is drawn per metric, realised (from the joined labels) beside the
  estimate (from the scores), with the windows whose concept-drift detectors
  fired marked.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.engine import Connection

from detectors.catalogue import PERFORMANCE_METRICS
from store.ranges import detections_between, performance_between, windows_between
from store.repository import load_reference_by_id
from store.types import iso_utc
from streams.report.model import Distribution, ReportData, Timeline, distribution

NO_CURRENT = ("The windows of the range were stored without their bin counts, so each "
              "column shows the reference's distribution and its effect statistic over "
              "the windows of the range.")


class NoWindowsError(LookupError):
    """The range holds no stored window of the model version."""


def _columns(window: dict[str, Any]) -> tuple[dict[str, Any], ...]:
    return (*window.get("features", ()), *window.get("predictions", ()),
            *window.get("targets", ()))


def _metric_series(rows: list[dict[str, Any] | None]) -> dict[str, tuple[float | None, ...]]:
    names = [k for k in PERFORMANCE_METRICS if any(r and _float(r.get(k)) is not None
                                                    for r in rows)]
    return {n: tuple(None if r is None else _float(r.get(n)) for r in rows) for n in names}


def _float(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) \
        else None


def _window_of(starts: list[datetime], ends: list[datetime], when: datetime) -> int | None:
    for i, (start, end) in enumerate(zip(starts, ends, strict=True)):
        if start <= when < end:
            return i
    return None


def _timeline(rows: list[dict[str, Any]], performance: list[dict[str, Any]],
              detections: list[dict[str, Any]]) -> Timeline:
    times = tuple(r["window_start"] for r in rows)
    by_start = {iso_utc(p["window_start"]): p for p in performance}
    realised = [by_start.get(t, {}).get("metrics") for t in times]
    estimated = [by_start.get(t, {}).get("estimate") for t in times]
    names = [c["name"] for r in rows for c in _columns(r)]
    effects = {name: tuple(next((_float(c.get("effect_value")) for c in _columns(r)
                                 if c["name"] == name), None) for r in rows)
               for name in dict.fromkeys(names)}
    starts = [datetime.fromisoformat(r["window_start"]) for r in rows]
    ends = [datetime.fromisoformat(r["window_end"]) for r in rows]
    hits = [_window_of(starts, ends, d["event_time"]) for d in detections]
    return Timeline(
        times=times, drift_share=tuple(_float(r["drift_share"]) for r in rows),
        n_events=tuple(int(r["n_events"]) for r in rows), effects=effects,
        performance=_metric_series(realised), estimate=_metric_series(estimated),
        detections=tuple({"event_time": iso_utc(d["event_time"]), "detector": d["detector"],
                          "position": d["position"], "statistic": d["statistic"]}
                         for d in detections),
        detection_windows=tuple(sorted({i for i in hits if i is not None})),
        statuses=tuple(str(r["status"]) for r in rows))


def from_store(conn: Connection, model_id: str, model_version: str,
               since: datetime | None = None, until: datetime | None = None) -> ReportData:
    """The page's data of a model version's windows that start in ``[since, until)``."""
    rows = windows_between(conn, model_id, model_version, since, until)
    if not rows:
        raise NoWindowsError(f"no stored window of model {model_id!r} version "
                        f"{model_version!r} in {_span(since, until)}")
    newest = rows[-1]
    drawings: dict[str, Distribution] = {}
    reference = None
    if newest["reference_id"] is not None:
        reference = load_reference_by_id(conn, int(newest["reference_id"]))
    current = {c["name"]: c.get("counts") for c in _columns(newest)}
    if reference is not None:
        drawings = {c.name: distribution(c, current.get(c.name))
                    for c in reference.profile.columns}
    timeline = _timeline(rows, performance_between(conn, model_id, model_version, since, until),
                         detections_between(conn, model_id, model_version, since, until))
    drifted = sum(1 for r in rows if r["status"] == "drift")
    with_columns = sum(1 for r in rows if any(c.get("drifted") for c in _columns(r)))
    references = sorted({str(r["reference_id"]) for r in rows if r["reference_id"] is not None})
    unreferenced = sum(1 for r in rows if r["reference_id"] is None)
    facts = [("model", model_id), ("model version", model_version or "(none)"),
             ("range", _span(since, until)),
             ("windows", f"{len(rows)}, from {rows[0]['window_start']} to "
                         f"{newest['window_end']}"),
             ("events", str(sum(int(r["n_events"]) for r in rows))),
             ("late events", str(sum(int(r["n_late"]) for r in rows))),
             ("reference", "none stored" if reference is None else
              f"id {reference.id} ({reference.source}, version "
              f"{reference.model_version or 'any'}, {reference.profile.n_rows} rows, saved "
              f"{iso_utc(reference.created_at)})"),
             ("newest window", f"{newest['window_start']} to {newest['window_end']}, "
                               f"{newest['n_events']} events")]
    notes = [f"Verdict, columns and bars of the newest window. Of the {len(rows)} windows "
             f"in the range, {drifted} had dataset drift and {with_columns} at least one "
             f"drifted column."]
    if not any(current.values()):
        notes.append(NO_CURRENT)
    if len(references) > 1:
        notes.append(f"The range spans {len(references)} references (ids "
                     f"{', '.join(references)}); the bars show the newest window's.")
    if unreferenced:
        notes.append(f"{unreferenced} of the windows had no reference yet (it was being "
                     f"gathered from the first windows' events).")
    return ReportData(
        title=f"Drift report: {model_id} version {model_version or '(none)'}",
        verdict=newest, columns=_columns(newest), distributions=drawings,
        facts=tuple(facts), settings=dict(newest.get("policy") or {}),
        timeline=timeline, notes=tuple(notes))


def _span(since: datetime | None, until: datetime | None) -> str:
    start = "the beginning" if since is None else iso_utc(since)
    end = "now" if until is None else iso_utc(until)
    return f"{start} to {end}"
