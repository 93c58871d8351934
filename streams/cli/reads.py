"""The rows of the read commands from the HTTP API, in the order the database path gives.

``streams.cli.remote`` does the HTTP; this module puts the API's pages together
into the rows ``driftline windows``, ``detections`` and ``alerts`` print from the
database (``streams.cli.store``), so the two outputs are the same byte for byte.

Decisions:

- Without ``--model-version`` the versions come from ``GET /v1/models/{model}``,
  in the database's order of versions (the API sorts them in SQL, as the
  database path does), and each version's pages are read in turn.
- Windows: the database path sorts by (window start, version, id). Each
  version's pages come oldest first, by (window start, id), so the versions'
  streams are merged on (window start, the version's place in the list), one
  page per version in memory. ``--limit N`` keeps the newest N: the API pages
  only oldest first, so every page is read and only the last N rows are kept.
- Detections: the database path sorts a version's detections by (detector,
  position), the stream order; the API pages them by event time, which a late
  event can put out of stream order. So one version's detections are read in
  full, then sorted, then printed (they are all printed anyway).
- Only versions with windows are listed by the API: detections of a version
  that never closed a window are not found without ``--model-version``.
- A detection and an alert instance are printed with a fixed list of fields
  (``DETECTION_FIELDS``, ``ALERT_FIELDS``, the API's schemas), whichever path
  they came from.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any

from streams.cli.common import fail
from streams.cli.remote import Api, model_path

DETECTION_FIELDS = ("model_id", "model_version", "detector", "position", "event_time",
                    "statistic", "params", "detected_at")
ALERT_FIELDS = ("rule", "model_id", "model_version", "feature", "status", "episode",
                "breaches", "clears", "last_window_start", "since", "resolved_at", "value",
                "updated_at")


def detection_item(model_id: str, model_version: str, row: Mapping[str, Any]) -> dict[str, Any]:
    """A detection as the command prints it (times already ISO 8601 text)."""
    found = {**row, "model_id": model_id, "model_version": model_version}
    return {name: found[name] for name in DETECTION_FIELDS}


def alert_item(row: Mapping[str, Any]) -> dict[str, Any]:
    """An alert instance as the command prints it."""
    return {name: row[name] for name in ALERT_FIELDS}


def _versions(api: Api, model_id: str, model_version: str | None) -> list[str]:
    return [model_version] if model_version is not None else api.versions(model_id)


def windows(api: Api, model_id: str, model_version: str | None,
            limit: int | None) -> Iterable[dict[str, Any]]:
    """The model's windows (or one version's), oldest first; the newest ``limit`` only."""
    versions = _versions(api, model_id, model_version)
    place = {version: index for index, version in enumerate(versions)}

    def key(row: dict[str, Any]) -> tuple[datetime, int]:
        return datetime.fromisoformat(row["window_start"]), place[row["model_version"]]

    merged = heapq.merge(*(api.pages(model_path(model_id, version) + "/windows")
                           for version in versions), key=key)
    if limit is None:
        return merged
    return deque(merged, maxlen=limit)


def detections(api: Api, model_id: str, model_version: str | None) -> Iterator[dict[str, Any]]:
    """The model's detections (or one version's), by version, detector and position."""
    for version in _versions(api, model_id, model_version):
        rows = list(api.pages(model_path(model_id, version) + "/detections"))
        rows.sort(key=lambda row: (row["detector"], row["position"]))
        for row in rows:
            yield detection_item(model_id, version, row)


def alerts(api: Api, model_id: str) -> list[dict[str, Any]]:
    """The current state of each of the model's alert instances."""
    found = api.get(model_path(model_id) + "/alerts")
    if not isinstance(found, list):
        fail(f"the API answered {model_path(model_id)}/alerts without a list")
    return [alert_item(row) for row in found]
