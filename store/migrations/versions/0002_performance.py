"""Performance per window, concept-drift detections and score calibrations.

Written out in full, like 0001, so it stays what it was when later revisions
change the tables.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ROW_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIMESTAMP = sa.DateTime(timezone=True)


def _model_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(["model_id"], ["models.model_id"],
                                   name=f"fk_{table}_model_id_models")


def _create_performance() -> None:
    op.create_table(
        "performance",
        sa.Column("id", ROW_ID, autoincrement=True, nullable=False),
        sa.Column("model_id", sa.Text(), nullable=False),
        sa.Column("model_version", sa.Text(), nullable=False),
        sa.Column("window_start", TIMESTAMP, nullable=False),
        sa.Column("window_end", TIMESTAMP, nullable=False),
        sa.Column("task", sa.String(length=32), nullable=True),
        sa.Column("n_labels", sa.BigInteger(), nullable=False),
        sa.Column("n_predictions", sa.BigInteger(), nullable=True),
        sa.Column("label_coverage", sa.Double(), nullable=True),
        sa.Column("latency_p50", sa.Double(), nullable=True),
        sa.Column("latency_p95", sa.Double(), nullable=True),
        sa.Column("metrics", sa.JSON(), nullable=True),
        sa.Column("estimate", sa.JSON(), nullable=True),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_performance"),
        _model_fk("performance"),
        sa.UniqueConstraint(
            "model_id", "model_version", "window_start",
            name="uq_performance_model_id_model_version_window_start",
        ),
        sa.CheckConstraint(
            "task IS NULL OR task IN ('classification', 'regression')",
            name=op.f("ck_performance_task"),
        ),
        sa.CheckConstraint("window_end > window_start",
                           name=op.f("ck_performance_window_order")),
    )


def _create_concept_drift_events() -> None:
    op.create_table(
        "concept_drift_events",
        sa.Column("id", ROW_ID, autoincrement=True, nullable=False),
        sa.Column("model_id", sa.Text(), nullable=False),
        sa.Column("model_version", sa.Text(), nullable=False),
        sa.Column("detector", sa.String(length=32), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("event_time", TIMESTAMP, nullable=False),
        sa.Column("statistic", sa.String(length=64), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("detected_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_concept_drift_events"),
        _model_fk("concept_drift_events"),
        sa.UniqueConstraint(
            "model_id", "model_version", "detector", "position",
            name="uq_concept_drift_events_detection",
        ),
    )
    op.create_index("ix_concept_drift_events_model_id_event_time", "concept_drift_events",
                    ["model_id", "event_time"])


def _create_score_calibrations() -> None:
    op.create_table(
        "score_calibrations",
        sa.Column("model_id", sa.Text(), nullable=False),
        sa.Column("model_version", sa.Text(), nullable=False),
        sa.Column("calibration", sa.JSON(), nullable=False),
        sa.Column("n_rows", sa.BigInteger(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("model_id", "model_version", name="pk_score_calibrations"),
        _model_fk("score_calibrations"),
    )


def upgrade() -> None:
    _create_performance()
    _create_concept_drift_events()
    _create_score_calibrations()


def downgrade() -> None:
    for table in ("score_calibrations", "concept_drift_events", "performance"):
        op.drop_table(table)
