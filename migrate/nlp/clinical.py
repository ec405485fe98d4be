"""Clinical content of a chart: sections, diagnoses with their assertion, encounters, procedures.

Text is read in blocks (consecutive lines of one section on one page) so a sentence wrapped over
two lines is one sentence; every match maps back to the lines and boxes it came from.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import spacy
from rapidfuzz import fuzz
from spacy.language import Language

from migrate.nlp import normalize as nz
from migrate.nlp import terminology
from migrate.nlp.context import Assertion, assess, section_of
from migrate.nlp.forms import RULES, Label, lexicon, pair
from migrate.nlp.layout import Line, union
from migrate.records import Box, FieldValue

MAX_PHRASE_TOKENS = 12
# Reactions listed under allergies are not the patient's conditions; a medication list's
# indications ("allopurinol for gout") are, so medication sections are read.
# Past surgical history names operations ("cataract extraction"), not current conditions.
SKIP_DIAGNOSIS_SECTIONS = frozenset({"allergies", "past_surgical_history"})
# Sections whose lines are lists of conditions, where a bare abbreviation ("2. HTN.") is one.
PROBLEM_SECTIONS = frozenset({"assessment", "past_medical_history", "family_history", "chief_complaint"})
ALLERGY_SENTENCE = re.compile(r"\ballerg", re.I)


@dataclass
class Block:
    page: int
    section: str | None
    lines: list[Line] = field(default_factory=list)
    starts: list[int] = field(default_factory=list)  # offset of each line in ``text``
    text: str = ""

    def add(self, line: Line, offset: int = 0) -> None:
        if self.text:
            self.text += "\n"
        self.starts.append(len(self.text) - offset)
        self.lines.append(line)
        self.text += line.text[offset:]

    def locate(self, start: int, end: int) -> tuple[Box | None, float]:
        boxes: list[Box] = []
        confs: list[float] = []
        for line, s in zip(self.lines, self.starts, strict=True):
            ls, le = max(start - s, 0), min(end - s, len(line.text))
            if ls < le and s + len(line.text) > start and s < end:
                box, conf = line.locate(ls, le)
                if box is not None:
                    boxes.append(box)
                    confs.append(conf)
        if not boxes:
            return None, 0.0
        return union(boxes), min(confs)

    def line_at(self, pos: int) -> Line:
        idx = 0
        for i, s in enumerate(self.starts):
            if s <= pos:
                idx = i
        return self.lines[idx]


HEADING = re.compile(r"^\s*(?:\d+[.)]\s*)?([A-Za-z][A-Za-z /&'\-]{1,48}?)\s*(?::|$)")


def heading_of(line: Line) -> tuple[str | None, int]:
    """The section a line opens, and where its own text starts after the heading."""
    m = HEADING.match(line.text)
    if not m:
        return None, 0
    name = section_of(m.group(1))
    if name is None and re.search(r"/|&|\band\b", m.group(1)):
        # "Allergies / Reactions", "Medications & Allergies": the first named section leads.
        for part in re.split(r"/|&|\band\b", m.group(1)):
            name = section_of(part.strip())
            if name is not None:
                break
    if name is None:
        return None, 0
    rest = m.end()
    while rest < len(line.text) and line.text[rest] in " :":
        rest += 1
    return name, rest


COLUMN_REACH = 12  # text heights: a line whose left edge is this close to a block's is in its column


def blocks(lines: Sequence[Line]) -> list[Block]:
    """Lines grouped into section blocks, column by column: a heading governs the lines below it
    that start near its left edge, so the two columns of a page are read as separate text."""
    out: list[Block] = []
    page = -1
    columns: list[tuple[int, int, Block]] = []  # (left edge, text height, open block)
    inline: set[int] = set()  # blocks opened by "Heading: text" on one line: they end with their sentence

    def open_block(line: Line, section: str | None, height: int) -> Block:
        block = Block(line.page, section)
        out.append(block)
        columns.append((line.box.x0, height, block))
        return block

    for line in lines:
        if line.page != page:
            page, columns = line.page, []
        height = max(1, line.box.y1 - line.box.y0)
        name, rest = heading_of(line)
        if name is not None:
            block = open_block(line, name, height)
            if rest < len(line.text):
                block.add(line, rest)
                inline.add(id(block))
            continue
        if _unknown_heading(line):
            open_block(line, None, height).add(line)  # "Notes", "PLAN:": whatever it is, a new section
            continue
        mine = [c for c in columns if abs(line.box.x0 - c[0]) < COLUMN_REACH * c[1]]
        if mine:
            block = mine[-1][2]
            ended = id(block) in inline and re.search(r"[.!?]\s*$", block.text) is not None
            if not ended:
                block.add(line)
                continue
        open_block(line, None, height).add(line)
    return [b for b in out if b.text.strip()]


def _unknown_heading(line: Line) -> bool:
    """A short line that reads as a heading ("Notes", "PLAN:", "Impression") though not a known one."""
    words = line.text.split()
    if not words or len(words) > 4 or re.search(r"\d", line.text):
        return False
    if line.text.rstrip().endswith(":"):
        return True
    return len(words) == 1 and words[0][:1].isupper() and words[0].isalpha() and len(words[0]) >= 4


@cache
def tokenizer() -> Language:
    return spacy.blank("en")


@dataclass(frozen=True, slots=True)
class Mention:
    concept: terminology.Concept
    start: int
    end: int
    block: Block
    assertion: Assertion


def _term_mentions(block: Block) -> list[tuple[int, int, terminology.Concept]]:
    terms = terminology.load()
    doc = tokenizer().make_doc(block.text)
    found: list[tuple[int, int, terminology.Concept]] = []
    i = 0
    n = len(doc)
    while i < n:
        hit = None
        for size in range(min(MAX_PHRASE_TOKENS, n - i), 0, -1):
            span = doc[i : i + size]
            key = terminology.phrase_key(span.text)
            concept = terms.phrases.get(key)
            if concept is None and size == 1:
                following = doc[i + 1].text if i + 1 < n else ""
                after = doc[i + 2] if i + 2 < n else None
                # "PE:" is a physical exam heading, "MS. Smith" a title and "MI" in "LAST NAME FIRST
                # NAME MI" a form label: abbreviations count in running text and in problem lists
                # ("2. HTN."), not as labels or titles.
                line = block.line_at(span.start_char)
                title = following == "." and after is not None and after.text[:1].isupper()
                title = title and after is not None and block.line_at(after.idx) is line
                listed = block.section in PROBLEM_SECTIONS or re.search(r"\b[a-z]{3,}\b", line.text)
                if following != ":" and not title and listed:
                    concept = terms.abbreviations.get(span.text)
            if concept is not None:
                hit = (span.start_char, span.end_char, concept, size)
                break
        if hit:
            found.append(hit[:3])
            i += hit[3]
        else:
            i += 1
    return found


CODE_CUE = re.compile(r"\b(?:icd(?:-?10)?(?:-?cm)?|dx|diagnosis|code)\b[^A-Za-z0-9]{0,4}$", re.I)


def _code_context(text: str, start: int, end: int) -> bool:
    """A code-shaped token is an ICD-10-CM code when written like one: with its dot, after
    'ICD-10:' / 'Dx', or in parentheses after a condition; not an accession number (S17-53349)."""
    after = text[end : end + 1]
    if after in ("-", "/") or (after.isalnum()):
        return False
    if "." in text[start:end]:
        return True
    before = text[max(0, start - 16) : start]
    return bool(CODE_CUE.search(before)) or (before.endswith("(") and text[end : end + 1] == ")")


def diagnosis_mentions(bs: Sequence[Block]) -> list[Mention]:
    mentions: list[Mention] = []
    for block in bs:
        if block.section in SKIP_DIAGNOSIS_SECTIONS:
            continue
        found = _term_mentions(block)
        # A code written next to a condition is the coder's choice: it replaces the term's code.
        for m in terminology.CODE.finditer(block.text):
            if not _code_context(block.text, m.start(1), m.end(1)):
                continue
            concept = terminology.code_concept(m.group(1))
            if concept is None:
                continue
            line = block.line_at(m.start())
            same_line = [k for k, (s, _e, _c) in enumerate(found) if block.line_at(s) is line and s < m.start()]
            if same_line:
                k = same_line[-1]
                s, e, _ = found[k]
                found[k] = (s, e, concept)
            else:
                found.append((m.start(1), m.end(1), concept))
        for s, e, concept in found:
            line = block.line_at(s)
            if _is_procedure_line(line):
                continue  # "Procedure: inguinal hernia repair" names what was done, not a diagnosis
            if ALLERGY_SENTENCE.search(_sentence_before(block.text, s)):
                continue  # "allergic to latex (contact dermatitis)": a reaction, not a condition
            side = _side(block.text, s, e)
            if side and concept.source != "code":
                concept = terminology.lateralize(concept, side)
            mentions.append(Mention(concept, s, e, block, assess(block.text, s, e, section=block.section)))
    return mentions


def _sentence_before(text: str, pos: int) -> str:
    """The text of the sentence that ``pos`` is in, up to ``pos``."""
    start = max(text.rfind(".", 0, pos), text.rfind(";", 0, pos), text.rfind("\n\n", 0, pos))
    return text[start + 1 : pos]


SIDE = re.compile(r"\b(right|left)\b", re.I)


def _side(text: str, start: int, end: int) -> str | None:
    """'right' or 'left' said of this condition: in its own words or within a few words after it."""
    window = text[start : min(len(text), end + 30)].split("\n")[0]
    before = text[max(0, start - 12) : start]
    found = SIDE.findall(before + " " + window)
    sides = {f.lower() for f in found}
    return sides.pop() if len(sides) == 1 else None


def _is_procedure_line(line: Line) -> bool:
    head = line.text.split(":", 1)[0] if ":" in line.text else ""
    return tuple(re.findall(r"[a-z0-9]+", head.lower())) in _procedure_labels()


@cache
def _procedure_labels() -> frozenset[tuple[str, ...]]:
    return frozenset(tuple(p.split()) for p in _rules()["procedure_labels"])


Entries = list[dict[str, Any]]


def diagnoses(bs: Sequence[Block]) -> tuple[Entries, Entries, Entries]:
    """One entry per code: negated only when every mention of it is negated. A relative's
    conditions, and conditions only considered ("rule out MI", "screening for colorectal
    cancer"), are kept apart: neither is asserted nor denied for the patient."""
    by_code: dict[str, list[Mention]] = {}
    family: dict[str, Mention] = {}
    considered: dict[str, Mention] = {}
    for m in diagnosis_mentions(bs):
        if m.assertion.experiencer == "other":
            family.setdefault(m.concept.code, m)
        elif m.assertion.temporality == "hypothetical" and not m.assertion.negated:
            considered.setdefault(m.concept.code, m)
        else:
            by_code.setdefault(m.concept.code, []).append(m)
    for code in [c for c in by_code if terminology.is_unspecified(c)]:
        # "renal cell carcinoma" beside "renal cell carcinoma, right kidney", "anxiety" beside
        # "generalized anxiety disorder": one condition, coded as specifically as the chart
        # allows (ICD-10-CM: an unspecified code is not used with a specific one of its category).
        specific = [c for c in by_code if c != code and c[:3] == code[:3] and not terminology.is_unspecified(c)]
        if specific and all(not m.assertion.negated for m in by_code[code]):
            del by_code[code]
    out: Entries = []
    for code, ms in by_code.items():
        affirmed = [m for m in ms if not m.assertion.negated]
        best = (affirmed or ms)[0]
        out.append(_diagnosis_entry(best, code, negated=not affirmed))
    fam = [_diagnosis_entry(m, code, negated=m.assertion.negated) for code, m in family.items()]
    maybe = [_diagnosis_entry(m, code, negated=False) for code, m in considered.items() if code not in by_code]
    return out, fam, maybe


def _diagnosis_entry(m: Mention, code: str, *, negated: bool) -> dict[str, Any]:
    box, ocr = m.block.locate(m.start, m.end)
    page = m.block.page
    certainty = 0.97 if m.concept.source == "code" else 0.9
    conf = certainty * (ocr if box else 0.5)
    text = " ".join(m.block.text[m.start : m.end].split())
    if m.concept.source == "code":
        text = _text_before_code(m) or m.concept.description
    return {
        "text": FieldValue(text, conf, page, box, f"dx:{m.concept.source}"),
        "code": FieldValue(code, conf, page, box, f"dx:{m.concept.source}"),
        "negated": negated,
        "temporality": m.assertion.temporality,
        "experiencer": m.assertion.experiencer,
        "assertion_triggers": list(m.assertion.triggers),
        "section": m.block.section,
    }


def _text_before_code(m: Mention) -> str | None:
    line = m.block.line_at(m.start)
    before = re.split(r"\b(?:icd-?10(?:-cm)?|code|dx)\b", line.text, flags=re.I)[0]
    before = re.sub(r"^\s*\d+[.)]\s*", "", before).strip(" -:(,")
    return before or None


@cache
def _rules() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((RULES / "labels.json").read_text(encoding="utf-8"))
    return data


def encounter_type(lines: Sequence[Line]) -> str | None:
    head = " ".join(line.text.lower() for line in lines[:12])
    for kind, phrases in _rules()["encounter_types"].items():
        if any(p in head for p in phrases):
            return str(kind)
    return None


SIGNED = re.compile(r"\b(?:electronically\s+)?signed(?:\s+by)?\s*[:\s]\s*(.+)$", re.I)


DATE_LABEL_KINDS = (
    (re.compile(r"admi"), "inpatient"),
    (re.compile(r"procedure"), "procedure"),
    (re.compile(r"visit|service|\bdos\b|seen|encounter"), "office visit"),
)
# A letter or note saying when the patient was seen: "whom I saw in the office on 03 May 2020",
# "I saw your patient ... in consultation on February 4, 2016". Birth dates in between are skipped
# because the date must follow "on".
SEEN_ON = re.compile(r"\b(?:saw|seen|evaluated|examined|visited)\b[^.;]{0,160}?\bon\s+", re.I)


def _kind_of_date_label(label: Label) -> str | None:
    words = " ".join(w.text.lower() for w in label.line.words[label.first : label.end])
    for pattern, kind in DATE_LABEL_KINDS:
        if pattern.search(words):
            return kind
    return None


def _date_in_prose(plines: Sequence[Line]) -> FieldValue | None:
    for block in blocks(plines):
        for m in SEEN_ON.finditer(block.text):
            dm = nz.DATE_PATTERN.match(block.text, m.end())
            d = nz.parse_date(dm.group(1)) if dm else None
            if dm and d and nz.date_valid(d) is None:
                box, ocr = block.locate(dm.start(1), dm.end(1))
                return FieldValue(d.isoformat(), 0.85 * ocr, block.page, box, "text:seen_on")
    return None


def encounters(lines: Sequence[Line]) -> list[dict[str, Any]]:
    """One encounter per page that states a visit date; pages with the same date merge."""
    pages: dict[int, list[Line]] = {}
    for line in lines:
        pages.setdefault(line.page, []).append(line)
    found: dict[str, dict[str, Any]] = {}
    readings: list[FieldValue] = []
    lex = lexicon(section="encounter")
    for page, plines in sorted(pages.items()):
        kind = encounter_type(plines)
        when: FieldValue | None = None
        who: FieldValue | None = None
        for label, value in pair(plines, lex):
            if label.field == "date" and when is None:
                d = nz.parse_date(value.text)
                if d and nz.date_valid(d) is None:
                    m = nz.DATE_PATTERN.search(value.text)
                    s = value.start + (m.start(1) if m else 0)
                    e = value.start + (m.end(1) if m else len(value.text))
                    box, ocr = value.line.locate(s, e)
                    when = FieldValue(d.isoformat(), 0.95 * ocr, page, box, "label:encounter_date")
                    # "Visit:", "Date of service:" say there was an encounter even on a page
                    # whose title we do not know; a bare "Date:" does not.
                    kind = kind or _kind_of_date_label(label)
            elif label.field == "provider" and who is None:
                name = nz.provider_name(re.split(r"\s{2,}|\bdate\b", value.text, flags=re.I)[0])
                if name:
                    box, ocr = value.line.locate(value.start, value.end)
                    who = FieldValue(name, 0.9 * ocr, page, box, "label:provider")
        if when is None and kind is not None:
            when = _date_in_prose(plines)
        for line in plines:
            m = SIGNED.search(line.text)
            # "Signed: Dr. Emily Morgan   01/28/2021": the name ends where a date begins.
            name = nz.provider_name(re.split(r"\s+(?:on\s+)?\d", m.group(1))[0]) if m else None
            if m and name:
                box, ocr = line.locate(m.start(1), m.end(1))
                signed = FieldValue(name, 0.85 * ocr, page, box, "text:signed_by")
                readings.append(signed)
                who = who or signed
        if who is not None:
            readings.append(who)
        if when is None or kind is None:
            continue
        entry = found.setdefault(str(when.value), {"date": when})
        if who is not None and "provider" not in entry:
            entry["provider"] = who
        if "type" not in entry:
            box = plines[0].box if plines else None
            entry["type"] = FieldValue(kind, 0.8, page, box, "text:page_title")
    for entry in found.values():
        if "provider" in entry:
            entry["provider"] = _best_reading(entry["provider"], readings)
    return list(found.values())


def _best_reading(value: FieldValue, readings: Sequence[FieldValue]) -> FieldValue:
    """The same name is often printed several times (header, signature): OCR misreads one
    ("Dr. Michnel Mcdowell"); the most confident reading of that name is used."""
    similar = [r for r in readings if fuzz.ratio(str(r.value).lower(), str(value.value).lower()) >= 80]
    return max([value, *similar], key=lambda r: r.confidence)


CPT = re.compile(r"\bCPT(?:\s*code)?[:#\s]*([0-9]{5})\b", re.I)


BULLET = re.compile(r"^\s*(?:[-*\u2022\u00b7>]|\d{1,2}[.)])\s+")
NOT_AN_OPERATION = re.compile(
    r"^(?:none|no(?:ne)?\s+(?:prior\s+)?(?:surger(?:y|ies)|operations?)|denies|n/?a|unknown)\b", re.I
)
DATE_GLUE = re.compile(r"^[\s,;:\-\u2013(]*(?:in|on|dated?)?[\s(]*$", re.I)


def _history_items(block: Block) -> list[tuple[int, int]]:
    """Spans of ``block.text`` that are one listed operation each: bullets or numbered lines,
    else items separated by semicolons, else one per line."""
    text = block.text
    lines = [(s, s + len(t)) for s, t in zip(_line_offsets(text), text.split("\n"), strict=True)]
    if any(BULLET.match(text[a:b]) for a, b in lines):
        items: list[list[int]] = []
        for a, b in lines:
            m = BULLET.match(text[a:b])
            if m or not items:
                items.append([a + (m.end() if m else 0), b])
            else:
                items[-1][1] = b  # a wrapped line continues its item
        return [(a, b) for a, b in items]
    if ";" in text:
        spans: list[tuple[int, int]] = []
        pos = 0
        for part in text.split(";"):
            spans.append((pos, pos + len(part)))
            pos += len(part) + 1
        return spans
    return lines


def _line_offsets(text: str) -> list[int]:
    out, pos = [], 0
    for part in text.split("\n"):
        out.append(pos)
        pos += len(part) + 1
    return out


def history_procedures(block_list: Sequence[Block]) -> list[dict[str, Any]]:
    """Operations listed under a surgical history heading ("PSH: tonsillectomy 09/03/1992;
    appendectomy (2001)"), each with its date when one is written."""
    out: list[dict[str, Any]] = []
    for block in block_list:
        if block.section != "past_surgical_history":
            continue
        for a, b in _history_items(block):
            raw = block.text[a:b]
            lead = len(raw) - len(raw.lstrip(" \n-\u2013*\u2022"))
            a, raw = a + lead, raw[lead:]
            when: FieldValue | None = None
            m = nz.DATE_PATTERN.search(raw)
            d = nz.parse_date(m.group(1), past_only=True) if m else None
            name_end = len(raw)
            if m and d and nz.date_valid(d) is None:
                box, ocr = block.locate(a + m.start(1), a + m.end(1))
                if box is not None:
                    when = FieldValue(
                        d.isoformat(), 0.9 * ocr, box_page(block, a + m.start(1)), box, "section:surgical_history"
                    )
                before, after = raw[: m.start()], raw[m.end() :]
                # The date is written after the operation ("appendectomy - 2001", "(06/22/2001)") or before it.
                if before.strip(" -,;:(\u2013\n"):
                    name_end = m.start()
                    while name_end > 0 and DATE_GLUE.match(raw[name_end - 1 : m.start()]):
                        name_end -= 1
                else:
                    a, raw = a + m.end(), after
                    name_end = len(raw)
            name = " ".join(raw[:name_end].split()).strip(" -,;:.(\u2013")
            if len(re.findall(r"[A-Za-z]", name)) < 4 or NOT_AN_OPERATION.match(name) or len(name) > 80:
                continue
            start = a + raw.find(name.split()[0])
            box, ocr = block.locate(start, start + len(raw[:name_end].rstrip(" -,;:(\u2013")))
            entry: dict[str, Any] = {
                "text": FieldValue(name.lower(), 0.8 * ocr, block.page, box, "section:surgical_history")
            }
            if when is not None:
                entry["date"] = when
            out.append(entry)
    return out


def box_page(block: Block, pos: int) -> int:
    return block.line_at(pos).page


def procedures(
    lines: Sequence[Line], encounter_list: Sequence[dict[str, Any]], block_list: Sequence[Block] = ()
) -> list[dict[str, Any]]:
    """Procedures named after a procedure label, with the page's encounter date and a printed CPT
    code, and operations listed under a surgical history heading with their own dates."""
    out: list[dict[str, Any]] = []
    dates = {fv["date"].page: fv["date"] for fv in encounter_list if "date" in fv}
    for i, label_line in enumerate(lines):
        if not _is_procedure_line(label_line):
            continue
        line = label_line
        value = line.text.split(":", 1)[1].strip()
        start = line.text.index(":") + 1
        if not value and i + 1 < len(lines) and lines[i + 1].page == line.page:
            line, value, start = lines[i + 1], lines[i + 1].text.strip(), 0  # value printed under its label
        if not value or len(value) < 4:
            continue
        text = re.split(r"\s*\(?\bCPT\b", value, flags=re.I)[0].strip(" .;,")
        if not re.search(r"[a-z]{3}", text.lower()):
            continue
        box, ocr = line.locate(start, len(line.text))
        entry: dict[str, Any] = {"text": FieldValue(text.lower(), 0.85 * ocr, line.page, box, "label:procedure")}
        cpt = CPT.search(value)
        if cpt:
            entry["code"] = FieldValue(cpt.group(1), 0.9 * ocr, line.page, box, "text:cpt")
        if line.page in dates:
            entry["date"] = dates[line.page]
        out.append(entry)
    seen = {str(e["text"].value) for e in out}
    for entry in history_procedures(block_list):
        if str(entry["text"].value) not in seen:
            seen.add(str(entry["text"].value))
            out.append(entry)
    return out
