"""Invoice lines from a table: a header row names the columns, rows below hold the items."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

from extraction import keywords
from extraction.amounts import find_amounts
from extraction.dates import fold
from extraction.layout import DocumentLayout, Segment
from extraction.proximity import find_hits
from schemas.invoice_fields import InvoiceLine

_ROLES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (role, re.compile(rf"(?<![a-z])(?:{words})(?![a-z])"))
    for role, words in (
        ("amount", r"amount|line total|bedrag|montant(?: ht)?|zeilenbetrag|betrag|gesamt|wartosc"
         r"|prijs incl|total"),
        ("unit_price", r"unit price|price|rate|prijs(?: per stuk)?|p\.u\.|prix(?: unitaire)?"
         r"|einzelpreis|vk-preis|cena"),
        ("quantity", r"qty|quantity|aantal|menge|nombre|quantite|qte|ilosc|hoeveelheid|anzahl"),
        ("description", r"description|omschrijving|artikel|designation|beschreibung|bezeichnung"
         r"|item|product|title|libelle|nazwa|produkt|article"),
    )
)  # fmt: skip


@dataclass(frozen=True)
class _Column:
    role: str
    x0: float
    x1: float


def _role(text: str) -> str:
    folded = fold(text)
    for role, pattern in _ROLES:
        if pattern.search(folded):
            return role
    return "other"


def _header(line: list[Segment]) -> list[_Column] | None:
    """The columns, if this line is a table header with a description and an amount column."""
    columns = [_Column(_role(s.text), s.x0, s.x1) for s in line]
    roles = {c.role for c in columns}
    if "description" in roles and roles & {"amount", "unit_price"} and len(columns) >= 3:
        return columns
    return None


def _column_of(segment: Segment, columns: list[_Column]) -> _Column:
    """The column a value sits in: the one it overlaps most, else the nearest by centre."""
    middle = (segment.x0 + segment.x1) / 2

    def overlap(column: _Column) -> float:
        return min(segment.x1, column.x1) - max(segment.x0, column.x0)

    overlapping = max(columns, key=overlap)
    if overlap(overlapping) > 0:
        return overlapping
    return min(columns, key=lambda c: abs((c.x0 + c.x1) / 2 - middle))


def _number(text: str, *, bare: bool) -> Decimal | None:
    found = find_amounts(text, bare_integers=bare)
    return found[-1].value if found else None


def _row(line: list[Segment], columns: list[_Column]) -> InvoiceLine | None:
    """An item from a row with an amount or price; None for a text-only (continuation) row."""
    values: dict[str, str] = {}
    for segment in line:
        role = _column_of(segment, columns).role
        if role in ("description", "other") and not re.search(r"[A-Za-z]{2}", segment.text):
            continue
        if role == "other" and segment is line[0]:
            role = "description"
        values[role] = f"{values[role]} {segment.text}" if role in values else segment.text
    amount = _number(values.get("amount", ""), bare=False)
    price = _number(values.get("unit_price", ""), bare=False)
    if amount is None and price is None or "description" not in values:
        return None
    return InvoiceLine(
        description=values["description"][:1000],
        quantity=_number(values.get("quantity", ""), bare=True),
        unit_price=price,
        amount=amount,
    )


def _table_lines(doc: DocumentLayout) -> Iterator[tuple[list[_Column], list[Segment], bool]]:
    """Each line inside an item table with the table's columns and whether it is the header;
    a table runs from its header to a total or subtotal line or the page's end."""
    stops = {id(h.segment) for h in find_hits(doc, keywords.TOTAL + keywords.SUBTOTAL)}
    for page in doc.pages:
        columns: list[_Column] | None = None
        for line in page.lines:
            header = _header(line)
            if header:
                columns = header
                yield columns, line, True
            elif columns is not None and any(id(s) in stops for s in line):
                columns = None
            elif columns is not None:
                yield columns, line, False


def table_segments(doc: DocumentLayout) -> set[int]:
    """Ids of the segments in item tables, whose amounts are no invoice totals."""
    return {id(s) for _, line, _ in _table_lines(doc) for s in line}


def find_lines(doc: DocumentLayout) -> list[InvoiceLine]:
    """Items of every table whose header names a description and an amount or price column."""
    items: list[InvoiceLine] = []
    previous: Segment | None = None
    for columns, line, is_header in _table_lines(doc):
        if is_header:
            previous = None
            continue
        item = _row(line, columns)
        if item:
            items.append(item)
            previous = line[0]
        elif previous and _continues(previous, line, columns):
            last = items[-1]
            text = f"{last.description}\n{line[0].text}"[:1000]
            items[-1] = last.model_copy(update={"description": text})
            previous = line[0]
        else:
            previous = None
    return items


def _continues(previous: Segment, line: list[Segment], columns: list[_Column]) -> bool:
    """Whether a text-only line right under an item goes on with its description."""
    segment = line[0]
    close = segment.page == previous.page and segment.top - previous.bottom < segment.height
    return len(line) == 1 and close and _column_of(segment, columns).role == "description"
