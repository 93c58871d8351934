"""A readable text table of a drift report, for terminals."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from detectors import ColumnDrift
from detectors.catalogue import PERFORMANCE_METRICS
from streams.batch.compare import CompareResult

HEADERS = ("column", "kind", "n_ref", "n_cur", "psi", "ks / chi2", "p", "p_adj",
           "wass", "js", "severity")


def _num(value: float | None, digits: int = 3) -> str:
    if value is None:
        return "-"
    if value != 0 and abs(value) < 10 ** -digits:
        return f"{value:.1e}"
    return f"{value:.{digits}f}"


def _row(c: ColumnDrift) -> tuple[str, ...]:
    test = c.ks_statistic if c.kind == "numeric" else c.chi2_statistic
    marker = {"critical": "!! ", "warn": "!  "}.get(c.severity, "")
    kind = {"numeric": "num", "categorical": "cat"}[c.kind]
    return (c.name, kind, str(c.n_reference), str(c.n_current), _num(c.psi),
            _num(test), _num(c.pvalue), _num(c.pvalue_adjusted), _num(c.wasserstein),
            _num(c.js_distance), marker + c.severity)


def _table(rows: Iterable[tuple[str, ...]]) -> list[str]:
    body = [HEADERS, *rows]
    widths = [max(len(r[i]) for r in body) for i in range(len(HEADERS))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip()
             for r in body]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return lines


PERFORMANCE_KEYS = PERFORMANCE_METRICS


def _performance_lines(sides: dict[str, dict[str, Any] | None]) -> list[str]:
    names = [k for k in PERFORMANCE_KEYS if any(s and k in s for s in sides.values())]
    rows = [("performance", *names)]
    for side, metrics in sides.items():
        rows.append((side, *(_num((metrics or {}).get(k)) for k in names)))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
            for r in rows]


def render_table(result: CompareResult) -> str:
    r = result.report
    lines = [f"reference: {result.reference} ({r.n_reference_rows} rows)",
             f"current:   {result.current} ({r.n_current_rows} rows)", ""]
    lines += _table(_row(c) for c in (*r.features, *r.predictions, *r.targets))
    if result.performance:
        lines += ["", *_performance_lines(result.performance)]
    share = "-" if r.drift_share is None else f"{r.drift_share:.0%}"
    lines += ["", f"drifted features: {r.n_drifted} of {r.n_evaluated} ({share}); "
              f"threshold {r.policy.drift_share_threshold:.0%}"]
    if r.predictions:
        pred = {None: "insufficient data", True: "yes", False: "no"}[r.prediction_drift]
        lines.append(f"prediction drift: {pred}")
    verdict = {"drift": "DATASET DRIFT", "no_drift": "no dataset drift",
               "insufficient_data": "insufficient data"}[r.status]
    lines.append(f"verdict: {verdict}")
    notes = []
    if result.skipped:
        notes.append("not profiled: " + ", ".join(result.skipped))
    if result.missing_in_current:
        notes.append("absent from current: " + ", ".join(result.missing_in_current))
    lines += [f"note: {n}" for n in notes]
    return "\n".join(lines)
