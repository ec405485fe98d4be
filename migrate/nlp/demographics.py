"""Patient demographics from form labels and, failing those, from running text."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

from migrate.nlp import normalize as nz
from migrate.nlp.forms import RULES, Label, Value, find_labels, lexicon, pair
from migrate.nlp.layout import Line
from migrate.records import FieldValue

CONSISTENT = ("birth_date", "sex", "family_name", "given_name")
LABEL_CERTAINTY = 0.97
TEXT_CERTAINTY = 0.8
WEAK_CERTAINTY = 0.6


@dataclass(frozen=True, slots=True)
class Candidate:
    field: str
    value: FieldValue


def _fv(value: str, line: Line, start: int, end: int, certainty: float, rule: str) -> FieldValue:
    box, ocr = line.locate(start, end)
    return FieldValue(value, confidence=certainty * (ocr if box else 0.5), page=line.page, bbox=box, rule=rule)


def _sub(value: Value, needle: str) -> tuple[int, int]:
    """Character span of ``needle`` inside a value (case-insensitive), else the whole value."""
    i = value.text.lower().find(needle.lower())
    if i < 0:
        return value.start, value.end
    return value.start + i, value.start + i + len(needle)


TOKEN_ID = re.compile(r"\b(?=[A-Z0-9\-]*\d)[A-Z0-9][A-Z0-9\-]{2,}[A-Z0-9]\b", re.I)


def _from_label(label: Label, value: Value) -> list[Candidate]:
    text = value.text.strip(" :.-")
    rule = f"label:{label.field}" + (":below" if value.below else "")
    line = value.line
    out: list[Candidate] = []

    def add(field: str, v: str, needle: str | None = None, certainty: float = LABEL_CERTAINTY) -> None:
        s, e = _sub(value, needle) if needle else (value.start, value.end)
        out.append(Candidate(field, _fv(v, line, s, e, certainty, rule)))

    f = label.field
    if f == "name":
        lower = " ".join(w.text.lower() for w in label.line.words[label.first : label.end])
        last_first = True if ("last" in lower and "first" in lower.split("last", 1)[1]) else None
        name = nz.parse_name(text, last_first=last_first)
        if name:
            add("given_name", name.given, name.given)
            add("family_name", name.family, name.family.split()[0])
            if name.middle:
                add("middle_name", name.middle, name.middle.split()[0])
            if name.suffix:
                add("name_suffix", name.suffix, name.suffix.rstrip("."))
            if name.title:
                sex = nz.parse_sex(name.title)
                if sex:
                    add("sex", sex, name.title, WEAK_CERTAINTY)
    elif f in ("given_name", "family_name", "middle_name"):
        words = text.split()
        if words and len(words) <= 3 and all(nz.NAME_TOKEN.match(w) for w in words):
            part = nz.name_case(" ".join(w.rstrip(".") for w in (words[:1] if f == "middle_name" else words)))
            if f != "middle_name" and len(part) < 2:
                return out
            add(f, part, words[0].rstrip("."))
    elif f == "birth_date":
        d = nz.parse_date(text, past_only=True)
        if d:
            m = nz.DATE_PATTERN.search(text)
            add("birth_date", d.isoformat(), m.group(1) if m else None)
        elif re.search(r"\d", text):
            add("invalid:birth_date", text[:40], None, 0.5)
    elif f == "sex":
        s = nz.parse_sex(text.split()[0] if text.split() else "")
        if s:
            add("sex", s, text.split()[0])
    elif f in ("chart_number", "insurance_member_id"):
        # OCR splits an identifier at its hyphens: "7H8 -X2-EP22".
        m = TOKEN_ID.search(re.sub(r"(?<=\w)\s*-\s*(?=\w)", "-", text))
        if m:
            add(f, m.group(0).upper(), m.group(0))
    elif f == "phone":
        m = re.search(r"\(?\d{3}\)?[\s.\-]*\d{3}[\s.\-]*\d{4}", text)
        p = nz.parse_phone(m.group(0)) if m else None
        if p and m:
            add("phone", p, m.group(0))
        elif re.search(r"\d{3}", text) and len(text.split()) <= 4:
            add("invalid:phone", text[:40], None, 0.5)
    elif f == "address_line":
        csz = _split_address(text)
        if csz:
            street, city, state, zipc = csz
            add("address_line", street, street)
            add("city", city, city)
            add("state", state, state)
            add("postal_code", zipc, zipc)
        elif re.search(r"\d", text) and len(text) <= 80:
            add("address_line", " ".join(text.split()).rstrip(","))
    elif f == "city_state_zip":
        csz3 = nz.parse_city_state_zip(text)
        if csz3:
            add("city", csz3[0], csz3[0].split()[0])
            add("state", csz3[1], csz3[1])
            add("postal_code", csz3[2], csz3[2])
    elif f == "city":
        if re.fullmatch(r"[A-Za-z .'\-]{2,40}", text):
            add("city", nz.place_name(text))
    elif f == "state":
        st = nz.parse_state(text.split(",")[0])
        if st:
            add("state", st)
        elif re.fullmatch(r"[A-Za-z]{2}", text.strip()):
            add("invalid:state", text.strip(), None, 0.5)
    elif f == "postal_code":
        z = nz.parse_postal_code(text)
        if z:
            add("postal_code", z, z)
    elif f == "insurance_payer":
        payer = _balanced(re.split(r"\s{2,}|\bpolicy\b|\bmember\b|\bid\b|#", text, flags=re.I)[0].strip(" ,:;-"))
        generic = payer.lower() in {"information", "info", "details", "data", "section", "company", "plan"}
        if payer and not generic and len(payer) <= 60 and re.search(r"[A-Za-z]{2}", payer) and len(payer.split()) <= 6:
            add("insurance_payer", nz.name_case(payer) if payer.isupper() and len(payer) > 4 else payer, payer)
    return out


def _balanced(text: str) -> str:
    """Drop a stray bracket OCR left at either end ("Aetna)")."""
    if text.endswith(")") and "(" not in text:
        text = text[:-1]
    if text.startswith("(") and ")" not in text:
        text = text[1:]
    return text.strip()


def _split_address(text: str) -> tuple[str, str, str, str] | None:
    """ "12 Main St, Springfield, IL 62701" -> street, city, state, zip."""
    m = re.match(r"^(?P<street>.*?\d.*?),\s*(?P<rest>[A-Za-z][^,]*,?\s*[A-Za-z]{2}\.?\s+\d{5}(?:-\d{4})?)\s*$", text)
    if not m:
        return None
    csz = nz.parse_city_state_zip(m.group("rest"))
    if not csz:
        return None
    return m.group("street").strip(" ,"), csz[0], csz[1], csz[2]


TITLE_NAME = re.compile(
    r"\b(?P<title>Mr|Mrs|Ms|Miss)\.?\s+(?P<name>[A-Z][A-Za-z'\-]+(?:\s+[A-Z]\.?)?(?:\s+[A-Z][A-Za-z'\-]+){1,2})"
)


def _from_text(lines: Sequence[Line]) -> list[Candidate]:
    """Running text (letters, notes): "your patient Mr. John Q. Smith, born March 4, 1956"."""
    out: list[Candidate] = []
    for line in lines:
        for m in TITLE_NAME.finditer(line.text):
            name = nz.parse_name(m.group("name"))
            if name is None:
                continue
            for field, v in (("given_name", name.given), ("family_name", name.family), ("middle_name", name.middle)):
                if v:
                    i = line.text.lower().find(v.lower().split()[0], m.start("name"))
                    s, e = (i, i + len(v)) if i >= 0 else (m.start("name"), m.end("name"))
                    out.append(Candidate(field, _fv(v, line, s, e, TEXT_CERTAINTY, "text:title_name")))
            sex = nz.parse_sex(m.group("title"))
            if sex:
                out.append(
                    Candidate("sex", _fv(sex, line, m.start("title"), m.end("title"), WEAK_CERTAINTY, "text:title"))
                )
        for m in DESCRIBED_AS.finditer(line.text):
            sex = nz.parse_sex(m.group("noun"))
            if sex:
                s, e = m.start("noun"), m.end("noun")
                # A clinical description, not the registered sex: a hint for the reviewer only.
                out.append(Candidate("hint:sex", _fv(sex, line, s, e, WEAK_CERTAINTY, "text:described_as")))
    return out


# How a note introduces its patient: "22-year-old woman presents", "67 yo male", "a female patient".
DESCRIBED_AS = re.compile(
    r"(?:\b\d{1,3}[\s-]*(?:years?|yrs?|y)[\s-]*(?:old|o)\.?|\bthis|\bthe|\ba)\s+"
    r"(?:(?:pleasant|healthy|obese|elderly|young|white|black|hispanic|asian|caucasian)\s+)*"
    r"(?P<noun>woman|man|female|male|lady|gentleman|girl|boy)\b(?!\s+(?:partner|relative|friend|sibling|child))",
    re.I,
)


PHONE_LIKE = re.compile(r"\(?\b\d{3}\)?[\s.\-]*\d{3}[\s.\-]*\d{4}\b")
STATE_ZIP = re.compile(r"\b[A-Z]{2}\s+\d{5}(?:-\d{4})?\b")
LETTERHEAD_ROWS = 3


def letterhead(lines: Sequence[Line]) -> set[int]:
    """Ids of lines that are an organisation's letterhead: at the top of a page, an address with
    a state and ZIP code and a phone number (the clinic's, not the patient's)."""
    out: set[int] = set()
    top_row: dict[int, int] = {}
    for line in lines:
        top_row.setdefault(line.page, line.row)
    zip_rows: set[tuple[int, int]] = set()
    for line in lines:
        rel = line.row - top_row[line.page]
        if rel >= LETTERHEAD_ROWS:
            continue
        has_zip = STATE_ZIP.search(line.text) is not None
        if has_zip:
            zip_rows.add((line.page, line.row))
        near_zip = has_zip or (line.page, line.row - 1) in zip_rows
        if near_zip and PHONE_LIKE.search(line.text):
            out.add(id(line))
            for other in lines:
                if other.page == line.page and other.row == line.row - 1 and STATE_ZIP.search(other.text):
                    out.add(id(other))
    return out


def _skip_noise(value: Value) -> Value:
    """Drop leading words OCR could not read (dotted leaders read as 'eee', box lines), and a run
    of doubtful words that a wide gap separates from a confidently read value: the smudge of a
    leader's colon near the label, with the value set in its column further right."""
    i, j = value.line.word_range(value.start, value.end)
    words = value.line.words
    k = i
    while k < j - 1 and (words[k].confidence < NOISE_CONFIDENCE or not re.search(r"[A-Za-z0-9]", words[k].text)):
        k += 1
    for m in range(k + 1, j):
        prev, nxt = words[m - 1], words[m]
        height = max(nxt.box.y1 - nxt.box.y0, 1)
        if nxt.box.x0 - prev.box.x1 >= STRAY_GAP * height:
            if nxt.confidence >= DOUBTFUL_CONFIDENCE and all(w.confidence < DOUBTFUL_CONFIDENCE for w in words[k:m]):
                k = m
            break
    if k == i:
        return value
    return Value(value.line, value.line.starts[k], value.end, value.below)


NOISE_CONFIDENCE = 0.3
DOUBTFUL_CONFIDENCE = 0.5
STRAY_GAP = 2.0  # text heights


@cache
def _other_party_headings() -> frozenset[tuple[str, ...]]:
    data = json.loads((RULES / "labels.json").read_text(encoding="utf-8"))
    return frozenset(tuple(h.split()) for h in data["other_party_headings"])


def _is_heading(line: Line, labels: Sequence[Label]) -> bool:
    """A section heading: a short line of words without digits or a value, that is not a row of labels."""
    words = line.text.split()
    if not words or len(words) > 6 or re.search(r"\d", line.text):
        return False
    covered = sum(label.end - label.first for label in labels if label.field != "other")
    if labels and covered >= len(words):
        return False  # "NAME RELATIONSHIP PHONE": labels of a boxed form, their values come below
    letters = "".join(w for w in words if w.isalpha())
    return line.text.rstrip().endswith(":") or (letters.isupper() and len(letters) >= 4)


def not_the_patient(lines: Sequence[Line], pairs: Sequence[tuple[Label, Value]]) -> set[int]:
    """Ids of lines that speak of someone or something else than the patient.

    - the organisation's header: every row above the page's first written-out patient label
      ("Sex:", "DOB:", or a row of a boxed form's labels; not a bare "Phone 555-..." in a letterhead);
    - the letterhead (see ``letterhead``);
    - sections headed "Emergency contact", "Next of kin", "Guarantor", "Referral", ... up to the
      next heading: their names, phones and addresses belong to other people.
    """
    skip = letterhead(lines)
    first_identity: dict[int, int] = {}
    lex = lexicon()
    for label, _value in pairs:
        if label.field == "other":
            continue
        on_line = find_labels(label.line, lex)
        label_row = sum(lab.end - lab.first for lab in on_line) >= len(label.line.words)
        if label.closed or label_row:
            page = label.line.page
            first_identity[page] = min(first_identity.get(page, label.line.row), label.line.row)
    heads = _other_party_headings()
    # Headings seen on this page: (left edge, right end of its column, speaks of someone else).
    # A heading governs from its left edge to the next thing printed on its own row (the heading
    # of the column beside it) or the page edge: a two-column form's "In case of emergency" on
    # the right does not take the patient's address on the left, while a full-width
    # "Emergency contact" box governs all the boxes across the page under it.
    headings: list[tuple[float, float, bool]] = []
    page = -1
    for line in lines:
        if line.page != page:
            page, headings = line.page, []
        if line.page in first_identity and line.row < first_identity[line.page]:
            skip.add(id(line))
            continue
        height = max(1, line.box.y1 - line.box.y0)
        if _is_heading(line, find_labels(line, lex)):
            key = tuple(re.findall(r"[a-z0-9]+", line.text.lower()))
            beside = [o.box.x0 for o in lines if o.page == line.page and o.row == line.row and o.box.x0 > line.box.x1]
            right = float(min(beside)) - height if beside else float("inf")
            headings.append((line.box.x0 - 2.0 * height, right, any(key[: len(h)] == h for h in heads)))
            continue
        mine = [h for h in headings if h[0] <= line.box.x0 < h[1]]
        if mine and mine[-1][2]:
            skip.add(id(line))
    return skip


def candidates(lines: Sequence[Line]) -> list[Candidate]:
    lex = lexicon()
    pairs = pair(lines, lex)
    skip = not_the_patient(lines, pairs)
    found: list[Candidate] = []
    for label, value in pairs:
        if label.field != "other" and id(label.line) not in skip and id(value.line) not in skip:
            found.extend(_from_label(label, _skip_noise(value)))
    found.extend(_from_text([line for line in lines if id(line) not in skip]))
    return found


def _key(field: str, value: object) -> str:
    return " ".join(str(value).lower().split())


def resolve(cands: Sequence[Candidate]) -> tuple[dict[str, FieldValue], list[dict[str, str]]]:
    """Pick each field's value by agreement across the chart; disagreement becomes an issue."""
    by_field: dict[str, list[Candidate]] = {}
    for c in cands:
        by_field.setdefault(c.field, []).append(c)
    patient: dict[str, FieldValue] = {}
    issues: list[dict[str, str]] = []
    for fname, group in by_field.items():
        if fname.startswith(("invalid:", "hint:")):
            continue
        votes: dict[str, list[FieldValue]] = {}
        for c in group:
            votes.setdefault(_key(fname, c.value.value), []).append(c.value)
        if fname == "middle_name":
            # An initial agrees with the full middle name that starts with it.
            full = [k for k in votes if len(k) > 1]
            for k in [k for k in votes if len(k) == 1]:
                match = [f for f in full if f.startswith(k)]
                if match:
                    votes[match[0]].extend(votes.pop(k))
        ranked = sorted(votes.values(), key=lambda vs: -sum(v.confidence for v in vs))
        winner = ranked[0]
        best = max(winner, key=lambda v: v.confidence)
        total = sum(v.confidence for vs in ranked for v in vs)
        share = sum(v.confidence for v in winner) / total if total else 1.0
        patient[fname] = FieldValue(best.value, best.confidence * share, best.page, best.bbox, best.rule)
        if len(ranked) > 1 and fname in CONSISTENT:
            other = ranked[1][0]
            if sum(v.confidence for v in ranked[1]) >= 0.3 * sum(v.confidence for v in winner):
                issues.append(
                    {
                        "field": f"patient.{fname}",
                        "kind": "inconsistent",
                        "message": f"{fname.replace('_', ' ')} differs between page {best.page} and page {other.page}",
                    }
                )
    hinted: set[str] = set()
    for c in cands:
        if c.field.startswith("hint:"):
            fname = c.field.split(":", 1)[1]
            if fname not in patient and fname not in hinted:
                hinted.add(fname)
                issues.append(
                    {
                        "field": f"patient.{fname}",
                        "kind": "missing",
                        "message": f"no {fname.replace('_', ' ')} recorded; the text on page {c.value.page} "
                        f"describes the patient as {c.value.value}",
                    }
                )
        if c.field.startswith("invalid:"):
            fname = c.field.split(":", 1)[1]
            if fname not in patient:
                issues.append(
                    {
                        "field": f"patient.{fname}",
                        "kind": "invalid",
                        "message": f"{fname.replace('_', ' ')} on page {c.value.page} could not be read as valid",
                    }
                )
    return patient, issues
