"""The outbox's ``kind`` is no longer a fixed list: drop CHECK ``ck_outbox_kind``.

Decided: the receiver types are listed once, in ``alerting.kinds.REGISTRY``;
a CHECK naming them made every new receiver type a schema change. The kind is
now checked in code: ``alerting.kinds.enqueue`` refuses a kind not registered,
and ``store.outbox.enqueue`` a kind that is not a short lowercase name. On
SQLite the table is rebuilt (batch mode); on PostgreSQL the constraint is
dropped in place. The outbox as 0003 built it is written out here
(``outbox_0003``) so batch mode need not reflect it: SQLite's offline (``--sql``)
mode has no database to reflect.

Downgrading restores the CHECK of 0003; it fails if the outbox holds rows of a
kind that list does not name.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KINDS_OF_0003 = "kind IN ('slack', 'pagerduty', 'webhook', 'deployer', 'topic')"
ROW_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIMESTAMP = sa.DateTime(timezone=True)


def outbox_0003() -> sa.Table:
    """The ``outbox`` table as migration 0003 created it."""
    return sa.Table(
        "outbox", sa.MetaData(),
        sa.Column("id", ROW_ID, autoincrement=True, nullable=False),
        sa.Column("receiver", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("idempotency_key", sa.Text(), nullable=False),
        sa.Column("ordering_key", sa.Text(), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", TIMESTAMP, nullable=False),
        sa.Column("claimed_until", TIMESTAMP, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("delivered_at", TIMESTAMP, nullable=True),
        sa.Column("dead_at", TIMESTAMP, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_outbox"),
        sa.UniqueConstraint("receiver", "idempotency_key",
                            name="uq_outbox_receiver_idempotency_key"),
        sa.CheckConstraint(KINDS_OF_0003, name="ck_outbox_kind"),
        sa.CheckConstraint("status IN ('pending', 'delivered', 'dead')", name="ck_outbox_status"),
        sa.CheckConstraint("attempts >= 0", name="ck_outbox_attempts"),
        sa.Index("ix_outbox_status_next_attempt_at", "status", "next_attempt_at"),
        sa.Index("ix_outbox_receiver_ordering_key", "receiver", "ordering_key"),
    )


def upgrade() -> None:
    with op.batch_alter_table("outbox", copy_from=outbox_0003()) as batch:
        batch.drop_constraint(op.f("ck_outbox_kind"), type_="check")


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch:  # reflected: no offline downgrade
        batch.create_check_constraint(op.f("ck_outbox_kind"), KINDS_OF_0003)
