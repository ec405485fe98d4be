"""Medications and allergies from the lines of an OCR'd chart, each value tied to the words it was read from.

Drug names come from the ``drug_named_entity_recognition`` dictionary (a brand becomes its generic name), plus
a small table of chart abbreviations it lacks; the sig grammar (units, routes, frequencies), the context cues and
the allergy vocabularies are data in ``rules/sig.json`` (its ``version`` is :func:`rules_version`).

A page's lines are read as one text, so a sig or a sentence may run over a line break, and every value keeps
the span it came from (``Line.locate`` gives its box and OCR confidence). A *segment* is a sentence, or a
line that does not continue the one above; the cue nearest before a drug in its segment ("Allergies:",
"continue", "stopped", "Anesthesia:"), else the section of its line, decides what the mention is:

- a medication the patient takes: in a medications section or after a medication cue, or with a dose or a
  frequency after it and no cue saying otherwise;
- not a medication: in an allergy, family or social context, given during a procedure, or discontinued
  ("stopped metformin", "metformin was discontinued"). Discontinued drugs are left out because the draft lists
  what the patient takes now; a current mention of the same drug elsewhere still counts.

Drug classes ("antibiotics", "statins") are never medications but can be allergy substances. One entry is kept
per drug per document: the mention with the most complete sig.
"""

from __future__ import annotations

import bisect
import bz2
import importlib.util
import json
import pickle
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from migrate.nlp.layout import Line, union
from migrate.records import Box, FieldValue

__all__ = ["find_allergies", "find_medications", "rules_version"]

RULES_PATH = Path(__file__).with_name("rules") / "sig.json"

SectionOf = Callable[[Line], str | None]

# How sure each rule is, before the OCR confidence of the words is multiplied in.
CERTAINTY = {"dict": 0.95, "abbrev": 0.9, "ocr": 0.85, "fuzzy": 0.8, "sig": 0.95, "sig+ocr": 0.85}
NO_SIG_FACTOR = 0.9  # a drug named in a medication context but with no sig read after it
ALLERGY_CERTAINTY = {"known": 0.9, "unlisted": 0.6, "reaction": 0.9, "nkda": 0.95}
FUZZY_MIN_LEN = 7  # shorter words collide with brand names by one letter ("relief", "region")
FUZZY_CUTOFF = 90.0  # rapidfuzz ratio: "lisinoprll" scores 90, while "nicotine" is 89 from "niacin"
MAX_UNKNOWN_WORDS = 3  # words a sig may skip ("for blood pressure") once it has begun
BLOCK_LINES = 15  # lines a header-only line ("ALLERGIES") governs when no section is given

# Kinds of context whose drugs are not medications the patient takes: given during a procedure or a stay
# ("administered"), someone else's ("family"), a habit ("social"), stopped ("negated"), or an allergy.
EXCLUDED = frozenset({"allergy", "family", "social", "administered", "negated"})
_SEPARATORS = " \t\n,()[]{}:-\u2013\u2014/#*\"'+="
_WORD = re.compile(r"[^\W_]+(?:['\-][^\W_]+)*")
_STOP = re.compile(r"([\w.]*?)([.!?])(?=\s|$)")
_ABBREVIATED = frozenset({"dr", "mr", "mrs", "ms", "st", "vs", "no", "jr", "sr", "approx", "pt"})
_OCR_DIGITS = re.compile(r"(?<![a-z])(?=[0-9ol.]*[0-9])[0-9ol][0-9ol.]*")
_DENIED = re.compile(r"\b(?:no|denies|denied|without|negative for)\s+(?:[^\W\d_]+\s+)?$")  # "no allergic reaction"
_NUMBER_FOLLOWS = re.compile(r"[^\w;]{0,4}(?:[^\W\d_]+[^\w;]{1,4})?\d")  # "rnetformin 500", "x ER 500"
_OCR_LETTERS = (("0", "o"), ("1", "l"), ("5", "s"), ("|", "l"))
_OCR_PAIRS = (("rn", "m"), ("vv", "w"), ("cl", "d"), ("ii", "ll"))


def rules_version() -> str:
    """The version of ``rules/sig.json`` that produced the values (record it with each draft)."""
    return _rules().version


def find_medications(lines: Sequence[Line], *, section_of: SectionOf | None = None) -> list[dict[str, FieldValue]]:
    """Medications the patient takes: ``name`` (generic, lower case) and, if read, ``dose``, ``route``, ``frequency``.

    An absent part is an absent key. ``section_of`` names a line's section ("medications", "allergies", ...);
    without it, header-only lines ("ALLERGIES", "Current Medications:") stand in for sections.
    """
    rules = _rules()
    best: dict[str, tuple[tuple[int, float], dict[str, FieldValue]]] = {}
    for page in _pages(lines, section_of, rules):
        mentions = _mentions(page, rules)
        for i, mention in enumerate(mentions):
            if mention.is_class:
                continue
            later = mentions[i + 1 :]
            nxt = next((m.start for m in later if m.name != mention.name), len(page.text))
            same = {m.start: m.end for m in later if m.name == mention.name and m.start < nxt}  # "lisinopril (Zestril)"
            sig = _scan_sig(page, rules, mention.end, min(nxt, page.segment_end(mention.end)), same)
            kind, evidence = _context(page, mention.start, mention.end, nxt)
            has_sig = "dose" in sig.parts() or "frequency" in sig.parts()
            if kind in EXCLUDED or not (has_sig or kind == "medication"):
                continue
            entry = _medication(page, mention, sig, evidence if not has_sig else "sig")
            score = (len(entry), entry["name"].confidence)
            if mention.name not in best or score > best[mention.name][0]:
                best[mention.name] = (score, entry)  # a dict keeps the place of the first mention
    return [entry for _, entry in best.values()]


def find_allergies(
    lines: Sequence[Line], *, section_of: SectionOf | None = None
) -> tuple[list[dict[str, FieldValue]], FieldValue | None]:
    """Allergy substances with their reactions, and a field (value True) when "no known allergies" was stated.

    A chart that states both keeps both: the reviewer sees the contradiction.
    """
    rules = _rules()
    found: dict[str, dict[str, FieldValue]] = {}
    nkda: FieldValue | None = None
    for page in _pages(lines, section_of, rules):
        mentions = _mentions(page, rules)
        for start, end, evidence in _allergy_scopes(page):
            for item in _allergy_items(page, rules, mentions, start, end, evidence):
                key = str(item["substance"].value)
                if key not in found or ("reaction" in item and "reaction" not in found[key]):
                    found[key] = item
        if nkda is None:
            nkda = _nkda(page, rules)
    return list(found.values()), nkda


# --- rules -------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Phrases:
    """A phrase list compiled to one regex shaped as a trie, so a page is read in one quick pass.

    A written form matches case-insensitively on whole words, its dots optional (p.o. = po), a space any
    whitespace (line breaks included), a hyphen optional; a match maps back to its normal form through its
    spelling without dots, hyphens and spaces.
    """

    regex: re.Pattern[str]
    norms: Mapping[str, str]

    @classmethod
    def of(cls, pairs: Iterable[tuple[str, str]], *, bounded: bool = True) -> _Phrases:
        norms: dict[str, str] = {}
        trie: dict[str, Any] = {}
        for form, norm in pairs:
            norms.setdefault(_squeeze(form.lower()), norm)
            node = trie
            for ch in form.lower():
                node = node.setdefault(_FRAGMENTS.get(ch) or re.escape(ch), {})
            node[""] = {}
        left = r"(?<![^\W_])" if bounded else ""
        return cls(re.compile(f"{left}{_trie(trie) or '(?!)'}(?![^\\W_])"), norms)

    def match(self, text: str, pos: int) -> tuple[str, int] | None:
        m = self.regex.match(text, pos)
        return (self.norms[_squeeze(m.group())], m.end()) if m else None

    def search(self, text: str, start: int = 0, end: int | None = None) -> Iterator[tuple[int, int, str]]:
        for m in self.regex.finditer(text, start, len(text) if end is None else end):
            yield m.start(), m.end(), self.norms[_squeeze(m.group())]


_FRAGMENTS = {".": r"\.?", " ": r"\s+", "-": r"[-\s]?"}


def _trie(node: Mapping[str, Any]) -> str:
    alts = [fragment + _trie(child) for fragment, child in node.items() if fragment]
    if not alts:
        return ""
    body = alts[0] if len(alts) == 1 else "(?:" + "|".join(alts) + ")"
    return f"(?:{body})?" if "" in node else body


def _squeeze(text: str) -> str:
    return re.sub(r"[\s.\-]+", "", text)


def _phrase(form: str) -> str:
    return "".join(_FRAGMENTS.get(ch) or re.escape(ch) for ch in form)


@dataclass(frozen=True, slots=True)
class _Rules:
    version: str
    dose: re.Pattern[str]
    unit_of: Mapping[str, tuple[str, str | None]]  # written unit -> (normal form, singular for counted units)
    suffix_of: Mapping[str, str]
    number_words: Mapping[str, str]
    routes: _Phrases
    frequencies: _Phrases
    frequency_patterns: tuple[tuple[re.Pattern[str], str], ...]
    prn: _Phrases
    fillers: _Phrases
    abbreviations: _Phrases
    overrides: Mapping[str, str]
    stoplist: frozenset[str]
    continuing: frozenset[str]
    not_substances: frozenset[str]
    cues: _Phrases  # normal form: "kind:mode,kind:mode" (mode: header | adjacent | weak | subject | after)
    header_kinds: Mapping[str, str]
    nkda: _Phrases
    nkda_in_scope: _Phrases
    substances: _Phrases
    reactions: _Phrases


def _pairs(table: Sequence[Mapping[str, Any]]) -> list[tuple[str, str]]:
    return [(form, str(row["norm"])) for row in table for form in [row["norm"], *row["forms"]]]


@cache
def _rules() -> _Rules:
    data: dict[str, Any] = json.loads(RULES_PATH.read_text(encoding="utf-8"))
    unit_of = {
        _squeeze(form.lower()): (str(u["norm"]), u.get("singular"))
        for u in data["units"]
        for form in [u["norm"], *u["forms"]]
    }
    suffix_of = {
        _squeeze(form.lower()): str(s["norm"]) for s in data["unit_suffixes"] for form in [s["norm"], *s["forms"]]
    }
    number_words: dict[str, str] = data["number_words"]
    written_units = {f.lower() for u in data["units"] for f in [u["norm"], *u["forms"]]}
    written_suffixes = {f.lower() for x in data["unit_suffixes"] for f in [x["norm"], *x["forms"]]}
    alt = "|".join(_phrase(f) for f in sorted(written_units, key=len, reverse=True))
    suffix = "|".join(_phrase(f).replace(r"\s+", r"\s*") for f in sorted(written_suffixes, key=len, reverse=True))
    number = r"\d{1,3}(?:,\d{3})+|(?:\d*\.)?\d+(?:/(?:\d*\.)?\d+)+|\d*\.\d+|\d+(?:,\d+)?|"  # 12.5/20 mg
    number += "|".join(sorted(number_words, key=len, reverse=True))
    dose = re.compile(
        rf"(?P<num>{number})(?:\s*(?:-|to)\s*(?P<num2>\d*\.?\d+))?\s*(?P<unit>{alt})\s*(?P<suffix>{suffix})?"
        r"(?![^\W_]|/)"
    )
    cue_roles: dict[str, list[str]] = {}
    header_kinds: dict[str, str] = {}
    for kind, modes in data["cues"].items():
        for mode, forms in modes.items():
            for form in forms:
                cue_roles.setdefault(form, []).append(f"{kind}:{mode}")
            if mode == "header":
                header_kinds.update((_key(f), kind) for f in forms)
    allergy = data["allergy"]
    return _Rules(
        version=str(data["version"]),
        dose=dose,
        unit_of=unit_of,
        suffix_of=suffix_of,
        number_words=number_words,
        routes=_Phrases.of(_pairs(data["routes"])),
        frequencies=_Phrases.of(_pairs(data["frequencies"])),
        frequency_patterns=tuple(
            (re.compile(p["pattern"] + r"(?![^\W_])"), str(p["template"])) for p in data["frequency_patterns"]
        ),
        prn=_Phrases.of((f, "PRN") for f in ["prn", *data["prn"]]),
        fillers=_Phrases.of((f, "") for f in data["fillers"]),
        abbreviations=_Phrases.of(data["drug_abbreviations"].items()),
        overrides=data["name_overrides"],
        stoplist=frozenset(data["drug_stoplist"]),
        continuing=frozenset(data["continuing_words"]),
        not_substances=frozenset(allergy["not_substances"]),
        cues=_Phrases.of((form, ",".join(roles)) for form, roles in cue_roles.items()),
        header_kinds=header_kinds,
        nkda=_Phrases.of((f, "nkda") for f in allergy["nkda"]),
        nkda_in_scope=_Phrases.of((f, "nkda") for f in allergy["nkda_in_scope"]),
        substances=_Phrases.of(allergy["substances"].items()),
        reactions=_Phrases.of(allergy["reactions"].items()),
    )


def _key(text: str) -> str:
    return re.sub(r"\s+", " ", text.lower().replace(".", "")).strip()


# --- the page as one text ------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Page:
    """The lines of one page joined into one text (same row: tab; next row: newline), with offsets back."""

    number: int
    lines: list[Line]
    starts: list[int]
    text: str
    low: str  # lower case, same length as text
    scan: str  # ``low`` with OCR digit confusions repaired inside numbers ("5OO" -> "500"), same length
    stops: frozenset[int]  # positions of sentence-ending punctuation
    breaks: list[int]  # segment starts, sorted
    kinds: list[str | None]  # what each line's section says about its drugs
    cues: list[tuple[int, int, str, str]] = field(default_factory=list)  # start, end, kind, mode
    drugs: list[_Mention] | None = None  # filled on first use, shared by medications and allergies

    def line_at(self, pos: int) -> int:
        return max(0, bisect.bisect_right(self.starts, pos) - 1)

    def segment_start(self, pos: int) -> int:
        return self.breaks[max(0, bisect.bisect_right(self.breaks, pos) - 1)]

    def segment_end(self, pos: int) -> int:
        i = bisect.bisect_right(self.breaks, pos)
        return self.breaks[i] if i < len(self.breaks) else len(self.text)

    def locate(self, start: int, end: int) -> tuple[Box | None, float]:
        boxes: list[Box] = []
        confidence = 1.0
        for i in range(self.line_at(start), self.line_at(max(start, end - 1)) + 1):
            offset = self.starts[i]
            box, conf = self.lines[i].locate(max(0, start - offset), end - offset)
            if box is not None:
                boxes.append(box)
                confidence = min(confidence, conf)
        return (union(boxes), confidence) if boxes else (None, 0.0)

    def value_at(self, value: str | bool, start: int, end: int, certainty: float, rule: str) -> FieldValue:
        box, ocr = self.locate(start, end)
        return FieldValue(value=value, confidence=ocr * certainty, page=self.number, bbox=box, rule=rule)


def _pages(lines: Sequence[Line], section_of: SectionOf | None, rules: _Rules) -> Iterator[_Page]:
    ordered = sorted(lines, key=lambda ln: (ln.page, ln.row))  # stable: column segments stay left to right
    i = 0
    while i < len(ordered):
        j = i
        while j < len(ordered) and ordered[j].page == ordered[i].page:
            j += 1
        yield _page(ordered[i:j], section_of, rules)
        i = j


def _page(lines: list[Line], section_of: SectionOf | None, rules: _Rules) -> _Page:
    parts: list[str] = []
    starts: list[int] = []
    breaks = [0]
    pos = 0
    for k, line in enumerate(lines):
        if k:
            same_row = line.row == lines[k - 1].row
            parts.append("\t" if same_row else "\n")
            pos += 1
            if not same_row and not _continues(lines[k - 1].text, line.text, rules):
                breaks.append(pos)
        starts.append(pos)
        parts.append(line.text)
        pos += len(line.text)
    text = "".join(parts)
    low = text.lower()
    if len(low) != len(text):  # a few characters change length when lowered; keep offsets exact
        low = "".join(c.lower() if len(c.lower()) == 1 else c for c in text)
    scan = _OCR_DIGITS.sub(lambda m: m.group().replace("o", "0").replace("l", "1"), low)
    stops = frozenset(_sentence_stops(low))
    breaks = sorted(set(breaks) | {s + 1 for s in stops})
    page = _Page(lines[0].page, lines, starts, text, low, scan, stops, breaks, _line_kinds(lines, section_of, rules))
    page.cues = sorted(
        (
            (s, e, kind, mode)
            for s, e, roles in rules.cues.search(low)
            for kind, mode in (role.split(":") for role in roles.split(","))
        ),
        key=lambda c: (c[1], c[0]),
    )
    return page


def _continues(previous: str, current: str, rules: _Rules) -> bool:
    """Whether a line carries on the sentence above (prose wrapped at the margin) rather than starting anew.

    It does when the line above did not end a sentence and this one starts in lower case, or the line above
    ends on a word a sentence cannot end on ("intolerance to / NSAIDs"), or this one starts with a dose
    ("methotrexate / 15 mg weekly").
    """
    end = previous.rstrip()[-1:]
    if not end or end in ".:;!?":
        return False
    last = previous.split()[-1].lower()
    low = current.lower()
    return current[:1].islower() or last in rules.continuing or rules.dose.match(low) is not None


def _sentence_stops(low: str) -> Iterator[int]:
    for m in _STOP.finditer(low):
        word = m.group(1)
        if m.group(2) == "." and ("." in word or (len(word) == 1 and word.isalpha()) or word in _ABBREVIATED):
            continue  # p.o. / b.i.d. / Dr. / a middle initial
        yield m.start(2)


def _line_kinds(lines: list[Line], section_of: SectionOf | None, rules: _Rules) -> list[str | None]:
    """Each line's section as a context kind: the given section, else the nearest header-only line above."""
    kinds: list[str | None] = []
    block: str | None = None
    left = 0
    for line in lines:
        given = section_of(line) if section_of else None
        if given is not None:
            kinds.append(_section_kind(given))
            block = None
            continue
        key = _key(line.text).rstrip(":").strip()
        key = re.sub(r"^(?:current|home|active|outpatient|discharge|admission)\s+", "", key)
        header = rules.header_kinds.get(key) or rules.header_kinds.get(re.sub(r"\s*(?:list|/.*)$", "", key))
        if header is not None:
            block, left = header, BLOCK_LINES
            kinds.append(header)
        elif block is not None and left > 0:
            kinds.append(block)
            left -= 1
        else:
            block = None
            kinds.append(None)
    return kinds


def _section_kind(section: str) -> str | None:
    name = section.lower()
    for needle, kind in (
        ("allerg", "allergy"),
        ("family", "family"),
        ("social", "social"),
        ("medication", "medication"),
        ("meds", "medication"),
        ("prescription", "medication"),
        ("procedure", "administered"),
        ("course", "administered"),
        ("operative", "administered"),
        ("anesthesia", "administered"),
        ("finding", "administered"),
        ("surgical", "administered"),
    ):
        if needle in name:
            return kind
    return None


def _context(page: _Page, start: int, end: int, limit: int) -> tuple[str | None, str]:
    """What a drug mention is (a context kind or None) and the evidence for it ("cue" or "section").

    The nearest cue before it in its segment decides, unless a cue after it says it was stopped or given during
    a procedure; a family or social cue anywhere before it wins outright. With no cue, its line's section decides.
    """
    seg = page.segment_start(start)
    before: tuple[str, str] | None = None
    strong = False
    for s, e, kind, mode in page.cues:
        if e > start:
            break
        if s < seg or (mode == "subject" and page.low[seg:s].strip(" \t\n-*\u2022")):
            continue
        if kind in ("family", "social") and mode in ("header", "subject"):
            return kind, "cue"  # someone else's drug, or a habit: whatever verb follows
        near = len(_WORD.findall(page.low, e, start)) <= MAX_UNKNOWN_WORDS
        if mode == "header" and kind in EXCLUDED:
            strong = True
        if mode == "header" or (mode == "adjacent" and near) or (mode == "weak" and near and not strong):
            before = (kind, "cue")
    after = _after_cue(page, end, min(limit, page.segment_end(end)))
    if after is not None and (before is None or before[0] not in EXCLUDED):
        return after, "cue"
    if before is not None:
        return before
    return page.kinds[page.line_at(start)], "section"


def _after_cue(page: _Page, start: int, end: int) -> str | None:
    for s, e, kind, mode in page.cues:
        if mode == "after" and start <= s and e <= end:
            return kind
    return None


# --- drug mentions -------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Mention:
    start: int
    end: int
    name: str
    source: str  # dict | abbrev | ocr | fuzzy
    certainty: float
    is_class: bool


_DRUG_FIELDS = ("name", "drugbank_id", "medline_plus_id", "nhs_url", "mesh_tree")


class _DrugDictionary:
    """The drug_named_entity_recognition dictionary (its data file, read once per process).

    The package's own finder builds a trigram index of every name at import (~300 MB per process);
    we read its dictionary file directly and keep only the fields used here (~50 MB), and match
    names the way its exact finder does: two-word names first, then single words.
    """

    def __init__(self) -> None:
        spec = importlib.util.find_spec("drug_named_entity_recognition")
        if spec is None or not spec.submodule_search_locations:
            raise ModuleNotFoundError("drug_named_entity_recognition")
        folder = Path(next(iter(spec.submodule_search_locations)))
        with bz2.open(folder / "drug_ner_dictionary.pkl.bz2", "rb") as f:
            raw = pickle.load(f)  # the package's own data file, shipped inside the pinned wheel
        self._variants: Mapping[str, list[str]] = raw["drug_variant_to_canonical"]
        self._data: Mapping[str, Mapping[str, Any]] = {
            k: {f: v[f] for f in _DRUG_FIELDS if f in v} for k, v in raw["drug_canonical_to_data"].items()
        }
        del raw
        self._fuzzy: dict[tuple[str, int], list[str]] | None = None

    def _hits(self, variant: str) -> list[Mapping[str, Any]]:
        return [self._data.get(c) or {"name": c} for c in self._variants.get(variant, ())]

    def find(self, words: list[str]) -> Iterator[tuple[Mapping[str, Any], int, int]]:
        taken: set[int] = set()
        found: list[tuple[Mapping[str, Any], int, int]] = []
        for i in range(len(words) - 1):
            hits = self._hits(f"{words[i]} {words[i + 1]}".lower())
            if hits:
                found.extend((h, i, i + 2) for h in hits)
                taken.update((i, i + 1))
        for i, word in enumerate(words):
            if i not in taken:
                found.extend((h, i, i + 1) for h in self._hits(word.lower()))
        yield from found

    def entry(self, variant: str) -> Mapping[str, Any] | None:
        entries = [self._data.get(c) or {"name": c} for c in self._variants.get(variant, ())]
        return max(entries, key=_is_specific) if entries else None

    def fuzzy(self, word: str, stoplist: frozenset[str]) -> tuple[Mapping[str, Any], float] | None:
        """The closest name of a common drug (MedlinePlus or NHS knows it) with the same first letter and length +-2."""
        from rapidfuzz import fuzz, process

        if self._fuzzy is None:
            self._fuzzy = {}
            for variant, canonicals in self._variants.items():
                usable = len(variant) >= FUZZY_MIN_LEN - 2 and variant.isalpha() and variant not in stoplist
                if usable and any(_is_common(self._data.get(c, {})) for c in canonicals):
                    self._fuzzy.setdefault((variant[0], len(variant)), []).append(variant)
        best: tuple[str, float] | None = None
        for n in range(len(word) - 2, len(word) + 3):
            choices = self._fuzzy.get((word[0], n), [])
            hit = process.extractOne(word, choices, scorer=fuzz.ratio, score_cutoff=FUZZY_CUTOFF)
            if hit is not None and (best is None or hit[1] > best[1]):
                best = (str(hit[0]), float(hit[1]))
        entry = self.entry(best[0]) if best else None
        return (entry, best[1] / 100) if entry is not None and best is not None else None


def _is_specific(data: Mapping[str, Any]) -> bool:
    """A particular drug (DrugBank, MedlinePlus or NHS knows it), not a class or chemical family."""
    return any(k in data for k in ("drugbank_id", "medline_plus_id", "nhs_url"))


def _is_common(data: Mapping[str, Any]) -> bool:
    return "medline_plus_id" in data or "nhs_url" in data


@cache
def _dictionary() -> _DrugDictionary:
    return _DrugDictionary()


def _drug_name(data: Mapping[str, Any], surface: str, rules: _Rules) -> tuple[str, bool]:
    """Generic name in lower case, and whether the entry is a class (whose own word on the chart says more)."""
    name = str(data.get("name") or surface).lower()
    trees = data.get("mesh_tree") or []
    is_class = not _is_specific(data) and (name.endswith("s") or any(str(t).startswith("D27") for t in trees))
    if is_class:
        name = re.sub(r"\s+", " ", surface.lower())
    return rules.overrides.get(name, name), is_class


def _mentions(page: _Page, rules: _Rules) -> list[_Mention]:
    if page.drugs is not None:
        return page.drugs
    found: list[_Mention] = []
    taken = bytearray(len(page.text))

    def free(s: int, e: int) -> bool:
        return not any(taken[s:e])

    def take(mention: _Mention) -> None:
        found.append(mention)
        taken[mention.start : mention.end] = b"\x01" * (mention.end - mention.start)

    candidates = [
        _Mention(s, e, name, "abbrev", CERTAINTY["abbrev"], False)
        for s, e, name in rules.abbreviations.search(page.low)
    ]
    words = list(_WORD.finditer(page.text))
    drugs = _dictionary()
    for data, first, last in drugs.find([w.group() for w in words]):
        s, e = words[first].start(), words[last - 1].end()
        surface = page.low[s:e]
        if len(surface) >= 3 and surface not in rules.stoplist:
            name, is_class = _drug_name(data, surface, rules)
            candidates.append(_Mention(s, e, name, "dict", CERTAINTY["dict"], is_class))
    # The longest reading wins ("calcium carbonate" over "calcium"); on a tie the table of chart abbreviations
    # does, since it exists to correct the dictionary ("vitamin d", "colace").
    for mention in sorted(candidates, key=lambda m: (m.start - m.end, m.source != "abbrev", m.start)):
        if free(mention.start, mention.end):
            take(mention)
    for w in words:
        if len(w.group()) >= FUZZY_MIN_LEN - 2 and free(w.start(), w.end()):
            misread = _ocr_mention(page, rules, drugs, w.start(), w.end())
            if misread is not None:
                take(misread)
    page.drugs = _combinations(page, sorted(found, key=lambda m: m.start))
    return page.drugs


def _combinations(page: _Page, mentions: list[_Mention]) -> list[_Mention]:
    """Join a combination product written with a slash or hyphen ("hydrochlorothiazide/lisinopril") into one."""
    out: list[_Mention] = []
    for m in mentions:
        prev = out[-1] if out else None
        if prev is not None and not (prev.is_class or m.is_class) and page.text[prev.end : m.start] in ("/", "-"):
            name = prev.name if prev.name == m.name else f"{prev.name}/{m.name}"
            certainty = min(prev.certainty, m.certainty)
            source = prev.source if prev.certainty <= m.certainty else m.source
            out[-1] = _Mention(prev.start, m.end, name, source, certainty, False)
        else:
            out.append(m)
    return out


def _ocr_mention(page: _Page, rules: _Rules, drugs: _DrugDictionary, s: int, e: int) -> _Mention | None:
    """A drug name misread by OCR ("rnetformin", "warfar1n", "lisinoprll").

    Characters OCR confuses are repaired and looked up where a dose or a medication cue follows; a fuzzy match
    (same first letter, rapidfuzz ratio >= FUZZY_CUTOFF) is tried only on a word directly followed by a dose,
    because ordinary words ("active", "primary") sit close to some brand name.
    """
    word = page.low[s:e]
    if sum(c.isalpha() for c in word) < 4 or word in rules.stoplist:
        return None
    suspect = any(not c.isalpha() for c in word) or any(bad in word for bad, _ in _OCR_PAIRS)
    number_follows = _NUMBER_FOLLOWS.match(page.scan, e) is not None
    if not (suspect or (number_follows and len(word) >= FUZZY_MIN_LEN)):
        return None
    sig = _scan_sig(page, rules, e, page.segment_end(e)) if number_follows else _Sig()
    dosed = sig.dose is not None and len(_WORD.findall(page.low, e, sig.dose.start)) <= 1
    fuzzy = dosed and len(word) >= FUZZY_MIN_LEN
    letters = word
    for bad, good in _OCR_LETTERS:
        letters = letters.replace(bad, good)
    if suspect and (dosed or _context(page, s, e, e)[0] == "medication"):
        candidates = [letters, word.replace("1", "i"), *(letters.replace(bad, good) for bad, good in _OCR_PAIRS)]
        for candidate in dict.fromkeys(candidates):
            entry = drugs.entry(candidate) if candidate != word else None
            if entry is not None and _is_specific(entry):
                name, _ = _drug_name(entry, candidate, rules)
                return _Mention(s, e, name, "ocr", CERTAINTY["ocr"], False)
    hit = drugs.fuzzy(letters, rules.stoplist) if fuzzy and letters.isalpha() else None
    if hit is None:
        return None
    name, _ = _drug_name(hit[0], letters, rules)
    return _Mention(s, e, name, "fuzzy", CERTAINTY["fuzzy"] * hit[1], False)


# --- sigs ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Part:
    value: str
    start: int
    end: int
    fixed: bool  # read only after repairing OCR confusions ("5OO mg")


@dataclass(slots=True)
class _Sig:
    dose: _Part | None = None
    count: _Part | None = None  # "2 puffs": the dose when no strength is written
    route: _Part | None = None
    frequency: _Part | None = None
    prn: _Part | None = None

    def parts(self) -> dict[str, _Part]:
        out = {"dose": self.dose or self.count, "route": self.route, "frequency": self.frequency}
        if self.prn is not None:
            f = self.frequency
            out["frequency"] = (
                _Part(f"{f.value} PRN", f.start, max(f.end, self.prn.end), f.fixed or self.prn.fixed)
                if f is not None
                else self.prn
            )
        return {k: v for k, v in out.items() if v is not None}


def _scan_sig(page: _Page, rules: _Rules, pos: int, limit: int, same: Mapping[int, int] | None = None) -> _Sig:
    """Read dose, route and frequency from ``pos`` on, stopping at a sentence end, ';' or words that are not a sig.

    ``same`` holds other names of the same drug (start -> end) to read past, as in "lisinopril (Zestril) 10 mg".
    """
    sig = _Sig()
    text = page.scan
    unknown = 0
    while pos < limit:
        ch = text[pos]
        if ch in _SEPARATORS or (ch == "." and pos not in page.stops):
            pos += 1
            continue
        if same and pos in same:
            pos = same[pos]
            continue
        if ch in ";!?" or pos in page.stops:
            break
        hit = _sig_element(page, rules, pos)
        if hit is not None and hit[2].end <= limit:
            kind, filler, part = hit
            pos = part.end
            unknown = 0
            if not filler:
                _assign(sig, kind, part)
            continue
        word = _WORD.match(text, pos)
        if word is None or unknown >= MAX_UNKNOWN_WORDS or not sig.parts():
            break
        unknown += 1
        pos = word.end()
    return sig


def _sig_element(page: _Page, rules: _Rules, pos: int) -> tuple[str, bool, _Part] | None:
    text = page.scan

    def part(value: str, end: int) -> _Part:
        return _Part(value, pos, end, page.low[pos:end] != text[pos:end])

    for pattern, template in rules.frequency_patterns:
        m = pattern.match(text, pos)
        if m:
            return "frequency", False, part(template.format(*m.groups()), m.end())
    m = rules.dose.match(text, pos)
    if m:
        unit, singular = rules.unit_of[_squeeze(m["unit"])]
        num = _number(m["num"], rules)
        value = f"{num}-{_number(m['num2'], rules)}" if m["num2"] else num
        if singular is not None and m["num2"] is None and num in ("1", "0.5"):
            unit = singular
        suffix = rules.suffix_of[_squeeze(m["suffix"])] if m["suffix"] else ""
        space = "" if unit == "%" else " "
        return ("count" if singular else "dose"), False, part(f"{value}{space}{unit}{suffix}", m.end())
    for kind, phrases in (("frequency", rules.frequencies), ("route", rules.routes), ("prn", rules.prn)):
        hit = phrases.match(text, pos)
        if hit:
            return kind, False, part(hit[0], hit[1])
    filler = rules.fillers.match(text, pos)
    return ("filler", True, part("", filler[1])) if filler else None


def _assign(sig: _Sig, kind: str, part: _Part) -> None:
    if kind == "frequency" and sig.frequency is not None:
        if sig.frequency.value == "daily" and part.value in ("QHS", "QAM", "QPM"):  # "once daily at bedtime"
            sig.frequency = _Part(part.value, sig.frequency.start, part.end, sig.frequency.fixed or part.fixed)
        return
    if getattr(sig, kind) is None:
        setattr(sig, kind, part)


def _number(raw: str, rules: _Rules) -> str:
    if raw in rules.number_words:
        return rules.number_words[raw]
    if re.fullmatch(r"\d{1,3}(?:,\d{3})+", raw):
        return raw.replace(",", "")
    raw = raw.replace(",", ".")
    return "0" + raw if raw.startswith(".") else raw


def _medication(page: _Page, mention: _Mention, sig: _Sig, evidence: str) -> dict[str, FieldValue]:
    certainty = mention.certainty * (1.0 if evidence == "sig" else NO_SIG_FACTOR)
    rule = f"med.{mention.source}+{evidence}"
    entry = {"name": page.value_at(mention.name, mention.start, mention.end, certainty, rule)}
    for key, p in sig.parts().items():
        rule = f"med.sig.{key}" + ("+ocr" if p.fixed else "")
        entry[key] = page.value_at(p.value, p.start, p.end, CERTAINTY["sig+ocr" if p.fixed else "sig"], rule)
    return entry


# --- allergies -----------------------------------------------------------------------------------------------


def _allergy_scopes(page: _Page) -> Iterator[tuple[int, int, str]]:
    """Spans that list allergies: after an allergy cue to the end of its segment, or a line in an allergy section."""
    covered: set[int] = set()
    for s, e, kind, mode in page.cues:
        if kind != "allergy" or mode != "header" or _DENIED.search(page.low, page.segment_start(s), s):
            continue
        end = page.segment_end(e)
        end = min([end, *(c[0] for c in page.cues if c[2] != "allergy" and c[3] == "header" and e <= c[0] < end)])
        li = page.line_at(s)
        line_end = page.starts[li] + len(page.lines[li].text)
        nxt = li + 1
        if end > line_end and nxt < len(page.lines) and page.kinds[nxt] not in (None, "allergy"):
            end = line_end  # the next line is known to be in another section (the other column)
        covered.add(li)
        yield e, end, "allergy.cue"
    rows: dict[int, list[int]] = {}  # a table row may be several lines: one scope per row
    for i, line in enumerate(page.lines):
        if page.kinds[i] == "allergy" and i not in covered:
            rows.setdefault(line.row, []).append(i)
    for row in rows.values():
        yield page.starts[row[0]], page.starts[row[-1]] + len(page.lines[row[-1]].text), "allergy.section"


def _allergy_items(
    page: _Page, rules: _Rules, mentions: list[_Mention], start: int, end: int, evidence: str
) -> Iterator[dict[str, FieldValue]]:
    low = page.low
    subs: list[tuple[int, int, str, str]] = [
        (s, e, n, evidence) for s, e, n in rules.substances.search(low, start, end)
    ]
    for m in mentions:
        if start <= m.start and m.end <= end and all(m.end <= s or m.start >= e for s, e, _, _ in subs):
            subs.append((m.start, m.end, m.name, evidence))
    reactions = [
        r
        for r in rules.reactions.search(low, start, end)
        if all(r[1] <= s or r[0] >= e for s, e, _, _ in subs) and not re.match(r"\s+(?:to|of)\b", low[r[1] :])
    ]
    subs.extend(_unlisted(page, rules, start, end, subs, reactions))
    subs.sort()
    attached: dict[int, list[tuple[int, int, str]]] = {}
    for r in reactions:
        before = [i for i, sub in enumerate(subs) if sub[1] <= r[0]]
        after = [i for i, sub in enumerate(subs) if sub[0] >= r[1]]
        i = before[-1] if before else None
        leads = after and re.fullmatch(r"\W*(?:to|with|from|on)\s*", low[r[1] : subs[after[0]][0]])
        if leads and (i is None or re.search(r"[,;]", low[subs[i][1] : r[0]])):
            i = after[0]  # "hives with penicillin"
        if i is not None:
            attached.setdefault(i, []).append(r)
    for i, (s, e, name, rule) in enumerate(subs):
        certainty = ALLERGY_CERTAINTY["unlisted" if rule == "allergy.unlisted" else "known"]
        # The chart's own wording when it only adds words to the name ("sulfa drugs"); abbreviations
        # and brands are expanded ("PCN" -> penicillin). The normalised name goes alongside.
        printed = " ".join(low[s:e].split())
        shown = printed if re.search(rf"\b{re.escape(name)}\b", printed) else name
        item = {"substance": page.value_at(shown, s, e, certainty, rule)}
        if shown != name:
            item["substance_class"] = page.value_at(name, s, e, certainty, rule)
        found = attached.get(i, [])
        if found:
            value = ", ".join(dict.fromkeys(r[2] for r in found))
            item["reaction"] = page.value_at(
                value, found[0][0], found[-1][1], ALLERGY_CERTAINTY["reaction"], "allergy.reaction"
            )
        yield item


def _unlisted(
    page: _Page,
    rules: _Rules,
    start: int,
    end: int,
    subs: list[tuple[int, int, str, str]],
    reactions: list[tuple[int, int, str]],
) -> Iterator[tuple[int, int, str, str]]:
    """Substances neither table knows, read from the shape of a list item: "Ceclor - rash", "strawberries (hives)"."""
    for m in re.finditer(r"[^,;\n\t]+", page.low[start:end]):
        s, e = start + m.start(), start + m.end()
        if any(s <= a < e for a, _, _, _ in subs):
            continue
        item = re.match(r"[\s:\-]*([a-z][a-z'\- ]{2,30}?)\s*(?:[:(\-\u2013]|->|\bcaus\w*|\bgives?\b)", page.low[s:e])
        listed = re.fullmatch(r"[\s:\-]*([a-z][a-z\-]{3,})\s*\.?\s*", page.low[s:e])
        if item is not None and any(s <= r[0] < e for r in reactions):
            word_start, word_end = s + item.start(1), s + item.end(1)
        elif listed is not None and subs:
            word_start, word_end = s + listed.start(1), s + listed.end(1)
        else:
            continue
        word = page.low[word_start:word_end].strip()
        words = word.split()
        if len(words) > 3 or words[0] in rules.not_substances or rules.reactions.match(word, 0):
            continue
        if rules.nkda_in_scope.match(word, 0):
            continue
        if any(c[0] <= word_start < c[1] for c in page.cues):
            continue
        yield word_start, word_start + len(word), word, "allergy.unlisted"


def _nkda(page: _Page, rules: _Rules) -> FieldValue | None:
    for s, e, _ in rules.nkda.search(page.low):
        return page.value_at(True, s, e, ALLERGY_CERTAINTY["nkda"], "nkda")
    for start, end, _ in _allergy_scopes(page):
        gap = re.match(r"[\s:\-]*", page.low[start:end])
        at = start + (gap.end() if gap else 0)
        hit = rules.nkda_in_scope.match(page.low, at)
        if hit is not None and hit[1] <= end:
            return page.value_at(True, at, hit[1], ALLERGY_CERTAINTY["nkda"], "nkda")
    return None
