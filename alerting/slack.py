"""The Slack incoming-webhook message of an alert event (Block Kit).

Decisions:

- Blocks: a header (severity and rule, or "resolved" and rule), a section with
  the summary and up to 8 fields (model, version, feature, metric, value,
  threshold, severity, started), the evidence in compact lines, a context line
  (window and episode) and buttons to the Grafana drill-down and the runbook.
- Slack's limits hold whatever the event holds: header 150 characters, section
  text 3000, at most 10 fields of 2000, at most 50 blocks, top-level ``text``
  40,000, button text 75 and URL 3000. Cut text ends in "…"; a cut evidence
  list ends with a line saying how many lines were left out and where to look.
- User text in ``mrkdwn`` is escaped (``&``, ``<``, ``>``) so a feature name
  cannot inject links or mentions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from alerting.formatting import cut, grafana_link, jsonable, registry_page, rfc3339
from alerting.model import AlertEvent
from detectors.catalogue import names, statistics

MAX_HEADER = 150
MAX_SECTION = 3000
MAX_FIELDS = 10
MAX_FIELD = 2000
MAX_BLOCKS = 50
MAX_TEXT = 40_000
MAX_BUTTON_TEXT = 75
MAX_URL = 3000
_ICONS = {"info": ":information_source:", "warning": ":warning:", "critical": ":rotating_light:"}
_SKIPPED = ("window_id", "metric", "value", "threshold")  # shown elsewhere in the message


def feature_stats() -> tuple[str, ...]:
    """The keys of a feature line: the catalogue's alert statistics
    (``detectors/catalogue.py``), then missing rate, effect and severity."""
    return (*names(statistics(alerts=True)), "missing_rate", "effect_value", "severity")


def escape(text: str) -> str:
    """Text safe inside Slack ``mrkdwn``."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def number(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    return f"{value:.4g}"


def _header(event: AlertEvent) -> str:
    if event.status == "resolved":
        return f":white_check_mark: Resolved: {event.rule}"
    return f"{_ICONS[event.severity]} {event.severity.upper()}: {event.rule}"


def _fields(event: AlertEvent) -> list[dict[str, str]]:
    pairs = [("Model", event.model_id), ("Version", event.model_version)]
    if event.feature:
        pairs.append(("Feature", event.feature))
    pairs += [("Metric", event.metric), ("Value", number(event.value)),
              ("Threshold", number(event.threshold)), ("Severity", event.severity),
              ("Started", rfc3339(event.started_at))]
    return [{"type": "mrkdwn", "text": cut(f"*{name}*\n{escape(value)}", MAX_FIELD)}
            for name, value in pairs[:MAX_FIELDS]]


def _feature_line(feature: Any) -> str:
    if not isinstance(feature, Mapping):
        return f"• {escape(str(feature))}"
    stats = " · ".join(f"{key} {number(feature[key])}" for key in feature_stats()
                       if feature.get(key) is not None)
    return f"• `{escape(str(feature.get('name', '?')))}` {escape(stats)}".rstrip()


def evidence_lines(evidence: Mapping[str, Any]) -> list[str]:
    """The evidence as short lines: scalars first, then drifted features, then mappings."""
    lines, scalars = [], []
    for key, value in evidence.items():
        if key in _SKIPPED or key == "drifted_features":
            continue
        if isinstance(value, Mapping):
            shown = ", ".join(f"{k} {number(v)}" for k, v in value.items() if v is not None)
            lines.append(f"*{escape(key)}*: {escape(shown) or '—'}")
        elif isinstance(value, Sequence) and not isinstance(value, str):
            lines.append(f"*{escape(key)}*: {escape(str(jsonable(value)))}")
        else:
            scalars.append(f"{escape(key)} {escape(number(value))}")
    drifted = evidence.get("drifted_features")
    features = []
    if isinstance(drifted, Sequence) and not isinstance(drifted, str):
        features = [f"*drifted features* ({len(drifted)}):"]
        features += [_feature_line(feature) for feature in drifted]
    head = [" · ".join(scalars)] if scalars else []
    return head + features + lines


def fit_lines(lines: list[str], limit: int, where: str) -> str:
    """As many whole lines as fit in ``limit`` characters; a last line says how many
    were left out. A single line too long for the limit is cut with "…"."""
    notice = "_… {} more lines not shown (Slack's size limit); see " + where + "_"
    text = "\n".join(lines)
    if len(text) <= limit:
        return text
    room = limit - len(notice.format(len(lines))) - 1
    kept: list[str] = []
    used = 0
    for line in lines:
        shown = cut(line, room)
        if used + len(shown) + 1 > room:
            break
        kept.append(shown)
        used += len(shown) + 1
    return "\n".join([*kept, notice.format(len(lines) - len(kept))])


def _buttons(event: AlertEvent, grafana_url: str | None) -> list[dict[str, Any]]:
    buttons = []
    page = registry_page(event) or ("", None)
    for label, url in (("Open in Grafana", grafana_link(event, grafana_url)),
                       ("Runbook", event.runbook_url), page):
        if url and len(url) <= MAX_URL:
            buttons.append({"type": "button", "url": url,
                            "text": {"type": "plain_text", "text": cut(label, MAX_BUTTON_TEXT)}})
    return buttons


def slack(event: AlertEvent, grafana_url: str | None) -> dict[str, Any]:
    """An incoming-webhook message: a ``text`` fallback and Block Kit ``blocks``."""
    resolved = event.status == "resolved"
    fallback = f"{':white_check_mark: resolved: ' if resolved else ''}{event.summary}"
    blocks: list[dict[str, Any]] = [
        {"type": "header",
         "text": {"type": "plain_text", "text": cut(_header(event), MAX_HEADER), "emoji": True}},
        {"type": "section", "text": {"type": "mrkdwn", "text": cut(escape(event.summary),
                                                                   MAX_SECTION)},
         "fields": _fields(event)},
    ]
    lines = evidence_lines(event.evidence)
    if lines:
        where = "the Grafana drill-down" if grafana_url else "the alert's webhook or PagerDuty"
        blocks.append({"type": "section",
                       "text": {"type": "mrkdwn", "text": fit_lines(lines, MAX_SECTION, where)}})
    context = (f"window {rfc3339(event.window_start)} – {rfc3339(event.window_end)} · "
               f"episode {event.episode} · {escape(event.dedup_key)}")
    blocks.append({"type": "context",
                   "elements": [{"type": "mrkdwn", "text": cut(context, MAX_SECTION)}]})
    buttons = _buttons(event, grafana_url)
    if buttons:
        blocks.append({"type": "actions", "elements": buttons})
    return {"text": cut(fallback, MAX_TEXT), "blocks": blocks[:MAX_BLOCKS]}
