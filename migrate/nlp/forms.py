"""Form reading: find labels on a page's lines and pair each with its value, by layout.

A label's value is what follows it on the same line up to the next label; when nothing
follows, the value is read from the line below within the label's column (boxed forms print
the label above the value). Labels come from a data file; nothing here knows a template.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from migrate.nlp.layout import Line
from migrate.records import Box

RULES = Path(__file__).parent / "rules"
# Fields whose values are checked strictly enough (a date, a phone, a code with digits) that a
# label without a colon may introduce them anywhere in a line: "born March 4, 1956".
LOOSE_FIELDS = frozenset({"birth_date", "phone", "chart_number", "sex", "insurance_member_id"})
PUNCT_ONLY = re.compile(r"^[\W_]+$")


@dataclass(frozen=True, slots=True)
class Lexicon:
    version: str
    phrases: tuple[tuple[tuple[str, ...], str], ...]  # (subtokens, field), longest first


LABEL_SECTIONS = ("fields", "encounter")


@cache
def lexicon(name: str = "labels.json", *, section: str = "fields") -> Lexicon:
    """Labels of ``section`` mapped to their fields; every other known label maps to "other",
    so it still ends the value before it."""
    data = json.loads((RULES / name).read_text(encoding="utf-8"))
    fields: dict[tuple[str, ...], str] = {}
    for label in data.get("other", []):
        fields[tuple(label.split())] = "other"
    for sec in LABEL_SECTIONS:
        if sec == section:
            continue
        for labels in data[sec].values():
            for label in labels:
                fields[tuple(label.split())] = "other"
    for field, labels in data[section].items():
        for label in labels:
            fields[tuple(label.split())] = field
    phrases = sorted(fields.items(), key=lambda p: -len(p[0]))
    return Lexicon(data["version"], tuple(phrases))


@dataclass(frozen=True, slots=True)
class Label:
    field: str
    line: Line
    first: int  # word index where the label starts
    end: int  # word index after the label (and its colon/leader words)
    anchored: bool  # ends with ':' / '#' / leaders, or starts its line segment
    closed: bool = False  # ends with ':' / '#' / '.' / leaders: written as a label, not a word in a sentence

    @property
    def box(self) -> Box:
        from migrate.nlp.layout import union

        return union(w.box for w in self.line.words[self.first : self.end])


@dataclass(frozen=True, slots=True)
class Value:
    """Words of a line that hold a label's value, as a character span of that line."""

    line: Line
    start: int  # char offsets in line.text
    end: int
    below: bool  # read from the line below the label

    @property
    def text(self) -> str:
        return self.line.text[self.start : self.end]


def _subtokens(line: Line) -> list[tuple[str, int]]:
    out: list[tuple[str, int]] = []
    for i, w in enumerate(line.words):
        for sub in re.findall(r"[a-z0-9]+", w.text.lower()):
            out.append((sub, i))
    return out


def _anchor_after(line: Line, last_word: int) -> tuple[bool, int]:
    """Whether a colon, '#', a full stop or dotted leaders close the label, and where its value starts."""
    word = line.words[last_word].text
    end = last_word + 1
    anchored = word.endswith((":", "#", ".", ";")) or "..." in word
    while end < len(line.words) and PUNCT_ONLY.match(line.words[end].text):
        anchored = anchored or any(c in line.words[end].text for c in ":#.")
        end += 1
    return anchored, end


def find_labels(line: Line, lex: Lexicon) -> list[Label]:
    subs = _subtokens(line)
    labels: list[Label] = []
    i = 0
    while i < len(subs):
        # A label starts at the start of a word.
        if i > 0 and subs[i - 1][1] == subs[i][1]:
            i += 1
            continue
        hit = None
        for tokens, field in lex.phrases:
            n = len(tokens)
            if tuple(s for s, _ in subs[i : i + n]) != tokens:
                continue
            last_word = subs[i + n - 1][1]
            # The label must end at a word end: "Dob:" yes, "Dobson" no.
            if i + n < len(subs) and subs[i + n][1] == last_word:
                continue
            hit = (tokens, field, last_word)
            break
        if hit is None:
            i += 1
            continue
        tokens, field, last_word = hit
        first = subs[i][1]
        anchored, end = _anchor_after(line, last_word)
        at_start = first == 0 or (labels and labels[-1].end == first)
        if anchored or at_start or field in LOOSE_FIELDS:
            labels.append(Label(field, line, first, end, anchored or bool(at_start), anchored))
            i += len(tokens)
            while i < len(subs) and subs[i][1] < end:
                i += 1
        else:
            i += 1
    return labels


def _char_span(line: Line, first_word: int, end_word: int) -> tuple[int, int]:
    if first_word >= end_word:
        return 0, 0
    start = line.starts[first_word]
    last = end_word - 1
    return start, line.starts[last] + len(line.words[last].text)


def pair(lines: Sequence[Line], lex: Lexicon | None = None) -> list[tuple[Label, Value]]:
    """Every label on the page with its value (same line, else the line below in its column)."""
    lex = lex or lexicon()
    by_line = [find_labels(line, lex) for line in lines]
    pairs: list[tuple[Label, Value]] = []
    for li, (line, labels) in enumerate(zip(lines, by_line, strict=True)):
        for k, label in enumerate(labels):
            stop = labels[k + 1].first if k + 1 < len(labels) else len(line.words)
            start_word = label.end
            if start_word < stop:
                s, e = _char_span(line, start_word, stop)
                pairs.append((label, Value(line, s, e, below=False)))
                continue
            below = _value_below(lines, by_line, li, label, labels[k + 1] if k + 1 < len(labels) else None)
            if below is not None:
                pairs.append((label, below))
    return pairs


def _value_below(
    lines: Sequence[Line], by_line: Sequence[list[Label]], li: int, label: Label, next_label: Label | None
) -> Value | None:
    """The value printed under a label: the next row's words that sit in the label's column."""
    line = lines[li]
    height = max(1, line.box.y1 - line.box.y0)
    left = label.box.x0 - height
    if next_label is None:
        # The next label of a boxed form is often its own segment of the same row.
        to_right = [
            lab.box.x0
            for lj, other in enumerate(lines)
            if other.page == line.page and other.row == line.row and other.box.x0 > label.box.x1
            for lab in by_line[lj][:1]
            if lab.first == 0
        ]
        if to_right:
            next_x = min(to_right)
            right: float | None = next_x - height * 0.5
        else:
            right = None
    else:
        right = next_label.box.x0 - height * 0.5
    for lj in range(li + 1, min(len(lines), li + 8)):
        cand = lines[lj]
        if cand.page != line.page or cand.row == line.row:
            continue
        if cand.box.y0 - line.box.y1 > height * 2.5:
            return None
        if by_line[lj] and by_line[lj][0].first == 0:
            # The next row is labels again: nothing was written in this box.
            if any(lab.box.x0 <= label.box.x1 and lab.box.x1 >= label.box.x0 for lab in by_line[lj]):
                return None
            continue
        idx = [
            i
            for i, w in enumerate(cand.words)
            if (w.box.x0 + w.box.x1) / 2 >= left and (right is None or (w.box.x0 + w.box.x1) / 2 < right)
        ]
        if idx:
            s, e = _char_span(cand, idx[0], idx[-1] + 1)
            return Value(cand, s, e, below=True)
    return None
