"""Reference profiles and models: upsert in place, version precedence (both backends)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from detectors import ReferenceProfile
from store import (
    list_models,
    load_reference,
    load_reference_by_id,
    save_reference,
    touch_model,
)
from store.tables import models, reference_profiles

T0 = datetime(2026, 11, 1, tzinfo=UTC)
T1 = datetime(2026, 11, 2, tzinfo=UTC)


def test_a_profile_round_trips(engine: Engine, profile: ReferenceProfile) -> None:
    with engine.begin() as conn:
        ref_id = save_reference(conn, "fraud", "7", profile, "file", now=T0)
        stored = load_reference(conn, "fraud", "7")
    assert stored is not None
    assert (stored.id, stored.model_id, stored.model_version) == (ref_id, "fraud", "7")
    assert (stored.source, stored.created_at) == ("file", T0)
    assert stored.profile.to_dict() == profile.to_dict()
    assert stored.profile == profile


def test_the_version_specific_reference_wins_over_the_model_wide_one(
    engine: Engine, profile: ReferenceProfile
) -> None:
    narrow = ReferenceProfile(columns=profile.columns[:1], n_rows=profile.n_rows)
    with engine.begin() as conn:
        anyone = save_reference(conn, "fraud", None, profile, "file")
        seven = save_reference(conn, "fraud", "7", narrow, "first_window")
        got_seven = load_reference(conn, "fraud", "7")
        got_eight = load_reference(conn, "fraud", "8")
        got_any = load_reference(conn, "fraud", None)
        got_empty = load_reference(conn, "fraud", "")
        got_other = load_reference(conn, "churn", "7")
    assert got_seven is not None
    assert got_eight is not None
    assert got_any is not None
    assert got_empty is not None
    assert (got_seven.id, got_seven.model_version, got_seven.profile.names) == (
        seven, "7", ("amount",))
    assert (got_eight.id, got_eight.model_version) == (anyone, "")
    assert got_any.id == got_empty.id == anyone
    assert got_other is None


def test_saving_again_replaces_the_profile_in_place(
    engine: Engine, profile: ReferenceProfile
) -> None:
    narrow = ReferenceProfile(columns=profile.columns[:2], n_rows=10)
    with engine.begin() as conn:
        first = save_reference(conn, "fraud", "7", profile, "file", now=T0)
        second = save_reference(conn, "fraud", "7", narrow, "previous_window", now=T1)
        stored = load_reference(conn, "fraud", "7")
        by_id = load_reference_by_id(conn, first)
        missing = load_reference_by_id(conn, first + 1000)
        rows = conn.execute(select(func.count()).select_from(reference_profiles)).scalar_one()
    assert second == first
    assert by_id == stored
    assert missing is None
    assert rows == 1
    assert stored is not None
    assert (stored.source, stored.created_at, stored.profile.n_rows) == (
        "previous_window", T1, 10)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("", "7", "file"), "model_id must be a non-empty string"),
        (("fraud", 7, "file"), "model_version must be a string or None, got 7"),
        (("fraud", "7", "upload"), "source must be one of file, first_window, previous_window"),
    ],
)
def test_save_reference_validates_its_arguments(
    engine: Engine, profile: ReferenceProfile, args: tuple[object, object, str], message: str
) -> None:
    model_id, version, source = args
    with engine.begin() as conn, pytest.raises(ValueError, match=message):
        save_reference(conn, model_id, version, profile, source)  # type: ignore[arg-type]


def test_touch_model_keeps_the_first_sighting(engine: Engine) -> None:
    with engine.begin() as conn:
        touch_model(conn, "fraud", now=T0)
        touch_model(conn, "fraud", now=T1)
        touch_model(conn, "churn", now=T1)
        first_seen = conn.execute(
            select(models.c.first_seen_at).where(models.c.model_id == "fraud")
        ).scalar_one()
        assert list_models(conn) == ["churn", "fraud"]
    assert first_seen == T0
