"""Reading an uploaded CSV file for the master-data imports, and collecting what is wrong with
its rows so that one answer lists all of it.

Imports are all or nothing: every row is checked before anything is written, and a file with
any bad row is refused whole, so a half-imported file never needs cleaning up.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from fastapi import UploadFile
from pydantic import BaseModel, ValidationError

from api.problems import Problem
from api.routes.documents import read_limited
from schemas.erp_api import ImportRowError

Model = TypeVar("Model", bound=BaseModel)

MAX_ROWS = 10_000
MAX_LISTED_ERRORS = 500
_DELIMITERS = (",", ";", "\t")

IMPORT_POLICY = (
    "The file is UTF-8 CSV (a byte-order mark is fine) with a header row naming the columns in "
    "any order, separated by commas, semicolons or tabs. **All or nothing:** every row is "
    "checked first; when any row is wrong nothing is imported and the 422 problem lists each "
    "wrong row in `row_errors` (`row` counts records as a spreadsheet shows them, the header "
    "being row 1; `column` names the cell when one cell is to blame). Rows are matched to "
    "existing records as described above and updated; a column the file leaves out leaves "
    "that field as it is, while an empty cell clears it. `dry_run=true` checks the file and "
    f"answers the counts without writing. At most {MAX_ROWS} rows and the upload size limit "
    "(413 beyond either); a file that is not UTF-8 text or not CSV answers 422."
)
IMPORT_RESPONSES: dict[int | str, dict[str, Any]] = {
    413: {"description": "The file is too large or has too many rows"},
    422: {"description": "Not a CSV file, or rows that are wrong (all listed in row_errors)"},
}


@dataclass(frozen=True)
class CsvRow:
    """One data row: its number in the file (the header is row 1) and its cells by column."""

    number: int
    cells: dict[str, str]

    def get(self, column: str) -> str | None:
        """The cell, stripped; None when it is empty or the file has no such column."""
        return self.cells.get(column) or None


@dataclass
class CsvFile:
    """The columns a file has and its data rows."""

    columns: tuple[str, ...]
    rows: list[CsvRow]

    def has(self, column: str) -> bool:
        """Whether the file has this column."""
        return column in self.columns


def split_cell(value: str | None, separators: str) -> list[str]:
    """A cell holding a list ("a.example; b.example") as its items."""
    if not value:
        return []
    return [item.strip() for item in re.split(f"[{re.escape(separators)}]+", value) if item.strip()]


@dataclass
class RowErrors:
    """Everything wrong with an imported file's rows."""

    items: list[ImportRowError] = field(default_factory=list)

    def add(self, row: int, message: str, column: str | None = None) -> None:
        """Note one problem of a row."""
        self.items.append(ImportRowError(row=row, column=column, message=message))

    def parse(
        self,
        model: type[Model],
        row: CsvRow,
        data: Mapping[str, object],
        columns: Mapping[str, str] | None = None,
    ) -> Model | None:
        """The row as the model, or None with its problems noted; `columns` maps the model's
        field names to the file's column names where they differ."""
        try:
            # An empty cell is a missing value: "Field required" says more than "not a string".
            return model.model_validate({k: v for k, v in data.items() if v is not None})
        except ValidationError as invalid:
            for error in invalid.errors():
                loc = error.get("loc", ())
                name = str(loc[0]) if loc else None
                column = (columns or {}).get(name, name) if name else None
                message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
                self.add(row.number, message, column)
            return None

    def parse_all(
        self,
        model: type[Model],
        rows: Sequence[CsvRow],
        data_of: Callable[[CsvRow], Mapping[str, object]],
        columns: Mapping[str, str] | None = None,
    ) -> list[tuple[CsvRow, Model]]:
        """Every row that parses as the model, beside its row; the others' problems noted."""
        parsed = ((row, self.parse(model, row, data_of(row), columns)) for row in rows)
        return [(row, item) for row, item in parsed if item is not None]

    def refuse_if_any(self) -> None:
        """422 listing every problem (up to a bound) when there are any."""
        if not self.items:
            return
        rows = len({e.row for e in self.items})
        listed = sorted(self.items, key=lambda e: e.row)[:MAX_LISTED_ERRORS]
        more = len(self.items) - len(listed)
        detail = f"{rows} row(s) of the file are wrong; nothing was imported"
        if more:
            detail += f" (the first {len(listed)} problems are listed, {more} more are not)"
        raise Problem(
            422, detail, extra={"row_errors": [e.model_dump(mode="json") for e in listed]}
        )


def _header(first_line: str, required: Sequence[str]) -> str:
    """The delimiter that makes the header name every required column."""
    for delimiter in _DELIMITERS:
        cells = next(csv.reader([first_line], delimiter=delimiter), [])
        if set(required) <= {c.strip().lower() for c in cells}:
            return delimiter
    raise Problem(
        422,
        f"the first row must name the columns {', '.join(required)} (and any of the optional "
        "ones), separated by commas, semicolons or tabs",
    )


def _columns(
    header: list[str], required: Sequence[str], optional: Sequence[str]
) -> tuple[str, ...]:
    columns = tuple(cell.strip().lower() for cell in header)
    unknown = sorted(set(columns) - set(required) - set(optional))
    if unknown or len(set(columns)) != len(columns):
        raise Problem(
            422,
            f"the header has unknown or repeated columns ({', '.join(unknown) or 'repeated'}); "
            f"the columns are {', '.join([*required, *optional])}",
        )
    return columns


def _decode(data: bytes) -> str:
    if b"\x00" in data:
        raise Problem(422, "this is not a CSV file: it holds binary data")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as bad:
        raise Problem(
            422, f"the file is not UTF-8 text (byte {bad.start}); save it as CSV UTF-8"
        ) from None
    if not text.strip():
        raise Problem(422, "the file is empty")
    return text


async def read_csv(
    upload: UploadFile,
    max_bytes: int,
    required: Sequence[str],
    optional: Sequence[str],
    errors: RowErrors,
) -> CsvFile:
    """The uploaded file's rows (blank ones skipped); a row whose cell count is off is noted in
    `errors`. Problems with the file as a whole answer at once: 413 too large, 422 not CSV."""
    text = _decode(await read_limited(upload, max_bytes))
    delimiter = _header(text.lstrip("\r\n").splitlines()[0], required)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    columns: tuple[str, ...] = ()
    rows: list[CsvRow] = []
    try:
        # Numbered as a spreadsheet numbers them: blank records count, though they are skipped.
        for number, record in enumerate(reader, start=1):
            if not any(cell.strip() for cell in record):
                continue
            if not columns:
                columns = _columns(record, required, optional)
                continue
            if len(rows) >= MAX_ROWS:
                raise Problem(413, f"the file has more than {MAX_ROWS} rows; split it")
            if len(record) != len(columns):
                errors.add(number, f"{len(record)} cells where the header has {len(columns)}")
                continue
            cells = {name: cell.strip() for name, cell in zip(columns, record, strict=True)}
            rows.append(CsvRow(number, cells))
    except csv.Error as broken:
        raise Problem(
            422, f"the file is not valid CSV near line {reader.line_num}: {broken}"
        ) from None
    if not rows and not errors.items:
        raise Problem(422, "the file has a header but no rows")
    return CsvFile(columns, rows)
