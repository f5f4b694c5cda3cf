"""Supplier and customer names: labels, company legal forms, and the letterhead.

The customer block (under "Bill to", "Factuuradres", ...) is found first so that a company
name inside it is never taken for the supplier.
"""

from __future__ import annotations

import re
from collections import Counter

from extraction import keywords
from extraction.dates import fold
from extraction.layout import DocumentLayout, Segment
from extraction.proximity import Candidate, below, best, find_hits, find_label, values_near

_LEGAL_FORM = re.compile(
    r"^(?P<name>.{2,80}?(?:\b|\s)(?:inc|ltd|llc|plc|limited|corp|corporation|gmbh|ag|kg|ohg|ug"
    r"|b\.\s?v|bv|n\.\s?v|nv|sas|sasu|sarl|s\.a|sa|srl|s\.r\.l|spa|s\.p\.a|oy|ab|a/s|aps"
    r"|sp\.\s?z\s?o\.\s?o|s\.c|spolka\s+akcyjna|spolka\s+z\s+o\.o|pvt\.?\s+ltd|private\s+limited)"
    r"\.?)(?=[\s,;:)\-]|$)",
    re.IGNORECASE,
)
_TITLE = re.compile(rf"^\W*{keywords.TITLES}\W*$|\s+{keywords.TITLES}\W*$", re.IGNORECASE)
_CUSTOMER_BLOCK_LINES = 6
_MAX_NAME_WORDS = 7


def _clean_name(text: str) -> str | None:
    """A party name from a segment: no title word, label or trailing punctuation."""
    text = _TITLE.sub("", text).strip(" ,;:-–")
    if ":" in text:
        text = text.rsplit(":", 1)[1].strip()
    letters = re.sub(r"[^A-Za-zÀ-ÿ]", "", text)
    if len(letters) < 2 or len(text.split()) > _MAX_NAME_WORDS or text.startswith("("):
        return None
    return text


def _legal_name(text: str) -> str | None:
    """The company name ending with its legal form ("QualityHosting AG - Uferweg 40" gives
    "QualityHosting AG"), or None."""
    text = text.rsplit(":", 1)[-1].strip()
    match = _LEGAL_FORM.match(fold(text))
    if not match:
        return None
    name = text[: match.end("name")].strip(" ,")
    words = name.split()
    # Some letters besides the legal form: "1.00 kg" is a weight, not a company.
    if len(words) > _MAX_NAME_WORDS or not any(re.search(r"[^\W\d_]{3}", w) for w in words[:-1]):
        return None
    return name


def customer_block(doc: DocumentLayout) -> set[int]:
    """Ids of the segments in customer address blocks: the label and the lines under it."""
    block: set[int] = set()
    for hit in find_hits(doc, keywords.CUSTOMER):
        block.add(id(hit.segment))
        block.update(id(s) for s in below(doc, hit.segment, _CUSTOMER_BLOCK_LINES))
    return block


def _name_not_label(text: str) -> str | None:
    """A name, unless the text is itself a label ("Bill To: | Ship To:")."""
    if find_label(text, keywords.CUSTOMER + keywords.SUPPLIER):
        return None
    return _clean_name(text)


def customer_name(doc: DocumentLayout) -> Candidate[str] | None:
    """The customer's name under or after its label."""
    return best(values_near(doc, keywords.CUSTOMER, _name_not_label, max_lines_below=2))


def _mentions(doc: DocumentLayout, name: str) -> int:
    """How many segments mention the name: a supplier repeats its own in header and footer."""
    core = fold(name.split()[0])
    return sum(1 for s in doc.segments() if core in fold(s.text))


def _letterhead(doc: DocumentLayout, excluded: set[int]) -> Candidate[str] | None:
    """The first line of the first page, unless it is a title or belongs to the customer."""
    if not doc.pages or not doc.pages[0].lines:
        return None
    for segment in doc.pages[0].lines[0]:
        if id(segment) in excluded:
            continue
        name = _clean_name(segment.text)
        if name and not re.search(r"\d", name):
            return Candidate(name, 0.45 * segment.confidence, segment)
    return None


def supplier_name(doc: DocumentLayout) -> Candidate[str] | None:
    """The supplier: a labelled name, else a company with a legal form, else the letterhead."""
    excluded = customer_block(doc)
    labelled = values_near(doc, keywords.SUPPLIER, _name_not_label, max_lines_below=2)
    candidates = [c for c in labelled if id(c.segment) not in excluded]
    counts: Counter[str] = Counter()
    first: dict[str, Segment] = {}
    for segment in doc.segments():
        name = _legal_name(segment.text) if id(segment) not in excluded else None
        if name:
            counts[name] += 1
            first.setdefault(name, segment)
    for name, segment in first.items():
        page = doc.pages[segment.page]
        on_top = segment.page == 0 and segment.top < page.height * 0.25
        repeats = min(_mentions(doc, name) - 1, 3)
        score = 0.6 + (0.1 if on_top else 0.0) + 0.05 * repeats
        candidates.append(Candidate(name, score * segment.confidence, segment))
    letterhead = _letterhead(doc, excluded)
    if letterhead:
        candidates.append(letterhead)
    return best(candidates)
