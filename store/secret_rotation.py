"""Re-encrypting every stored secret under the key ring's current key (`signoff secrets rotate`).

Each secret column is walked in batches by id. A value is rewritten only when it is legacy
plaintext or sealed under another key, and only if it still holds what was read (a secret an
ADMIN changed meanwhile is left to its new value), so the command is safe to run while the API
serves and to run again: a second run finds everything current and rewrites nothing.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import column, inspect, select, table, update
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql.expression import ColumnClause
from sqlmodel.ext.asyncio.session import AsyncSession

from store.secret_box import SecretBox, SecretDecryptError
from store.secret_columns import SECRET_COLUMNS, SecretColumn
from store.security_events import record_security_event


@dataclass
class RotationCount:
    """What a rotation did to one column (counts only, never a value)."""

    table: str
    column: str
    rewritten: int = 0
    current: int = 0
    changed_meanwhile: int = 0
    undecryptable: int = 0
    missing: bool = False


async def rotate_secrets(
    engine: AsyncEngine,
    box: SecretBox,
    *,
    actor: str,
    batch_size: int = 200,
    columns: tuple[SecretColumn, ...] = SECRET_COLUMNS,
) -> list[RotationCount]:
    """Rewrite every secret not under the current key; record one `secrets_rotated` event."""
    counts = [await _rotate_column(engine, box, spec, batch_size) for spec in columns]
    async with AsyncSession(engine) as session:
        record_security_event(
            session,
            kind="secrets_rotated",
            org_id=None,
            actor=actor,
            ip=None,
            subject=f"key:{box.current_key_id}",
            detail={"key_id": box.current_key_id, "columns": [asdict(c) for c in counts]},
        )
        await session.commit()
    return counts


async def _rotate_column(
    engine: AsyncEngine, box: SecretBox, spec: SecretColumn, batch_size: int
) -> RotationCount:
    count = RotationCount(spec.table, spec.secret_column)
    async with engine.connect() as conn:
        present = await conn.run_sync(_has_column, spec.table, spec.secret_column)
    if not present:
        count.missing = True
        return count
    ident: ColumnClause[Any] = column(spec.id_column)
    secret: ColumnClause[Any] = column(spec.secret_column)
    rows_of = table(spec.table, ident, secret)
    last: object = None
    while True:
        query = select(ident, secret).select_from(rows_of).where(secret.is_not(None))
        if last is not None:
            query = query.where(ident > last)
        async with engine.begin() as conn:
            batch = (await conn.execute(query.order_by(ident).limit(batch_size))).all()
            for row_id, stored in batch:
                if not box.needs_rewrite(stored):
                    count.current += 1
                    continue
                try:
                    plain = box.decrypt(stored, context=spec.context(row_id))
                except SecretDecryptError:
                    count.undecryptable += 1  # left as it is: nothing is lost
                    continue
                sealed = box.encrypt(plain, context=spec.context(row_id))
                result = await conn.execute(
                    update(rows_of)
                    .where(ident == row_id, secret == stored)
                    .values({spec.secret_column: sealed})
                )
                if result.rowcount == 1:
                    count.rewritten += 1
                else:
                    count.changed_meanwhile += 1
        if len(batch) < batch_size:
            return count
        last = batch[-1][0]


def _has_column(conn: Connection, table_name: str, column_name: str) -> bool:
    inspector = inspect(conn)
    if not inspector.has_table(table_name):
        return False
    return any(c["name"] == column_name for c in inspector.get_columns(table_name))
