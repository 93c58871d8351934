"""Deleting a model version's data, with its audit row, in one transaction.

"A model version's data" is decided to be every row keyed by that exact
(model_id, model_version):

- its windows and their per-feature statistics (``windows``, ``feature_stats``);
- its reference (``reference_profiles`` of that version; the model-wide
  reference, version ``''``, belongs to every version and is kept);
- its performance and estimates (``performance``), its concept-drift
  detections (``concept_drift_events``) and its score calibration;
- its alert states, transitions, silences and retrain requests (``alerts``,
  ``alert_transitions``, ``silences``, ``retrain_requests``).

Kept, on purpose:

- the ``models`` row (other versions may have data; it holds only a name and
  when it was first seen);
- the ``outbox``: a delivered row is the record of what receivers were told,
  and a pending one (say, a resolve) still has to reach a receiver that holds
  the incident open. Its rows are per receiver, not per version;
- consumer checkpoints: one holds the open windows of every model of a
  partition as one opaque blob, so a version cannot be cut out of it. A worker
  still receiving the version's events writes its open windows when they close;
  stop sending them first if the version is to stay empty;
- the audit trail, which gains the row recording this delete: ``before`` holds
  how many rows each table had, ``after`` is None.

Deleting a version with no rows is ``NotFoundError`` and records nothing.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Table, delete, func, select
from sqlalchemy.engine import Connection

from store.audit import record_audit
from store.records import NotFoundError, check_text
from store.tables import (
    alert_transitions,
    alerts,
    concept_drift_events,
    feature_stats,
    performance,
    reference_profiles,
    retrain_requests,
    score_calibrations,
    silences,
    windows,
)
from store.values import utc_now

# Children before the rows they point at (feature_stats -> windows -> reference_profiles).
VERSION_TABLES: tuple[Table, ...] = (
    feature_stats, windows, reference_profiles, performance, concept_drift_events,
    score_calibrations, alerts, alert_transitions, silences, retrain_requests,
)


def version_counts(conn: Connection, model_id: str, model_version: str) -> dict[str, int]:
    """How many rows each table of ``VERSION_TABLES`` holds for the version."""
    counts: dict[str, int] = {}
    for table in VERSION_TABLES:
        query = select(func.count()).select_from(table).where(
            table.c.model_id == model_id, table.c.model_version == model_version)
        counts[table.name] = int(conn.execute(query).scalar_one())
    return counts


def delete_version(conn: Connection, actor: str, model_id: str, model_version: str,
                   now: datetime | None = None) -> dict[str, int]:
    """Delete the version's data (module docstring); the rows deleted per table."""
    check_text("actor", actor)
    check_text("model_id", model_id)
    check_text("model_version", model_version)  # '' is the model-wide reference, not a version
    counts = version_counts(conn, model_id, model_version)
    if not any(counts.values()):
        raise NotFoundError(f"model {model_id!r} version {model_version!r} has no stored data")
    for table in VERSION_TABLES:
        conn.execute(delete(table).where(table.c.model_id == model_id,
                                         table.c.model_version == model_version))
    record_audit(conn, actor, "model_version.delete", model_id=model_id,
                 model_version=model_version, before=counts, after=None, now=now or utc_now())
    return counts
