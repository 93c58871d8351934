"""A reference may come from a time range of past traffic: source ``range``.

CHECK ``ck_reference_profiles_source`` gains ``'range'`` (a reference built from
the predictions topic's events of a time range, ``streams.ingest.range_reference``).
On PostgreSQL the constraint is dropped and created again in place. On SQLite the
table is rebuilt (batch mode), from ``reference_profiles_0005`` written out here
so that batch mode need not reflect it (SQLite's offline ``--sql`` mode has no
database to reflect).

Rebuilding on SQLite drops the old table, and with foreign keys on, SQLite's
implicit ``DELETE`` of a dropped table applies ``windows.reference_id``'s ``ON
DELETE SET NULL``: every window would forget its reference. So the windows'
reference ids are saved in a temporary table first and written back after.

Downgrading restores the CHECK of 0001; it fails if a reference of source
``range`` is stored (delete or replace it first).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-08
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SOURCES_OF_0001 = "source IN ('file', 'first_window', 'previous_window')"
SOURCES = "source IN ('file', 'first_window', 'previous_window', 'range')"
ROW_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIMESTAMP = sa.DateTime(timezone=True)
CHECK = "ck_reference_profiles_source"
SAVED = "_windows_reference_0006"


def reference_profiles_0005(sources: str) -> sa.Table:
    """The ``reference_profiles`` table as 0001 created it (unchanged up to 0005), with
    the CHECK ``sources``."""
    return sa.Table(
        "reference_profiles", sa.MetaData(),
        sa.Column("id", ROW_ID, autoincrement=True, nullable=False),
        sa.Column("model_id", sa.Text(), nullable=False),
        sa.Column("model_version", sa.Text(), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("profile", sa.JSON(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_reference_profiles"),
        sa.ForeignKeyConstraint(["model_id"], ["models.model_id"],
                                name="fk_reference_profiles_model_id_models"),
        sa.UniqueConstraint("model_id", "model_version",
                            name="uq_reference_profiles_model_id_model_version"),
        sa.CheckConstraint(sources, name=op.f(CHECK)),
    )


def _change(old: str, new: str) -> None:
    if op.get_context().dialect.name != "sqlite":
        op.drop_constraint(op.f(CHECK), "reference_profiles", type_="check")
        op.create_check_constraint(op.f(CHECK), "reference_profiles", new)
        return
    op.execute(f"CREATE TEMPORARY TABLE {SAVED} AS SELECT id, reference_id FROM windows "
               "WHERE reference_id IS NOT NULL")
    with op.batch_alter_table("reference_profiles", copy_from=reference_profiles_0005(old),
                              recreate="always") as batch:
        batch.drop_constraint(op.f(CHECK), type_="check")
        batch.create_check_constraint(op.f(CHECK), new)
    op.execute(f"UPDATE windows SET reference_id = (SELECT s.reference_id FROM {SAVED} s "
               f"WHERE s.id = windows.id) WHERE id IN (SELECT id FROM {SAVED})")
    op.execute(f"DROP TABLE {SAVED}")


def upgrade() -> None:
    _change(SOURCES_OF_0001, SOURCES)


def downgrade() -> None:
    _change(SOURCES, SOURCES_OF_0001)
