"""Streamed exports: rows read in batches from a server-side cursor, written as CSV or JSON lines.

Nothing here holds more than one batch: a 100,000-row export costs what a 500-row one does.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator, Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from fastapi.responses import StreamingResponse
from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql import Select

AnySelect = Select[*tuple[Any, ...]]

BATCH = 500
NDJSON = "application/x-ndjson"


def csv_line(values: Iterable[object]) -> str:
    """One CSV line; a cell starting with = + - @ is quoted as text (no spreadsheet formulas)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(
        [f"'{v}" if isinstance(v, str) and v[:1] in ("=", "+", "-", "@") else v for v in values]
    )
    return buffer.getvalue()


def _plain(value: object) -> object:
    if isinstance(value, dict):  # a CSV cell holds JSON text
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def json_line(record: Mapping[str, object]) -> str:
    """One JSON object on one line."""
    plain = {k: v if isinstance(v, dict) else _plain(v) for k, v in record.items()}
    return json.dumps(plain, ensure_ascii=False, default=str) + "\n"


async def stream_rows(engine: AsyncEngine, query: AnySelect) -> AsyncIterator[Row[Any]]:
    """The query's rows, fetched BATCH at a time through a server-side cursor."""
    async with engine.connect() as connection:
        result = await connection.stream(query.execution_options(yield_per=BATCH))
        async for batch in result.partitions(BATCH):
            for row in batch:
                yield row


async def csv_lines(columns: tuple[str, ...], rows: AsyncIterator[Any]) -> AsyncIterator[str]:
    """A header line, then one line per row (a mapping, or attributes named like the columns)."""
    yield csv_line(columns)
    async for row in rows:
        if isinstance(row, Mapping):
            yield csv_line(_plain(row[name]) for name in columns)
        else:
            yield csv_line(_plain(getattr(row, name)) for name in columns)


def csv_download(lines: AsyncIterator[str], filename: str) -> StreamingResponse:
    """A streamed CSV attachment."""
    return StreamingResponse(
        lines,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def jsonl_download(lines: AsyncIterator[str], filename: str) -> StreamingResponse:
    """A streamed JSON-lines attachment."""
    return StreamingResponse(
        lines,
        media_type=NDJSON,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
