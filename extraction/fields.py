"""Finders for the single-value fields: numbers, dates, identifiers and the currency."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from decimal import Decimal

from extraction import keywords
from extraction.amounts import currencies_in, find_amounts
from extraction.dates import find_dates, fold
from extraction.identifiers import clean_reference, find_ibans, find_vat_ids
from extraction.layout import DocumentLayout, Segment
from extraction.proximity import Candidate, best, find_hits, values_near

_CUSTOMER_CONTEXT = re.compile(keywords.CUSTOMER_MARKERS)


def _date_parser(day_first: bool) -> Callable[[str], date | None]:
    """A parser taking the first date of a value, read the document's way round."""

    def parse(text: str) -> date | None:
        dates = find_dates(text, day_first=day_first)
        # The date must open the value: "Date: 03/20/2023", not "Date of service ... 2023".
        return dates[0].value if dates and dates[0].start <= 3 else None

    return parse


def invoice_number(doc: DocumentLayout) -> Candidate[str] | None:
    """The invoice number next to its label."""
    return best(values_near(doc, keywords.INVOICE_NUMBER, clean_reference))


def po_number(doc: DocumentLayout) -> Candidate[str] | None:
    """The buyer's purchase order number next to its label."""
    return best(values_near(doc, keywords.PO_NUMBER, clean_reference))


def invoice_date(doc: DocumentLayout, day_first: bool) -> Candidate[date] | None:
    """The issue date by its label, else the date on the invoice number's line ("n°12 du ...")."""
    found = best(values_near(doc, keywords.INVOICE_DATE, _date_parser(day_first)))
    if found:
        return found
    for hit in find_hits(doc, keywords.INVOICE_NUMBER[:1]):
        dates = find_dates(hit.rest, day_first=day_first)
        if dates:
            return Candidate(dates[0].value, 0.6 * hit.segment.confidence, hit.segment)
    return None


def due_date(doc: DocumentLayout, day_first: bool) -> Candidate[date] | None:
    """The payment due date by its label."""
    return best(values_near(doc, keywords.DUE_DATE, _date_parser(day_first)))


def _is_customer_context(segment: Segment) -> bool:
    return _CUSTOMER_CONTEXT.search(fold(segment.text)) is not None


def iban(doc: DocumentLayout) -> Candidate[str] | None:
    """The supplier's IBAN: a valid IBAN, preferably by an "IBAN" label, not the customer's."""
    labelled = {id(hit.segment) for hit in find_hits(doc, keywords.IBAN)}
    candidates: list[Candidate[str]] = []
    for segment in doc.segments():
        if _is_customer_context(segment):
            continue
        for value in find_ibans(segment.text):
            score = (1.0 if id(segment) in labelled else 0.8) * segment.confidence
            candidates.append(Candidate(value, score, segment))
    return best(candidates)


def _national_vat(text: str) -> str | None:
    """A labelled tax number without country pattern (Polish NIP "774-00-01-454")."""
    compact = re.sub(r"[\s.\-]", "", text.split(",")[0]).upper()
    match = re.match(r"([A-Z]{0,2}\d{8,12})(?![0-9])", compact)
    return match.group(1) if match else None


def supplier_vat_id(doc: DocumentLayout) -> Candidate[str] | None:
    """The supplier's VAT id: by country pattern anywhere, else a labelled tax number."""
    candidates: list[Candidate[str]] = []
    for segment in doc.segments():
        if not _is_customer_context(segment):
            candidates += [
                Candidate(v, 0.9 * segment.confidence, segment) for v in find_vat_ids(segment.text)
            ]
    found = best(candidates)
    if found:
        return found
    labelled = values_near(doc, keywords.VAT_ID, _national_vat)
    return best(c for c in labelled if not _is_customer_context(c.segment))


def currency(doc: DocumentLayout, total: Candidate[Decimal] | None) -> Candidate[str] | None:
    """The currency written on the total's line, else the one the document names most."""
    if total is not None:
        line = doc.line_of(total.segment)
        codes = [m.currency for s in line for m in find_amounts(s.text) if m.currency]
        codes += [c for c in currencies_in(s.text for s in line)]
        if codes:
            return Candidate(codes[-1], 0.9 * total.segment.confidence, total.segment)
    counts = currencies_in(s.text for s in doc.segments())
    if not counts:
        return None
    code, _ = counts.most_common(1)[0]
    anchor = next(iter(doc.segments()))
    return Candidate(code, 0.7, anchor)
