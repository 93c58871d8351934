"""Formatting shared by the payload builders: times, strict-JSON values, cut text, links."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from alerting.model import AlertEvent

# The Model drill-down dashboard (dashboards/catalogue.py MODEL_UID; alerting may not
# import dashboards, so a test checks these against dashboards/grafana/model.json).
DASHBOARD_UID = "driftline-model"
DASHBOARD_SLUG = "driftline-model-drill-down"
DASHBOARD_VARIABLES = ("model", "version", "feature")
LINK_MARGIN = timedelta(hours=1)


def rfc3339(moment: datetime) -> str:
    """``2026-11-22T10:05:00Z`` (UTC; a naive datetime is taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def jsonable(value: Any) -> Any:
    """``value`` with mappings as dicts, sequences as lists, datetimes as RFC 3339
    and non-finite floats as None, so that strict JSON can carry it."""
    if isinstance(value, Mapping):
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(item) for item in value]
    if isinstance(value, datetime):
        return rfc3339(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def grafana_link(event: AlertEvent, grafana_url: str | None) -> str | None:
    """The Model drill-down for the event's model, version and feature, around the episode."""
    if not grafana_url:
        return None
    start = min(event.started_at, event.window_start) - LINK_MARGIN
    end = event.window_end + LINK_MARGIN
    query = [("var-model", event.model_id), ("var-version", event.model_version)]
    if event.feature:
        query.append(("var-feature", event.feature))
    query += [("from", str(_millis(start))), ("to", str(_millis(end)))]
    return f"{grafana_url.rstrip('/')}/d/{DASHBOARD_UID}/{DASHBOARD_SLUG}?{urlencode(query)}"


def registry_page(event: AlertEvent) -> tuple[str, str] | None:
    """(label, URL) of the event's model version in its registry, when one is known."""
    registry = event.registry or {}
    url = registry.get("url")
    if not url:
        return None
    name = (registry.get("registry") or "registry").replace("mlflow", "MLflow")
    return f"{name}: {registry.get('name')} version {registry.get('version')}", url


def _millis(moment: datetime) -> int:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def cut(text: str, limit: int) -> str:
    """``text`` if it fits in ``limit`` characters, else its head ending in "…"."""
    return text if len(text) <= limit else text[:limit - 1] + "…"
