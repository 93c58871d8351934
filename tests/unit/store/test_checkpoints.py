"""Consumer checkpoints, and one transaction for a window and its checkpoint (both backends)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from detectors import DriftReport
from store import (
    Checkpoint,
    WindowRecord,
    list_models,
    list_windows,
    load_checkpoints,
    save_checkpoint,
    save_window,
)
from store.tables import feature_stats

T0 = datetime(2026, 11, 22, 10, tzinfo=UTC)
T1 = datetime(2026, 11, 22, 11, tzinfo=UTC)


def test_checkpoints_round_trip_and_are_replaced(engine: Engine) -> None:
    with engine.begin() as conn:
        save_checkpoint(conn, "g", "driftline.predictions", 0, 10, b"\x00first", now=T0)
        save_checkpoint(conn, "g", "driftline.predictions", 1, 7, b"", now=T0)
        save_checkpoint(conn, "g", "driftline.predictions", 0, 25, b"\x00second\xff", now=T1)
        save_checkpoint(conn, "other", "driftline.predictions", 2, 99, b"x", now=T0)
    with engine.connect() as conn:
        got = load_checkpoints(conn, "g", "driftline.predictions", [0, 1, 2, 1])
        other_topic = load_checkpoints(conn, "g", "driftline.labels", [0])
        nothing = load_checkpoints(conn, "g", "driftline.predictions", [])
    assert got == {
        0: Checkpoint(next_offset=25, state=b"\x00second\xff", updated_at=T1),
        1: Checkpoint(next_offset=7, state=b"", updated_at=T0),
    }
    assert type(got[0].state) is bytes
    assert other_topic == {}
    assert nothing == {}


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(state=st.binary(max_size=4096), offset=st.integers(0, 2**63 - 1),
       partition=st.integers(0, 2**31 - 1))
def test_any_bytes_and_offsets_round_trip(
    engine: Engine, state: bytes, offset: int, partition: int
) -> None:
    with engine.begin() as conn:
        save_checkpoint(conn, "g", "t", partition, offset, state)
    with engine.connect() as conn:
        got = load_checkpoints(conn, "g", "t", [partition])[partition]
    assert (got.next_offset, got.state) == (offset, state)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("", "t", 0, 0, b""), "group_id must be a non-empty string"),
        (("g", "t", -1, 0, b""), r"partition must be an int in \[0, 2147483647\], got -1"),
        (("g", "t", 0, 2**63, b""), "next_offset must be an int in"),
        (("g", "t", 0, 0, "text"), "state must be bytes, got str"),
    ],
)
def test_save_checkpoint_validates_its_arguments(
    engine: Engine, args: tuple[str, str, int, int, bytes], message: str
) -> None:
    with engine.begin() as conn, pytest.raises(ValueError, match=message):
        save_checkpoint(conn, *args)


class BoomError(Exception):
    pass


def test_a_failed_transaction_keeps_neither_the_window_nor_the_checkpoint(
    engine: Engine, reports: dict[str, DriftReport], make_window: Callable[..., WindowRecord]
) -> None:
    with engine.begin() as conn:
        save_checkpoint(conn, "g", "t", 0, 5, b"before")

    def write_then_fail() -> None:
        with engine.begin() as conn:
            save_window(conn, make_window(reports["drift"]))
            save_checkpoint(conn, "g", "t", 0, 500, b"after")
            assert len(list_windows(conn, "fraud")) == 1  # visible inside the transaction
            raise BoomError

    with pytest.raises(BoomError):
        write_then_fail()
    with engine.connect() as conn:
        assert list_windows(conn, "fraud") == []
        assert list_models(conn) == []
        assert conn.execute(select(func.count()).select_from(feature_stats)).scalar_one() == 0
        checkpoint = load_checkpoints(conn, "g", "t", [0])[0]
    assert (checkpoint.next_offset, checkpoint.state) == (5, b"before")


def test_a_committed_transaction_keeps_both(
    engine: Engine, reports: dict[str, DriftReport], make_window: Callable[..., WindowRecord]
) -> None:
    with engine.begin() as conn:
        save_window(conn, make_window(reports["drift"]))
        save_checkpoint(conn, "g", "t", 0, 500, b"after")
    with engine.connect() as conn:
        assert len(list_windows(conn, "fraud")) == 1
        assert load_checkpoints(conn, "g", "t", [0])[0].next_offset == 500
