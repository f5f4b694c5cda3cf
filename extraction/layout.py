"""Words with positions grouped into lines and segments, the same for PDF text and OCR.

A segment is a run of words on one line with no wide gap inside: "Invoice Date: 03/20/2023"
is one, while the columns of a table row are separate segments. The field finders only see
segments, so they work alike on a PDF's text layer and on tesseract's words.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from statistics import median

# A gap wider than this many line heights starts a new segment; word spacing is ~0.3.
SEGMENT_GAP = 1.0


@dataclass(frozen=True)
class Word:
    """One word and its box in points from the page's top-left corner."""

    text: str
    x0: float
    x1: float
    top: float
    bottom: float
    confidence: float = 1.0

    @property
    def height(self) -> float:
        """The box's height, at least one point."""
        return max(self.bottom - self.top, 1.0)


@dataclass(frozen=True)
class Segment:
    """Words of one line close enough together to read as one phrase."""

    words: tuple[Word, ...]
    page: int
    line: int  # index of the line on its page

    @property
    def text(self) -> str:
        """The words joined by single spaces."""
        return " ".join(w.text for w in self.words)

    @property
    def x0(self) -> float:
        """Left edge."""
        return self.words[0].x0

    @property
    def x1(self) -> float:
        """Right edge."""
        return self.words[-1].x1

    @property
    def top(self) -> float:
        """Top edge."""
        return min(w.top for w in self.words)

    @property
    def bottom(self) -> float:
        """Bottom edge."""
        return max(w.bottom for w in self.words)

    @property
    def height(self) -> float:
        """The tallest word's height."""
        return max(w.height for w in self.words)

    @property
    def confidence(self) -> float:
        """The words' mean confidence (OCR gives stray marks like "–" a confidence of 0)."""
        return sum(w.confidence for w in self.words) / len(self.words)


@dataclass
class PageLayout:
    """One page's lines, each a list of segments from left to right."""

    number: int
    width: float
    height: float
    lines: list[list[Segment]] = field(default_factory=list)

    def segments(self) -> Iterable[Segment]:
        """Every segment from top to bottom, left to right."""
        for line in self.lines:
            yield from line


@dataclass
class DocumentLayout:
    """All pages of one document in reading order."""

    pages: list[PageLayout]

    def segments(self) -> Iterable[Segment]:
        """Every segment of every page."""
        for page in self.pages:
            yield from page.segments()

    def line_of(self, segment: Segment) -> list[Segment]:
        """The segments on the same line as this one."""
        return self.pages[segment.page].lines[segment.line]

    def full_text(self) -> str:
        """The document as plain text, one line per line."""
        return "\n".join(
            " ".join(s.text for s in line) for page in self.pages for line in page.lines
        )


def _group_lines(words: Sequence[Word]) -> list[list[Word]]:
    """Words whose vertical middles fall within half a line height of each other share a line."""
    lines: list[list[Word]] = []
    middles: list[float] = []
    for word in sorted(words, key=lambda w: (w.top + w.bottom) / 2):
        middle = (word.top + word.bottom) / 2
        if lines and abs(middle - middles[-1]) <= word.height * 0.5:
            lines[-1].append(word)
            middles[-1] = median((w.top + w.bottom) / 2 for w in lines[-1])
        else:
            lines.append([word])
            middles.append(middle)
    return [sorted(line, key=lambda w: w.x0) for line in lines]


def _glue_touching(line: list[Word]) -> list[Word]:
    """Join words that touch: some PDFs draw a capital apart from the rest of its word."""
    glued = [line[0]]
    for word in line[1:]:
        last = glued[-1]
        if word.x0 - last.x1 < word.height * 0.1:
            glued[-1] = Word(
                text=last.text + word.text,
                x0=last.x0,
                x1=max(last.x1, word.x1),
                top=min(last.top, word.top),
                bottom=max(last.bottom, word.bottom),
                confidence=min(last.confidence, word.confidence),
            )
        else:
            glued.append(word)
    return glued


def _split_segments(line: list[Word]) -> list[list[Word]]:
    """Cut a line where the gap between two words is wider than SEGMENT_GAP line heights."""
    height = median(w.height for w in line)
    runs: list[list[Word]] = [[line[0]]]
    for previous, word in zip(line, line[1:], strict=False):
        if word.x0 - previous.x1 > height * SEGMENT_GAP:
            runs.append([word])
        else:
            runs[-1].append(word)
    return runs


def build_page(number: int, width: float, height: float, words: Sequence[Word]) -> PageLayout:
    """Lay out one page's words into lines and segments."""
    page = PageLayout(number=number, width=width, height=height)
    for words_of_line in _group_lines([w for w in words if w.text.strip()]):
        index = len(page.lines)
        page.lines.append(
            [
                Segment(words=tuple(run), page=number, line=index)
                for run in _split_segments(_glue_touching(words_of_line))
            ]
        )
    return page
