"""Setting a model version's reference as an audited write.

Decisions:

- ``set_reference`` is ``repository.save_reference`` plus its audit row, in the
  caller's transaction. ``before`` and ``after`` summarise the reference of
  that exact (model, version) — id, source, when it was stored, rows and
  column names — not the whole profile: a profile carries samples of up to
  100,000 values per column, which would make the trail larger than the data.
- **A reference from a stored time range cannot be built from stored windows.**
  A window keeps its verdict and statistics (``DriftReport``: PSI, KS, counts
  and rates per column), not the values, histograms or sketches of its rows;
  the sketches and row samples of a window live only in the consumer
  checkpoint while the window is open and are gone once it closes. Merging
  windows' statistics does not give a profile (bin edges, counts and a sample
  per column). A reference is therefore set from a file of rows: the path that
  ``driftline reference set`` uses, ``streams.batch.profiling.profile_file``,
  or from the events a time range left in the predictions topic (source
  ``range``, ``streams.ingest.range_reference``), whose range and counts the audit
  row's ``after`` records beside the summary (``details``).
- ``target`` says where the file came from when a tool set it: ``driftline registry
  watch`` names the registered model, its version and page (``store.registry_links``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection

from detectors import ReferenceProfile
from store.audit import record_audit
from store.records import check_text, check_version
from store.repository import save_reference
from store.tables import reference_profiles
from store.values import utc_now


def reference_summary(conn: Connection, model_id: str,
                      model_version: str) -> dict[str, Any] | None:
    """The audit summary of the reference stored for exactly (model, version), if any."""
    table = reference_profiles
    query = select(table).where(table.c.model_id == model_id,
                                table.c.model_version == model_version)
    row = conn.execute(query).mappings().first()
    if row is None:
        return None
    profile = row["profile"]
    return {"id": int(row["id"]), "source": row["source"], "created_at": row["created_at"],
            "n_rows": int(profile["n_rows"]),
            "columns": [column["name"] for column in profile["columns"]]}


def set_reference(conn: Connection, actor: str, model_id: str, model_version: str | None,
                  profile: ReferenceProfile, source: str = "file",
                  now: datetime | None = None,
                  details: Mapping[str, Any] | None = None,
                  target: dict[str, Any] | None = None) -> int:
    """Store ``profile`` as the reference of (model, version) and audit it; its id.

    ``details`` (JSON-safe) are recorded in the audit row's ``after`` beside the summary;
    ``target`` is the audit row's target.
    """
    moment = now or utc_now()
    check_text("actor", actor)
    version = check_version("model_version", model_version)
    before = reference_summary(conn, model_id, version)
    ref_id = save_reference(conn, model_id, version, profile, source, moment)
    after = reference_summary(conn, model_id, version)
    if after is not None and details:
        after = {**after, **details}
    record_audit(conn, actor, "reference.set", model_id=model_id, model_version=version,
                 target=target, before=before, after=after, now=moment)
    return ref_id
