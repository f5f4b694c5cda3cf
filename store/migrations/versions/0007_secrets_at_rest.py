"""secrets at rest

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 19:50:00

Mailbox and webhook secrets are stored encrypted (`enc:v1:<key>:<base64>`), which is longer
than the plaintext, so their columns widen. Rows already there stay plaintext and keep working
(decrypting legacy plaintext returns it unchanged) until `signoff secrets rotate` seals them.
"""

from collections.abc import Sequence

import sqlmodel
from alembic import op


revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (table, column, width before, width after)
_WIDENED = (
    ('mailboxes', 'secret', 500, 3000),
    ('webhooks', 'secret', 200, 500),
)


def upgrade() -> None:
    for table, column, before, after in _WIDENED:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column(
                column,
                existing_type=sqlmodel.sql.sqltypes.AutoString(length=before),
                type_=sqlmodel.sql.sqltypes.AutoString(length=after),
                existing_nullable=False,
            )


def downgrade() -> None:
    # PostgreSQL refuses (and keeps the data) if a stored ciphertext is longer than the old width.
    for table, column, before, after in _WIDENED:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column(
                column,
                existing_type=sqlmodel.sql.sqltypes.AutoString(length=after),
                type_=sqlmodel.sql.sqltypes.AutoString(length=before),
                existing_nullable=False,
            )
