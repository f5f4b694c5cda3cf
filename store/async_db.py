"""The asyncio engine the API uses (SQLite through aiosqlite, PostgreSQL through psycopg)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from store.db import sqlite_pragmas


def make_async_engine(url: str) -> AsyncEngine:
    """An asyncio engine for the API: aiosqlite for SQLite files, psycopg's async mode otherwise."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(
            parsed.set(drivername="sqlite+aiosqlite"), hide_parameters=True
        )
        event.listen(engine.sync_engine, "connect", sqlite_pragmas)
        return engine
    return create_async_engine(
        parsed.set(drivername="postgresql+psycopg"),
        pool_size=20,
        max_overflow=20,
        pool_pre_ping=True,
        hide_parameters=True,
    )
