"""Total, subtotal and tax: labelled amounts chosen together so that subtotal + tax = total."""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from extraction import keywords
from extraction.amounts import find_amounts
from extraction.dates import fold
from extraction.layout import DocumentLayout, Segment
from extraction.line_items import table_segments
from extraction.proximity import BELOW, INLINE, Candidate, Hit, Label, below, find_hits, right_of

# Bonus for a total, subtotal and tax that add up, and cost of a pair that cannot be right.
_CONSISTENT = 1.5
_INCONSISTENT = -2.0
_KEEP = 6  # candidates kept per field before trying the combinations


@dataclass
class Totals:
    """The chosen amounts, None where nothing fits, and what was assumed."""

    total: Candidate[Decimal] | None = None
    subtotal: Candidate[Decimal] | None = None
    tax: Candidate[Decimal] | None = None
    warnings: list[str] = field(default_factory=list)


def _has_words(segment: Segment) -> bool:
    """Whether a segment holds words (another label), not just amounts, counts and symbols."""
    return re.search(r"[a-z]{3,}", fold(segment.text)) is not None


def _amount_after(doc: DocumentLayout, hit: Hit) -> Candidate[Decimal] | None:
    """The last amount after the label on its line; stops at the next label. Else one below."""
    amounts = [m.value for m in find_amounts(hit.rest)]
    for segment in right_of(doc, hit.segment):
        if _has_words(segment):
            break
        amounts += [m.value for m in find_amounts(segment.text)]
    weight = hit.label.weight * hit.segment.confidence
    if amounts:
        return Candidate(amounts[-1], weight * INLINE, hit.segment)
    if hit.rest:
        return None
    for segment in below(doc, hit.segment):
        found = find_amounts(segment.text)
        if found:
            return Candidate(found[-1].value, weight * BELOW, segment)
    return None


def _candidates(doc: DocumentLayout, labels: Sequence[Label]) -> list[Candidate[Decimal] | None]:
    """One candidate per value, the best score plus a little for each repetition."""
    by_value: dict[Decimal, list[Candidate[Decimal]]] = {}
    in_tables = table_segments(doc)
    for hit in find_hits(doc, labels):
        if id(hit.segment) in in_tables:
            continue
        found = _amount_after(doc, hit)
        if found is not None:
            by_value.setdefault(found.value, []).append(found)
    merged = []
    for same in by_value.values():
        top = max(same, key=lambda c: c.score)
        merged.append(Candidate(top.value, top.score + 0.05 * (len(same) - 1), top.segment))
    merged.sort(key=lambda c: -c.score)
    return [*merged[:_KEEP], None]


def _score(
    total: Candidate[Decimal],
    subtotal: Candidate[Decimal] | None,
    tax: Candidate[Decimal] | None,
) -> float:
    score = total.score + (subtotal.score if subtotal else 0) + (tax.score if tax else 0)
    if subtotal and tax:
        fits = subtotal.value + tax.value == total.value
        score += _CONSISTENT if fits else _INCONSISTENT
    elif (subtotal and subtotal.value > total.value) or (tax and not 0 <= tax.value < total.value):
        score += _INCONSISTENT
    return score


def _derive(totals: Totals) -> None:
    """Fill what follows from the others: subtotal = total - tax, tax = total - subtotal."""
    total, subtotal, tax = totals.total, totals.subtotal, totals.tax
    if total and tax and not subtotal:
        totals.subtotal = Candidate(total.value - tax.value, 0.6 * total.score, total.segment)
    elif total and subtotal and not tax and subtotal.value <= total.value:
        totals.tax = Candidate(total.value - subtotal.value, 0.6 * total.score, total.segment)
    elif total and not subtotal and not tax:
        # No tax anywhere on the invoice: the total is all there is to pay, untaxed.
        totals.subtotal = Candidate(total.value, 0.3 * total.score, total.segment)
        totals.warnings.append("no tax shown: subtotal taken equal to the total")
    elif subtotal and tax and not total:
        value = subtotal.value + tax.value
        totals.total = Candidate(value, 0.6 * min(subtotal.score, tax.score), subtotal.segment)


def find_totals(doc: DocumentLayout) -> Totals:
    """The most likely total, subtotal and tax, preferring a combination that adds up."""
    totals_found = [c for c in _candidates(doc, keywords.TOTAL) if c and c.value > 0]
    subtotals = _candidates(doc, keywords.SUBTOTAL)
    taxes = _candidates(doc, keywords.TAX)
    result = Totals()
    best_score = float("-inf")
    for total, subtotal, tax in itertools.product(totals_found, subtotals, taxes):
        score = _score(total, subtotal, tax)
        if score > best_score:
            best_score = score
            result = Totals(total, subtotal, tax)
    if not totals_found:
        result.subtotal = subtotals[0]
        result.tax = taxes[0]
    _derive(result)
    # Confidences are scores capped at one: a consistent triple may sum above it.
    for name in ("total", "subtotal", "tax"):
        found = getattr(result, name)
        if found is not None:
            setattr(result, name, Candidate(found.value, min(found.score, 1.0), found.segment))
    return result
