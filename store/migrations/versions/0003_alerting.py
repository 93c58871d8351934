"""Alerting: alert state, transition history, the notification outbox, retrain requests.

Written out in full, like 0001 and 0002, so it stays what it was when later
revisions change the tables.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ROW_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIMESTAMP = sa.DateTime(timezone=True)


def _create_alerts() -> None:
    op.create_table(
        "alerts",
        sa.Column("rule", sa.Text(), nullable=False),
        sa.Column("model_id", sa.Text(), nullable=False),
        sa.Column("model_version", sa.Text(), nullable=False),
        sa.Column("feature", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("episode", sa.Integer(), nullable=False),
        sa.Column("breaches", sa.Integer(), nullable=False),
        sa.Column("clears", sa.Integer(), nullable=False),
        sa.Column("last_window_start", TIMESTAMP, nullable=True),
        sa.Column("since", TIMESTAMP, nullable=True),
        sa.Column("resolved_at", TIMESTAMP, nullable=True),
        sa.Column("value", sa.Double(), nullable=True),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("rule", "model_id", "model_version", "feature",
                                name="pk_alerts"),
        sa.CheckConstraint(
            "status IN ('inactive', 'pending', 'firing', 'resolved')",
            name=op.f("ck_alerts_status"),
        ),
    )


def _create_alert_transitions() -> None:
    op.create_table(
        "alert_transitions",
        sa.Column("id", ROW_ID, autoincrement=True, nullable=False),
        sa.Column("rule", sa.Text(), nullable=False),
        sa.Column("model_id", sa.Text(), nullable=False),
        sa.Column("model_version", sa.Text(), nullable=False),
        sa.Column("feature", sa.Text(), nullable=False),
        sa.Column("episode", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("metric", sa.Text(), nullable=False),
        sa.Column("value", sa.Double(), nullable=True),
        sa.Column("threshold", sa.Double(), nullable=False),
        sa.Column("window_start", TIMESTAMP, nullable=False),
        sa.Column("window_end", TIMESTAMP, nullable=False),
        sa.Column("started_at", TIMESTAMP, nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_alert_transitions"),
        sa.UniqueConstraint(
            "rule", "model_id", "model_version", "feature", "episode", "status",
            name="uq_alert_transitions_incident",
        ),
        sa.CheckConstraint("status IN ('firing', 'resolved')",
                           name=op.f("ck_alert_transitions_status")),
    )
    op.create_index("ix_alert_transitions_model_id_at", "alert_transitions",
                    ["model_id", "at"])


def _create_outbox() -> None:
    op.create_table(
        "outbox",
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
        sa.CheckConstraint(
            "kind IN ('slack', 'pagerduty', 'webhook', 'deployer', 'topic')",
            name=op.f("ck_outbox_kind"),
        ),
        sa.CheckConstraint("status IN ('pending', 'delivered', 'dead')",
                           name=op.f("ck_outbox_status")),
        sa.CheckConstraint("attempts >= 0", name=op.f("ck_outbox_attempts")),
    )
    op.create_index("ix_outbox_status_next_attempt_at", "outbox",
                    ["status", "next_attempt_at"])
    op.create_index("ix_outbox_receiver_ordering_key", "outbox", ["receiver", "ordering_key"])


def _create_retrain_requests() -> None:
    op.create_table(
        "retrain_requests",
        sa.Column("id", ROW_ID, autoincrement=True, nullable=False),
        sa.Column("model_id", sa.Text(), nullable=False),
        sa.Column("model_version", sa.Text(), nullable=False),
        sa.Column("rule", sa.Text(), nullable=False),
        sa.Column("idempotency_key", sa.Text(), nullable=False),
        sa.Column("requested_at", TIMESTAMP, nullable=False),
        sa.Column("open_until", TIMESTAMP, nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_retrain_requests"),
        sa.UniqueConstraint("idempotency_key", name="uq_retrain_requests_idempotency_key"),
        sa.CheckConstraint("open_until >= requested_at",
                           name=op.f("ck_retrain_requests_open_order")),
    )
    op.create_index("ix_retrain_requests_model_id_model_version_open_until",
                    "retrain_requests", ["model_id", "model_version", "open_until"])


def upgrade() -> None:
    _create_alerts()
    _create_alert_transitions()
    _create_outbox()
    _create_retrain_requests()


def downgrade() -> None:
    for table in ("retrain_requests", "outbox", "alert_transitions", "alerts"):
        op.drop_table(table)
