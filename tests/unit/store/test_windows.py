"""Windows and their feature rows: idempotent upserts, replacement, reads (both backends)."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import Table, func, select
from sqlalchemy.engine import Connection, Engine

from detectors import DriftReport
from store import feature_history, list_models, list_windows, save_window
from store.tables import feature_stats, windows
from tests.unit.store.window_factory import MakeWindow

START = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)  # make_window's default window_start


def count(conn: Connection, table: Table) -> int:
    return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def table_rows(conn: Connection, table: Table) -> list[dict[str, Any]]:
    return [dict(r) for r in conn.execute(select(table).order_by(table.c.id)).mappings()]


def columns_of(report: DriftReport) -> list[str]:
    return [c.name for c in (*report.features, *report.predictions, *report.targets)]


def test_saving_the_same_window_twice_keeps_one_row_and_identical_content(
    engine: Engine, reports: dict[str, DriftReport], make_window: MakeWindow
) -> None:
    record = make_window(reports["drift"])
    with engine.begin() as conn:
        first_id = save_window(conn, record)
    with engine.connect() as conn:
        first = (table_rows(conn, windows), table_rows(conn, feature_stats))
    with engine.begin() as conn:
        second_id = save_window(conn, record)
    with engine.connect() as conn:
        second = (table_rows(conn, windows), table_rows(conn, feature_stats))
        names = sorted(conn.execute(select(feature_stats.c.feature)).scalars())
    assert second_id == first_id
    assert len(second[0]) == 1
    assert names == sorted(columns_of(reports["drift"])) == ["amount", "country", "label", "score"]
    assert second == first


def test_a_changed_report_replaces_the_rows(
    engine: Engine, reports: dict[str, DriftReport], make_window: MakeWindow
) -> None:
    with engine.begin() as conn:
        window_id = save_window(conn, make_window(reports["calm"], n_events=10))
        assert save_window(conn, make_window(reports["drift"], n_events=20)) == window_id
    with engine.connect() as conn:
        (row,) = table_rows(conn, windows)
        amount = conn.execute(
            select(feature_stats).where(feature_stats.c.feature == "amount")
        ).mappings().one()
    assert (row["n_events"], row["status"], row["drift_share"]) == (20, "drift", 0.5)
    assert row["report"] == json.loads(json.dumps(reports["drift"].to_dict()))
    drifted = reports["drift"].features[0]
    assert (amount["psi"], amount["severity"], amount["drifted"]) == (
        drifted.psi, "critical", True)


def test_a_column_no_longer_in_the_report_loses_its_row(
    engine: Engine, reports: dict[str, DriftReport], make_window: MakeWindow
) -> None:
    with engine.begin() as conn:
        save_window(conn, make_window(reports["drift"]))
        save_window(conn, make_window(reports["drift"], model_version="8"))
        save_window(conn, make_window(reports["narrow"]))
    with engine.connect() as conn:
        rows = conn.execute(
            select(feature_stats.c.model_version, feature_stats.c.feature)
        ).all()
    assert sorted(f for v, f in rows if v == "7") == ["amount", "label", "score"]
    assert sorted(f for v, f in rows if v == "8") == ["amount", "country", "label", "score"]


def test_timestamps_are_stored_and_returned_in_utc(
    engine: Engine, reports: dict[str, DriftReport], make_window: MakeWindow
) -> None:
    paris = timezone(timedelta(hours=1))
    start = START.astimezone(paris)
    with engine.begin() as conn:
        save_window(conn, make_window(reports["calm"], window_start=start))
        # The same instant in another zone is the same window.
        save_window(conn, make_window(reports["calm"], window_start=START))
    with engine.connect() as conn:
        (row,) = table_rows(conn, windows)
        (listed,) = list_windows(conn, "fraud")
    assert row["window_start"] == START
    assert row["window_start"].utcoffset() == timedelta(0)
    assert listed["window_start"] == "2026-11-22T10:00:00Z"
    assert listed["window_end"] == "2026-11-22T10:05:00Z"


def test_list_windows_is_json_safe_and_shaped_like_compare_json(
    engine: Engine, reports: dict[str, DriftReport], make_window: MakeWindow
) -> None:
    report = reports["drift"]
    with engine.begin() as conn:
        save_window(conn, make_window(report))
        (item,) = list_windows(conn, "fraud", "7")
    text = json.dumps(item, allow_nan=False)
    expected = json.loads(json.dumps(report.to_dict()))
    assert json.loads(text) == item
    assert item["features"] == expected["features"]
    assert item["predictions"] == expected["predictions"]
    assert item["targets"] == expected["targets"]
    assert item["policy"] == expected["policy"]
    assert {k: item[k] for k in ("model_id", "model_version", "n_events", "n_late")} == {
        "model_id": "fraud", "model_version": "7", "n_events": 400, "n_late": 3}
    assert (item["status"], item["drift_share"], item["dataset_drift"]) == ("drift", 0.5, True)
    assert (item["prediction_drift"], item["reference_source"]) == (True, "file")
    assert [f["name"] for f in item["features"]] == ["amount", "country"]


def test_list_windows_is_oldest_first_and_limit_keeps_the_newest(
    engine: Engine, reports: dict[str, DriftReport], make_window: MakeWindow
) -> None:
    starts = [START + timedelta(minutes=5 * i) for i in (2, 0, 3, 1)]
    with engine.begin() as conn:
        for start in starts:
            save_window(conn, make_window(reports["calm"], window_start=start))
        save_window(conn, make_window(reports["calm"], model_version="8"))
        save_window(conn, make_window(reports["calm"], model_id="churn"))
        every = list_windows(conn, "fraud")
        newest = list_windows(conn, "fraud", "7", limit=2)
        none = list_windows(conn, "fraud", limit=0)
        unknown = list_windows(conn, "nobody")
        models = list_models(conn)
    assert [(w["window_start"][11:16], w["model_version"]) for w in every] == [
        ("10:00", "7"), ("10:00", "8"), ("10:05", "7"), ("10:10", "7"), ("10:15", "7")]
    assert [w["window_start"][11:16] for w in newest] == ["10:10", "10:15"]
    assert none == []
    assert unknown == []
    assert models == ["churn", "fraud"]


def test_feature_history_gives_the_statistics_per_window(
    engine: Engine, reports: dict[str, DriftReport], make_window: MakeWindow
) -> None:
    later = START + timedelta(minutes=5)
    with engine.begin() as conn:
        save_window(conn, make_window(reports["drift"], window_start=later))
        save_window(conn, make_window(reports["calm"]))
        history = feature_history(conn, "fraud", "amount", "7")
        last = feature_history(conn, "fraud", "amount", limit=1)
        country = feature_history(conn, "fraud", "country")
    calm, drift = reports["calm"].features[0], reports["drift"].features[0]
    assert [h["window_start"] for h in history] == ["2026-11-22T10:00:00Z", "2026-11-22T10:05:00Z"]
    assert [h["psi"] for h in history] == [calm.psi, drift.psi]
    assert [h["ks_pvalue"] for h in history] == [calm.ks_pvalue, drift.ks_pvalue]
    assert [h["severity"] for h in history] == ["none", "critical"]
    assert last == history[1:]
    assert history[0]["chi2_statistic"] is None
    assert country[0]["ks_statistic"] is None
    assert country[0]["chi2_pvalue"] == reports["calm"].features[1].chi2_pvalue
    json.dumps(history, allow_nan=False)


def test_non_finite_statistics_are_stored_as_null(
    engine: Engine, reports: dict[str, DriftReport], make_window: MakeWindow
) -> None:
    report = reports["drift"]
    broken = dataclasses.replace(report.features[0], psi=float("nan"), wasserstein=float("inf"))
    bad = dataclasses.replace(report, features=(broken, *report.features[1:]),
                              drift_share=float("nan"))
    with engine.begin() as conn:
        save_window(conn, make_window(bad))
        (item,) = list_windows(conn, "fraud")
        (history,) = feature_history(conn, "fraud", "amount")
    assert item["drift_share"] is None
    assert item["features"][0]["psi"] is None
    assert item["features"][0]["wasserstein"] is None
    assert history["psi"] is None
    assert history["wasserstein"] is None
    json.dumps(item, allow_nan=False)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"model_id": ""}, "model_id must be a non-empty string"),
        ({"window_start": datetime(2026, 1, 1)}, "window_start must be a timezone-aware"),
        ({"window_end": START}, "window_end must be after window_start"),
        ({"n_events": -1}, r"n_events must be an int in \[0, "),
        ({"n_late": 1.5}, "n_late must be an int"),
        ({"reference_source": "guess"}, "reference_source must be one of file, first_window"),
        ({"closed_at": datetime(2026, 1, 1)}, "closed_at must be a timezone-aware"),
    ],
)
def test_window_records_are_validated(
    reports: dict[str, DriftReport],
    make_window: MakeWindow,
    changes: dict[str, Any],
    message: str,
) -> None:
    with pytest.raises(ValueError, match=message):
        make_window(reports["calm"], **changes)


def test_closed_at_defaults_to_now(
    engine: Engine, reports: dict[str, DriftReport], make_window: MakeWindow
) -> None:
    before = datetime.now(UTC)
    with engine.begin() as conn:
        save_window(conn, make_window(reports["calm"], closed_at=None))
        (row,) = table_rows(conn, windows)
    assert before <= row["closed_at"] <= datetime.now(UTC)
