"""Initial schema: models, reference profiles, windows, feature stats, checkpoints.

Written out in full (not imported from ``store.tables``) so that this revision
stays what it was when later revisions change the tables; a test checks that
head still matches ``store.tables.metadata``.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ROW_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIMESTAMP = sa.DateTime(timezone=True)


def _create_models() -> None:
    op.create_table(
        "models",
        sa.Column("model_id", sa.Text(), nullable=False),
        sa.Column("first_seen_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("model_id", name="pk_models"),
    )


def _create_reference_profiles() -> None:
    op.create_table(
        "reference_profiles",
        sa.Column("id", ROW_ID, autoincrement=True, nullable=False),
        sa.Column("model_id", sa.Text(), nullable=False),
        sa.Column("model_version", sa.Text(), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("profile", sa.JSON(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_reference_profiles"),
        sa.ForeignKeyConstraint(
            ["model_id"], ["models.model_id"], name="fk_reference_profiles_model_id_models"
        ),
        sa.UniqueConstraint(
            "model_id", "model_version", name="uq_reference_profiles_model_id_model_version"
        ),
        sa.CheckConstraint(
            "source IN ('file', 'first_window', 'previous_window')",
            name=op.f("ck_reference_profiles_source"),
        ),
    )


def _create_windows() -> None:
    op.create_table(
        "windows",
        sa.Column("id", ROW_ID, autoincrement=True, nullable=False),
        sa.Column("model_id", sa.Text(), nullable=False),
        sa.Column("model_version", sa.Text(), nullable=False),
        sa.Column("window_start", TIMESTAMP, nullable=False),
        sa.Column("window_end", TIMESTAMP, nullable=False),
        sa.Column("n_events", sa.BigInteger(), nullable=False),
        sa.Column("n_late", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("drift_share", sa.Double(), nullable=True),
        sa.Column("dataset_drift", sa.Boolean(), nullable=False),
        sa.Column("prediction_drift", sa.Boolean(), nullable=True),
        sa.Column("reference_id", ROW_ID, nullable=True),
        sa.Column("reference_source", sa.Text(), nullable=False),
        sa.Column("report", sa.JSON(), nullable=False),
        sa.Column("closed_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_windows"),
        sa.ForeignKeyConstraint(
            ["model_id"], ["models.model_id"], name="fk_windows_model_id_models"
        ),
        sa.ForeignKeyConstraint(
            ["reference_id"], ["reference_profiles.id"], ondelete="SET NULL",
            name="fk_windows_reference_id_reference_profiles",
        ),
        sa.UniqueConstraint(
            "model_id", "model_version", "window_start",
            name="uq_windows_model_id_model_version_window_start",
        ),
        sa.CheckConstraint(
            "status IN ('drift', 'no_drift', 'insufficient_data')", name=op.f("ck_windows_status")
        ),
        sa.CheckConstraint("window_end > window_start", name=op.f("ck_windows_window_order")),
    )
    op.create_index("ix_windows_model_id_window_start", "windows", ["model_id", "window_start"])


STATS = (
    "psi", "ks_statistic", "ks_pvalue", "wasserstein", "js_distance", "hellinger",
    "chi2_statistic", "chi2_pvalue", "unseen_rate", "pvalue", "pvalue_adjusted",
    "effect_value", "missing_rate",
)


def _create_feature_stats() -> None:
    op.create_table(
        "feature_stats",
        sa.Column("id", ROW_ID, autoincrement=True, nullable=False),
        sa.Column("window_id", ROW_ID, nullable=False),
        sa.Column("model_id", sa.Text(), nullable=False),
        sa.Column("model_version", sa.Text(), nullable=False),
        sa.Column("window_start", TIMESTAMP, nullable=False),
        sa.Column("feature", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("effect_statistic", sa.String(length=32), nullable=False),
        *(sa.Column(name, sa.Double(), nullable=True) for name in STATS),
        sa.Column("severity", sa.String(length=32), nullable=False),
        sa.Column("drifted", sa.Boolean(), nullable=False),
        sa.Column("n_reference", sa.BigInteger(), nullable=False),
        sa.Column("n_current", sa.BigInteger(), nullable=False),
        sa.Column("n_missing", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_feature_stats"),
        sa.ForeignKeyConstraint(
            ["window_id"], ["windows.id"], ondelete="CASCADE",
            name="fk_feature_stats_window_id_windows",
        ),
        sa.UniqueConstraint(
            "model_id", "model_version", "window_start", "feature",
            name="uq_feature_stats_model_id_model_version_window_start_feature",
        ),
    )
    op.create_index("ix_feature_stats_window_id", "feature_stats", ["window_id"])
    op.create_index(
        "ix_feature_stats_model_id_feature_window_start",
        "feature_stats",
        ["model_id", "feature", "window_start"],
    )


def _create_ingest_checkpoints() -> None:
    op.create_table(
        "ingest_checkpoints",
        sa.Column("group_id", sa.Text(), nullable=False),
        sa.Column("topic", sa.Text(), nullable=False),
        sa.Column("partition", sa.Integer(), nullable=False),
        sa.Column("next_offset", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.LargeBinary(), nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("group_id", "topic", "partition", name="pk_ingest_checkpoints"),
        sa.CheckConstraint("next_offset >= 0", name=op.f("ck_ingest_checkpoints_next_offset")),
    )


def upgrade() -> None:
    _create_models()
    _create_reference_profiles()
    _create_windows()
    _create_feature_stats()
    _create_ingest_checkpoints()


def downgrade() -> None:
    for table in (
        "ingest_checkpoints", "feature_stats", "windows", "reference_profiles", "models"
    ):
        op.drop_table(table)
