"""Writes by people: the ``audit`` trail and the ``silences`` of alert instances.

Written out in full, like 0001 to 0003, so it stays what it was when later
revisions change the tables. Both tables are new, so the upgrade only creates
them and the downgrade drops them (with whatever they hold: the audit trail of
the writes is lost on a downgrade).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ROW_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIMESTAMP = sa.DateTime(timezone=True)


def _create_audit() -> None:
    op.create_table(
        "audit",
        sa.Column("id", ROW_ID, autoincrement=True, nullable=False),
        sa.Column("at", TIMESTAMP, nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("model_id", sa.Text(), nullable=True),
        sa.Column("model_version", sa.Text(), nullable=True),
        sa.Column("target", sa.JSON(), nullable=False),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_audit"),
    )
    op.create_index("ix_audit_at", "audit", ["at"])
    op.create_index("ix_audit_model_id_at", "audit", ["model_id", "at"])


def _create_silences() -> None:
    op.create_table(
        "silences",
        sa.Column("rule", sa.Text(), nullable=False),
        sa.Column("model_id", sa.Text(), nullable=False),
        sa.Column("model_version", sa.Text(), nullable=False),
        sa.Column("feature", sa.Text(), nullable=False),
        sa.Column("silenced_until", TIMESTAMP, nullable=True),
        sa.Column("silenced_at", TIMESTAMP, nullable=True),
        sa.Column("silenced_by", sa.Text(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("acknowledged", sa.Boolean(), nullable=False),
        sa.Column("acknowledged_at", TIMESTAMP, nullable=True),
        sa.Column("acknowledged_by", sa.Text(), nullable=True),
        sa.Column("acknowledged_episode", sa.Integer(), nullable=True),
        sa.Column("acknowledge_reason", sa.Text(), nullable=True),
        sa.Column("suppressed_episode", sa.Integer(), nullable=True),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("rule", "model_id", "model_version", "feature",
                                name="pk_silences"),
    )


def upgrade() -> None:
    _create_audit()
    _create_silences()


def downgrade() -> None:
    op.drop_table("silences")
    op.drop_index("ix_audit_model_id_at", table_name="audit")
    op.drop_index("ix_audit_at", table_name="audit")
    op.drop_table("audit")
