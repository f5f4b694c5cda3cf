"""rate limits; business time to decision on request levels

rate_limit_counters: fixed-window hit counters shared by API replicas.
request_levels.business_seconds: a level's business time from start to end, for SLA reports.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 19:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import store.types


revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "rate_limit_counters",
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("window_start", sa.BigInteger(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("expires_at", store.types.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", "window_start"),
    )
    with op.batch_alter_table("rate_limit_counters", schema=None) as batch_op:
        batch_op.create_index("ix_rate_limit_counters_expires_at", ["expires_at"], unique=False)
    with op.batch_alter_table("request_levels", schema=None) as batch_op:
        batch_op.add_column(sa.Column("business_seconds", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("request_levels", schema=None) as batch_op:
        batch_op.drop_column("business_seconds")
    with op.batch_alter_table("rate_limit_counters", schema=None) as batch_op:
        batch_op.drop_index("ix_rate_limit_counters_expires_at")
    op.drop_table("rate_limit_counters")
