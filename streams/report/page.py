"""The report as one HTML document: inline CSS and inline SVG, no script, no URL.

Decisions:

- The page needs nothing from a network and runs no JavaScript: it opens the same
  from a mail attachment, an artifact store or a file on disk.
- All data-born text is escaped by ``streams.report.svg.text``; links are only to
  anchors of the page (``#col-N``, numbered, so a name never becomes an id).
- Columns are listed worst first (critical, warn, none, insufficient data), then
  in their order in the data.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from detectors.catalogue import PERFORMANCE_METRICS
from streams.report.model import Distribution, ReportData, Timeline
from streams.report.svg import bars, lines, marks, number, text

SEVERITY_ORDER = {"critical": 0, "warn": 1, "none": 2, "insufficient_data": 3}
VERDICTS = {"drift": "Dataset drift", "no_drift": "No dataset drift",
            "insufficient_data": "Insufficient data"}
STATISTICS = ("psi", "ks_statistic", "ks_pvalue", "chi2_statistic", "chi2_pvalue",
              "wasserstein", "js_distance", "hellinger", "unseen_rate", "pvalue",
              "pvalue_adjusted", "missing_rate", "reference_missing_rate")

CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;
color:#1d2330;background:#f6f7f9}
main{max-width:1180px;margin:0 auto;padding:20px 28px 60px}
h1{font-size:22px;margin:8px 0 4px}h2{font-size:18px;margin:28px 0 8px;
border-bottom:1px solid #d5d9e0;padding-bottom:4px}h3{font-size:15px;margin:0 0 6px;
word-break:break-all}
.sub{color:#5b6475}
.verdict{display:inline-block;padding:6px 14px;border-radius:6px;font-weight:600;
font-size:16px;margin:10px 0}
.v-drift{background:#fde2e1;color:#9b1c1c}.v-no_drift{background:#dff3e4;color:#1d6b34}
.v-insufficient_data{background:#eceff3;color:#4a5262}
table{border-collapse:collapse;margin:6px 0 12px;background:#fff}
th,td{border:1px solid #dde1e7;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#eef1f5;font-weight:600}td.n{text-align:right;font-variant-numeric:tabular-nums}
.sev{font-weight:600;border-radius:4px;padding:0 6px}
.s-critical{background:#fde2e1;color:#9b1c1c}.s-warn{background:#fff1d6;color:#8a5300}
.s-none{background:#dff3e4;color:#1d6b34}.s-insufficient_data{background:#eceff3;color:#4a5262}
.col{background:#fff;border:1px solid #dde1e7;border-radius:8px;padding:12px 14px;
margin:12px 0;display:flex;gap:18px;flex-wrap:wrap}
.col table{font-size:13px}
.chart{display:block;background:#fff}
.chart .grid{stroke:#e3e6eb;stroke-width:1}
.chart .axis{font-size:10px;fill:#5b6475}
.chart rect.ref{fill:#8aa4c8}.chart rect.cur{fill:#e8833a}
.chart polyline{fill:none;stroke-width:1.8}
.chart .ref,.chart .effect{stroke:#3367b0}.chart .cur,.chart .estimate{stroke:#e8833a}
.chart .share{stroke:#7a4fb5}.chart .realised{stroke:#1d6b34}
.chart circle{fill:#3367b0}
.chart .warn{stroke:#d9a21b;stroke-dasharray:5 3}.chart .crit{stroke:#c53030;
stroke-dasharray:5 3}
.key{display:inline-block;width:10px;height:10px;margin:0 4px 0 10px}
.k-ref{background:#8aa4c8}.k-cur{background:#e8833a}
.note{color:#5b6475;font-size:13px}
pre{background:#fff;border:1px solid #dde1e7;padding:8px;overflow:auto;font-size:12px}
"""


def _table(head: Iterable[str], rows: Iterable[Iterable[str]], numeric_from: int = 1) -> str:
    header = "".join(f"<th>{text(h)}</th>" for h in head)
    body = "".join(
        "<tr>" + "".join(f'<td class="n">{c}</td>' if i >= numeric_from else f"<td>{c}</td>"
                         for i, c in enumerate(row)) + "</tr>" for row in rows)
    return f"<table><thead><tr>{header}</tr></thead><tbody>{body}</tbody></table>"


def _pairs(rows: Iterable[tuple[str, str]]) -> str:
    """A two-column table of names and values, without a header row."""
    body = "".join(f'<tr><th>{k}</th><td class="n">{v}</td></tr>' for k, v in rows)
    return f"<table><tbody>{body}</tbody></table>"


def _severity(value: str) -> str:
    return f'<span class="sev s-{text(value)}">{text(value.replace("_", " "))}</span>'


def _ordered(columns: Iterable[dict[str, Any]]) -> list[tuple[int, dict[str, Any]]]:
    items = list(enumerate(columns))
    return sorted(items, key=lambda item: (SEVERITY_ORDER.get(item[1]["severity"], 9),
                                           item[0]))


def _summary(data: ReportData) -> str:
    v = data.verdict
    status = str(v.get("status", "insufficient_data"))
    share = v.get("drift_share")
    rows = [
        ("drifted features", f"{v.get('n_drifted', 0)} of {v.get('n_evaluated', 0)}"),
        ("drift share", "-" if share is None else f"{share:.0%}"),
        ("dataset drift at", f"{data.settings.get('drift_share_threshold', 0.5):.0%}"),
        ("prediction drift", {None: "-", True: "yes", False: "no"}[v.get("prediction_drift")]),
    ]
    return (f'<div class="verdict v-{text(status)}">{text(VERDICTS.get(status, status))}'
            f"</div>" + _pairs((text(k), text(val)) for k, val in rows))


def _overview(columns: list[tuple[int, dict[str, Any]]]) -> str:
    rows = []
    for i, c in columns:
        rows.append((f'<a href="#col-{i}">{text(c["name"])}</a>', text(c["kind"]),
                     text(c["role"]), _severity(c["severity"]),
                     text(f"{c['effect_statistic']} {number(c.get('effect_value'))}"),
                     text(number(c.get("pvalue_adjusted"))), str(c["n_reference"]),
                     str(c["n_current"])))
    return _table(("column", "kind", "role", "severity", "effect", "p adjusted",
                   "n reference", "n current"), rows, numeric_from=4)


def _distribution_chart(name: str, dist: Distribution) -> str:
    keys = '<span class="key k-ref"></span>reference'
    if dist.current is not None:
        keys += '<span class="key k-cur"></span>current'
    return (f'<div><div class="note">{keys}</div>'
            + bars(dist.labels, dist.reference, dist.current, f"distribution of {name}")
            + "</div>")


def _column(i: int, c: dict[str, Any], data: ReportData) -> str:
    name = str(c["name"])
    parts = [f'<section class="col" id="col-{i}"><div><h3 class="name">{text(name)}</h3>'
             f'<div class="sub">{text(c["kind"])} {text(c["role"])} '
             f'{_severity(c["severity"])}</div>']
    stats = [(text(k), text(number(c[k]))) for k in STATISTICS if c.get(k) is not None]
    stats.append(("effect", text(f"{c['effect_statistic']} {number(c.get('effect_value'))}")))
    stats.append(("thresholds", text(f"warn {number(c.get('warn_threshold'))}, critical "
                                     f"{number(c.get('critical_threshold'))}")))
    stats.append(("alpha", text(number(c.get("alpha"), 6))))
    stats.append(("sizes", text(f"{c['n_reference']} reference, {c['n_current']} current, "
                                f"{c['n_missing']} missing")))
    if c.get("unseen_categories"):
        stats.append(("unseen", text(", ".join(map(str, c["unseen_categories"])))))
    parts.append(_table(("statistic", "value"), stats) + "</div>")
    dist = data.distributions.get(name)
    if dist is not None:
        parts.append(_distribution_chart(name, dist))
    timeline = data.timeline
    if timeline is not None and name in timeline.effects and len(timeline.times) > 1:
        levels = [("warn", "warn", float(c["warn_threshold"])),
                  ("crit", "critical", float(c["critical_threshold"]))]
        parts.append("<div>" + lines(timeline.times, [
            ("effect", str(c["effect_statistic"]), timeline.effects[name])], levels,
            f"{c['effect_statistic']} of {name} over time") + "</div>")
    parts.append("</section>")
    return "".join(parts)


def _performance(sides: dict[str, dict[str, Any] | None]) -> str:
    names = [k for k in PERFORMANCE_METRICS if any(s and k in s for s in sides.values())]
    rows = [(text(side), *(text(number((m or {}).get(k))) for k in names))
            for side, m in sides.items()]
    return "<h2>Performance</h2>" + _table(("", *names), rows)


def _over_time(t: Timeline) -> str:
    parts = ["<h2>Over time</h2>",
             f'<p class="sub">{len(t.times)} windows, {sum(t.n_events)} events.</p>',
             lines(t.times, [("share", "drift share", t.drift_share)],
                   [], "drift share over time")]
    for metric in [m for m in PERFORMANCE_METRICS if m in t.performance or m in t.estimate]:
        series = [("realised", "realised", t.performance.get(metric, ())),
                  ("estimate", "estimate", t.estimate.get(metric, ()))]
        parts.append(f"<h3>{text(metric)}</h3>" + lines(
            t.times, [s for s in series if s[2]], [], f"{metric} over time"))
    parts.append("<h3>Concept-drift detections</h3>")
    if t.detections:
        parts.append(marks(t.times, t.detection_windows, "detections over time"))
        parts.append(_table(("event time", "detector", "position", "statistic"), [
            (text(d["event_time"]), text(d["detector"]), text(d["position"]),
             text(d["statistic"])) for d in t.detections], numeric_from=2))
    else:
        parts.append('<p class="note">No detection in this range.</p>')
    return "".join(parts)


def render(data: ReportData) -> str:
    """The whole page as text (UTF-8 when written)."""
    columns = _ordered(data.columns)
    body = [f"<h1>{text(data.title)}</h1>", "<h2>Verdict</h2>", _summary(data)]
    body += [f'<p class="note">{text(n)}</p>' for n in data.notes]
    body += ["<h2>Columns</h2>", _overview(columns)]
    if data.performance:
        body.append(_performance(data.performance))
    if data.timeline is not None and data.timeline.times:
        body.append(_over_time(data.timeline))
    body.append("<h2>Per column</h2>")
    body += [_column(i, c, data) for i, c in columns]
    body.append("<h2>Data</h2>")
    body.append(_pairs((text(k), text(v)) for k, v in data.facts))
    body.append("<h3>Verdict settings</h3><pre>"
                + text(json.dumps(data.settings, indent=2, default=str)) + "</pre>")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<meta name=\"viewport\" content=\"width=device-width\"><title>{text(data.title)}"
            f"</title><style>{CSS}</style></head><body><main>{''.join(body)}</main>"
            "</body></html>\n")
