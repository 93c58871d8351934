"""Setting a reference as an audited write: a summary before and after, not the profile."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.engine import Engine

from detectors import ReferenceProfile
from store import load_reference
from store.audit import list_audit
from store.reference_writes import set_reference

T0 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
T1 = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)


def test_set_reference_stores_and_audits_a_summary(engine: Engine,
                                                   profile: ReferenceProfile) -> None:
    with engine.begin() as conn:
        first = set_reference(conn, "ci", "fraud", "7", profile, now=T0)
        again = set_reference(conn, "ops", "fraud", "7", profile, now=T1)
    assert first == again  # replaced in place, same id
    with engine.connect() as conn:
        stored = load_reference(conn, "fraud", "7")
        newest, oldest = list_audit(conn).rows
    assert stored is not None
    assert stored.created_at == T1
    summary = {"id": first, "source": "file", "n_rows": profile.n_rows,
               "columns": list(profile.names)}
    assert oldest.before is None
    assert oldest.after == summary | {"created_at": "2026-12-07T09:00:00Z"}
    assert newest.before == oldest.after
    assert newest.after == summary | {"created_at": "2026-12-07T10:00:00Z"}
    assert (newest.actor, newest.action, newest.model_id, newest.model_version) == (
        "ops", "reference.set", "fraud", "7")
