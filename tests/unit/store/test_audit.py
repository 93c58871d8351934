"""The audit trail: rows written in the caller's transaction, read back newest first by pages."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.engine import Engine

from store.audit import list_audit, record_audit

T0 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


def _fill(engine: Engine, n: int = 7) -> None:
    with engine.begin() as conn:
        for i in range(n):
            record_audit(conn, "ops" if i % 2 else "ci", "alert.silence" if i % 3 else
                         "reference.set", model_id="fraud" if i < 5 else "churn",
                         model_version="7", target={"rule": "r", "i": i},
                         before=None, after={"until": T0 + timedelta(hours=i)},
                         now=T0 + timedelta(minutes=i))


def test_a_row_reads_back_as_written(engine: Engine) -> None:
    with engine.begin() as conn:
        row_id = record_audit(conn, "deploy-bot", "reference.set", model_id="fraud",
                              model_version="", target={"range": [1, 2]},
                              before={"id": 1, "at": T0}, after={"n": float("nan")}, now=T0)
    with engine.connect() as conn:
        (row,) = list_audit(conn).rows
    assert row.to_dict() == {
        "id": row_id, "at": "2026-12-07T09:00:00Z", "actor": "deploy-bot",
        "action": "reference.set", "model_id": "fraud", "model_version": "",
        "target": {"range": [1, 2]}, "before": {"id": 1, "at": "2026-12-07T09:00:00Z"},
        "after": {"n": None}}


def test_pages_are_keyset_newest_first_and_cover_every_row_once(engine: Engine) -> None:
    _fill(engine)
    seen: list[int] = []
    before = None
    with engine.connect() as conn:
        while True:
            page = list_audit(conn, limit=3, before=before)
            seen += [row.target["i"] for row in page.rows]
            if page.next_before is None:
                break
            before = page.next_before
    assert seen == [6, 5, 4, 3, 2, 1, 0]


def test_filters_by_time_action_and_model(engine: Engine) -> None:
    _fill(engine)
    with engine.connect() as conn:
        window = list_audit(conn, since=T0 + timedelta(minutes=2),
                            until=T0 + timedelta(minutes=5))
        silences = list_audit(conn, action="reference.set")
        churn = list_audit(conn, model_id="churn")
    assert [r.target["i"] for r in window.rows] == [4, 3, 2]
    assert [r.target["i"] for r in silences.rows] == [6, 3, 0]
    assert [r.target["i"] for r in churn.rows] == [6, 5]


def test_a_rolled_back_write_leaves_no_row(engine: Engine) -> None:
    def failing_write() -> None:
        with engine.begin() as conn:
            record_audit(conn, "ops", "alert.silence", now=T0)
            raise RuntimeError("the write failed")

    with pytest.raises(RuntimeError, match="the write failed"):
        failing_write()
    with engine.connect() as conn:
        assert list_audit(conn).rows == []


@pytest.mark.parametrize(("changes", "message"), [
    ({"actor": ""}, "actor must be a non-empty string, got ''"),
    ({"action": "Silence!"}, "action must be a dotted lowercase name of at most 64 "
                             "characters, got 'Silence!'"),
])
def test_bad_values_are_named(engine: Engine, changes: dict[str, str], message: str) -> None:
    values = {"actor": "ops", "action": "alert.silence"} | changes
    with engine.begin() as conn, pytest.raises(ValueError, match=re.escape(message)):
        record_audit(conn, values["actor"], values["action"], now=T0)


def test_limit_is_bounded(engine: Engine) -> None:
    with engine.connect() as conn, pytest.raises(ValueError, match=r"limit must be an int "
                                                                   r"in \[1, 1000\], got 0"):
        list_audit(conn, limit=0)
