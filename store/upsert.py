"""Idempotent inserts for SQLite and PostgreSQL: repeated or stale writes change nothing.

Rows go in as execution parameters, never as inline VALUES, so each statement's shape is
the same every time and SQLAlchemy compiles it once.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, SQLModel


def table_of(model: type[SQLModel]) -> Table:
    """The SQLAlchemy table behind a SQLModel table class."""
    table = getattr(model, "__table__", None)
    if not isinstance(table, Table):
        raise TypeError(f"{model.__name__} is not a table model")
    return table


def _insert_for(dialect: str, table: Table) -> Any:
    if dialect == "postgresql":
        return postgresql.insert(table)
    if dialect == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"no idempotent insert for the {dialect} dialect")


# Statements are built once per shape: building an upsert (its EXCLUDED columns) costs more
# than running it.
@lru_cache(maxsize=256)
def _insert_missing_statement(dialect: str, table: Table, keys: tuple[str, ...]) -> Any:
    return (
        _insert_for(dialect, table)
        .on_conflict_do_nothing(index_elements=list(keys))
        .returning(table.c[keys[0]], sort_by_parameter_order=True)
    )


@lru_cache(maxsize=256)
def _upsert_statement(
    dialect: str, table: Table, keys: tuple[str, ...], columns: tuple[str, ...], version: str | None
) -> Any:
    stmt = _insert_for(dialect, table)
    stmt = stmt.on_conflict_do_update(
        index_elements=list(keys),
        set_={name: stmt.excluded[name] for name in columns if name not in keys},
        where=(table.c[version] < stmt.excluded[version]) if version else None,
    )
    return stmt.returning(table.c[keys[0]]) if version else stmt


@lru_cache(maxsize=64)
def increment_statement(dialect: str, table: Table, keys: tuple[str, ...], counter: str) -> Any:
    """Insert a row, or add its `counter` to the existing row's; returns the new count."""
    stmt = _insert_for(dialect, table)
    stmt = stmt.on_conflict_do_update(
        index_elements=list(keys), set_={counter: table.c[counter] + stmt.excluded[counter]}
    )
    return stmt.returning(table.c[counter])


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def insert_missing(
    session: Session, model: type[SQLModel], rows: Sequence[dict[str, Any]], keys: Sequence[str]
) -> int:
    """Insert rows whose key is not there yet; return how many were new."""
    if not rows:
        return 0
    stmt = _insert_missing_statement(_dialect(session), table_of(model), tuple(keys))
    # RETURNING counts what was inserted on every driver (psycopg reports rowcount -1 here).
    return len(session.execute(stmt, list(rows)).all())


def upsert_newer(
    session: Session, model: type[SQLModel], row: dict[str, Any], keys: Sequence[str], version: str
) -> bool:
    """Insert the row, or update it when its `version` is newer; True when it was written."""
    stmt = _upsert_statement(_dialect(session), table_of(model), tuple(keys), tuple(row), version)
    return session.execute(stmt, row).first() is not None


def upsert(
    session: Session, model: type[SQLModel], rows: Sequence[dict[str, Any]], keys: Sequence[str]
) -> None:
    """Insert rows or overwrite the ones whose key exists."""
    if not rows:
        return
    stmt = _upsert_statement(_dialect(session), table_of(model), tuple(keys), tuple(rows[0]), None)
    session.execute(stmt, list(rows))
