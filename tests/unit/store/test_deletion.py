"""Deleting a model version's data: every table keyed by the version, nothing else."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from detectors import DriftReport, ReferenceProfile
from store import WindowRecord, load_reference, save_reference, save_window
from store.alert_values import AlertState
from store.alerts import enqueue, save_alert_states
from store.audit import list_audit
from store.deletion import delete_version, version_counts
from store.records import NotFoundError
from store.silences import Instance, silence
from store.tables import outbox

T0 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


def test_deletes_the_version_and_keeps_the_rest(
        engine: Engine, make_window: Callable[..., WindowRecord],
        reports: dict[str, DriftReport], profile: ReferenceProfile) -> None:
    with engine.begin() as conn:
        ref = save_reference(conn, "fraud", "7", profile, "file")
        save_reference(conn, "fraud", None, profile, "file")  # the model-wide one stays
        for version in ("7", "8"):
            for i in range(2):
                save_window(conn, make_window(reports["drift"], model_version=version,
                                              reference_id=ref,
                                              window_start=T0 + timedelta(minutes=5 * i)))
            save_alert_states(conn, [AlertState(rule="r", model_id="fraud",
                                                model_version=version, status="firing")])
        silence(conn, "ops", Instance("r", "fraud", "7"), T0 + timedelta(hours=1), "x", now=T0)
        enqueue(conn, "hook", "webhook", "k1", {"model": "fraud"}, T0)
    with engine.begin() as conn:
        counts = delete_version(conn, "ops", "fraud", "7", now=T0)
    assert counts["windows"] == 2
    assert counts["feature_stats"] == 2 * len(reports["drift"].features
                                              + reports["drift"].predictions
                                              + reports["drift"].targets)
    assert (counts["reference_profiles"], counts["alerts"], counts["silences"]) == (1, 1, 1)
    with engine.connect() as conn:
        assert not any(version_counts(conn, "fraud", "7").values())
        assert version_counts(conn, "fraud", "8")["windows"] == 2
        assert load_reference(conn, "fraud", "7").model_version == ""  # type: ignore[union-attr]
        assert conn.execute(select(func.count()).select_from(outbox)).scalar_one() == 1
        (row,) = [r for r in list_audit(conn).rows if r.action == "model_version.delete"]
    assert (row.actor, row.model_id, row.model_version, row.before, row.after) == (
        "ops", "fraud", "7", counts, None)


def test_a_version_without_data_is_not_found_and_not_audited(engine: Engine) -> None:
    with engine.begin() as conn, pytest.raises(
            NotFoundError, match="model 'fraud' version '9' has no stored data"):
        delete_version(conn, "ops", "fraud", "9")
    with engine.connect() as conn:
        assert list_audit(conn).rows == []


def test_the_model_wide_version_is_not_a_version(engine: Engine) -> None:
    with engine.begin() as conn, pytest.raises(ValueError, match="model_version must be a "
                                                                 "non-empty string"):
        delete_version(conn, "ops", "fraud", "")
