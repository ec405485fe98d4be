"""Page layout for extraction: OCR words grouped into visual lines with character offsets.

Every extracted value points back to the words it came from, so a line keeps, for each word,
where it starts and ends in the line's text; ``Line.locate`` turns a character span back into a
box on the stored page image and an OCR confidence.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from migrate.records import Box, Word


@dataclass(frozen=True, slots=True)
class Line:
    """A run of words on one visual row; a row with a wide gap gives two lines with the same ``row``."""

    page: int  # page number, from 1
    row: int  # index of the visual row on the page, top to bottom
    words: tuple[Word, ...]
    starts: tuple[int, ...]  # character offset of each word in ``text``
    text: str  # words joined by single spaces

    @classmethod
    def of(cls, page: int, row: int, words: Sequence[Word]) -> Line:
        starts: list[int] = []
        pos = 0
        for w in words:
            starts.append(pos)
            pos += len(w.text) + 1
        return cls(page, row, tuple(words), tuple(starts), " ".join(w.text for w in words))

    @property
    def box(self) -> Box:
        return union(w.box for w in self.words)

    def word_range(self, start: int, end: int) -> tuple[int, int]:
        """Indices [i, j) of the words overlapping characters [start, end)."""
        first = last = -1
        for i, (s, w) in enumerate(zip(self.starts, self.words, strict=True)):
            if s < end and s + len(w.text) > start:
                if first < 0:
                    first = i
                last = i
        return (first, last + 1) if first >= 0 else (0, 0)

    def locate(self, start: int, end: int) -> tuple[Box | None, float]:
        """Box and OCR confidence (lowest word confidence) of characters [start, end)."""
        i, j = self.word_range(start, end)
        if i == j:
            return None, 0.0
        words = self.words[i:j]
        return union(w.box for w in words), min(w.confidence for w in words)


def union(boxes: Iterable[Box]) -> Box:
    bs = list(boxes)
    return Box(min(b.x0 for b in bs), min(b.y0 for b in bs), max(b.x1 for b in bs), max(b.y1 for b in bs))


def group_lines(page: int, words: Sequence[Word]) -> list[Line]:
    """Words into visual lines, top to bottom and left to right.

    Tesseract's own line ids are kept where they agree; words that share a baseline band but
    sit in different OCR blocks (a form label and its value read as two columns) are joined,
    because on a page they read as one line. A wide horizontal gap still splits a line into
    separate segments so two text columns are not glued into one sentence.
    """
    words = mark_leaders(words)
    if not words:
        return []
    heights = sorted(w.box.y1 - w.box.y0 for w in words)
    median_h = max(1, heights[len(heights) // 2])
    ordered = sorted(words, key=lambda w: ((w.box.y0 + w.box.y1) / 2, w.box.x0))
    rows: list[list[Word]] = []
    centres: list[float] = []
    for w in ordered:
        cy = (w.box.y0 + w.box.y1) / 2
        if rows and abs(cy - centres[-1]) <= median_h * 0.5:
            rows[-1].append(w)
            n = len(rows[-1])
            centres[-1] = centres[-1] + (cy - centres[-1]) / n
        else:
            rows.append([w])
            centres.append(cy)
    lines: list[Line] = []
    for index, row in enumerate(rows):
        row.sort(key=lambda w: w.box.x0)
        segment: list[Word] = [row[0]]
        for prev, w in itertools.pairwise(row):
            if w.box.x0 - prev.box.x1 > median_h * COLUMN_GAP:
                lines.append(Line.of(page, index, segment))
                segment = []
            segment.append(w)
        lines.append(Line.of(page, index, segment))
    return lines


def mark_leaders(words: Sequence[Word]) -> list[Word]:
    """Words OCR made of dotted leaders ("NAME ..........: value" read as "NAME wee eeee ce")
    become "...": they are much shorter than the page's text and read with almost no
    confidence. Kept as leaders, they still close the label before them and bridge the gap
    to its value."""
    sure = sorted(w.box.y1 - w.box.y0 for w in words if w.confidence >= LEADER_CONFIDENCE)
    if not sure:
        return list(words)
    text_h = sure[len(sure) // 2]
    out: list[Word] = []
    for w in words:
        if w.confidence < LEADER_CONFIDENCE and (w.box.y1 - w.box.y0) < text_h * LEADER_HEIGHT:
            w = replace(w, text="...")
        out.append(w)
    return out


LEADER_CONFIDENCE = 0.5
LEADER_HEIGHT = 0.45  # dots sit on the baseline: a leader "word" is under half a text line high
COLUMN_GAP = 6.0  # a gap wider than this many text heights separates two columns
