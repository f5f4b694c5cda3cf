"""Label/value proximity: find a label, then read its value inline, to its right or below it.

"Invoice Date: 03/20/2023" has the value inline, "Rechnungsnr.    30064443" in the next
segment to the right, and a table header "Factuur datum" over "8-9-2022" below it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

from extraction.dates import fold
from extraction.layout import DocumentLayout, Segment

T = TypeVar("T")

# How much a value's position says it belongs to its label.
INLINE, RIGHT, BELOW = 1.0, 0.95, 0.85


@dataclass(frozen=True)
class Label:
    """Phrases (regex fragments on folded text) that announce a field, and how strongly."""

    pattern: re.Pattern[str]
    weight: float


def label(weight: float, *phrases: str, anywhere: bool = False) -> Label:
    """A label matching any phrase at a segment's start (or anywhere, if asked)."""
    alternatives = "|".join(sorted(phrases, key=len, reverse=True))
    start = r"(?<![a-z])" if anywhere else r"^[^a-z0-9]*"
    return Label(re.compile(rf"{start}(?:{alternatives})(?![a-z_])\s*[:.]?\s*"), weight)


@dataclass(frozen=True)
class Hit:
    """A label found in a segment, with the text written after it in that segment."""

    label: Label
    segment: Segment
    rest: str


@dataclass(frozen=True)
class Candidate(Generic[T]):
    """A value read near a label and how much it is trusted (0..1)."""

    value: T
    score: float
    segment: Segment


def find_label(text: str, labels: Iterable[Label]) -> tuple[Label, re.Match[str]] | None:
    """The strongest label matching the text and where it matched, or None."""
    folded = fold(text)
    for lab in sorted(labels, key=lambda lab: -lab.weight):
        match = lab.pattern.search(folded)
        if match:
            return lab, match
    return None


def find_hits(doc: DocumentLayout, labels: Iterable[Label]) -> list[Hit]:
    """Every segment a label matches, with the strongest label per segment."""
    labels = tuple(labels)
    hits: list[Hit] = []
    for segment in doc.segments():
        found = find_label(segment.text, labels)
        if found:
            lab, match = found
            text = segment.text
            # fold() keeps lengths for all but rare ligatures; then the folded rest will do.
            source = text if len(fold(text)) == len(text) else fold(text)
            hits.append(Hit(lab, segment, source[match.end() :].strip()))
    return hits


def right_of(doc: DocumentLayout, segment: Segment) -> list[Segment]:
    """The segments after this one on its line, left to right."""
    line = doc.line_of(segment)
    return line[line.index(segment) + 1 :]


def below(doc: DocumentLayout, segment: Segment, max_lines: int = 1) -> Iterator[Segment]:
    """Segments under this one that overlap it horizontally, from the nearest max_lines lines
    that have any; lines further than three line heights down are out of reach."""
    page = doc.pages[segment.page]
    reach = segment.bottom + 3 * segment.height
    for line in page.lines[segment.line + 1 :]:
        overlapping = [o for o in line if o.x0 < segment.x1 + 2 and o.x1 > segment.x0 - 2]
        if not line or line[0].top > reach or max_lines <= 0:
            return
        if overlapping:
            max_lines -= 1
            reach = overlapping[0].bottom + 3 * segment.height
            yield from overlapping


def value_near(
    doc: DocumentLayout,
    hit: Hit,
    parse: Callable[[str], T | None],
    *,
    max_lines_below: int = 1,
) -> Candidate[T] | None:
    """The label's value: inline if text follows it, else the next segment right, else below."""
    weight = hit.label.weight
    if hit.rest:
        value = parse(hit.rest)
        if value is None:
            return None
        return Candidate(value, weight * INLINE * hit.segment.confidence, hit.segment)
    neighbours = right_of(doc, hit.segment)[:1]
    for segment in neighbours:
        value = parse(segment.text)
        if value is not None:
            return Candidate(value, weight * RIGHT * segment.confidence, segment)
    for segment in below(doc, hit.segment, max_lines_below):
        value = parse(segment.text)
        if value is not None:
            return Candidate(value, weight * BELOW * segment.confidence, segment)
    return None


def values_near(
    doc: DocumentLayout,
    labels: Iterable[Label],
    parse: Callable[[str], T | None],
    *,
    max_lines_below: int = 1,
) -> list[Candidate[T]]:
    """The values of every hit of these labels, best first."""
    found = [
        value_near(doc, hit, parse, max_lines_below=max_lines_below)
        for hit in find_hits(doc, labels)
    ]
    return sorted((c for c in found if c), key=lambda c: -c.score)


def best(candidates: Iterable[Candidate[T]]) -> Candidate[T] | None:
    """The most trusted candidate; among equals, the first on the page."""
    ordered = sorted(candidates, key=lambda c: (-c.score, c.segment.page, c.segment.line))
    return ordered[0] if ordered else None
