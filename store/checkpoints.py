"""Consumer checkpoints: the next offset per partition and the caller's opaque state.

The ingest service writes a checkpoint in the same transaction as the window
state it covers, so that after a restart it seeks to ``next_offset`` and finds
exactly the state that offset implies. ``state`` is bytes the store never
reads (a serialised sketch, for example).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.engine import Connection

from store.records import Checkpoint, check_count, check_text
from store.tables import ingest_checkpoints
from store.upsert import upsert
from store.values import utc_now

MAX_PARTITION = 2**31 - 1
CHECKPOINT_KEY = ("group_id", "topic", "partition")


def save_checkpoint(
    conn: Connection,
    group_id: str,
    topic: str,
    partition: int,
    next_offset: int,
    state: bytes,
    now: datetime | None = None,
) -> None:
    """Upsert the checkpoint of (group, topic, partition)."""
    check_text("group_id", group_id)
    check_text("topic", topic)
    check_count("partition", partition, MAX_PARTITION)
    check_count("next_offset", next_offset)
    if not isinstance(state, bytes | bytearray | memoryview):
        raise ValueError(f"state must be bytes, got {type(state).__name__}")
    row = {
        "group_id": group_id,
        "topic": topic,
        "partition": partition,
        "next_offset": next_offset,
        "state": bytes(state),
        "updated_at": now or utc_now(),
    }
    conn.execute(upsert(conn, ingest_checkpoints, CHECKPOINT_KEY), row)


def load_checkpoints(
    conn: Connection, group_id: str, topic: str, partitions: Iterable[int]
) -> dict[int, Checkpoint]:
    """The stored checkpoints of these partitions; a partition never saved is absent."""
    wanted = sorted({check_count("partition", p, MAX_PARTITION) for p in partitions})
    if not wanted:
        return {}
    table = ingest_checkpoints
    query = select(table).where(
        table.c.group_id == group_id, table.c.topic == topic, table.c.partition.in_(wanted)
    )
    return {
        int(row["partition"]): Checkpoint(
            next_offset=int(row["next_offset"]),
            state=bytes(row["state"]),
            updated_at=row["updated_at"],
        )
        for row in conn.execute(query).mappings()
    }
