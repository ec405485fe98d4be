"""Clinical assertion: is a concept negated, historical or hypothetical, and is it the patient's?

A ConText-style algorithm (Harkema et al. 2009, building on Chapman et al.'s NegEx): trigger
phrases from ``rules/context.json`` open a scope before or after themselves; a concept inside a
scope takes the trigger's category. The core works on plain strings (``assess``); the spaCy
factory ``cm_context`` applies it to the entities of a ``Doc``.

Decisions, documented here because they are choices, not facts:

- "no history of X" is negated *and* historical: each trigger has one category, and both "no"
  and "history of" apply (the record is about the past; for a draft the negation is what counts).
- Hypothetical wins over historical when both apply.
- A heading inside the passage (at a line start, or in the concept's own sentence, followed by a
  colon) sets the section; it wins over the ``section`` argument, which is the fallback for text
  that carries no heading of its own.
- Experiencer is kept simple: a relative word opens an "other" scope that a reporting verb or a
  word naming the patient ("reports", "he", "patient") closes, so "patient's mother reports he
  has fever" stays the patient's. Pronoun chains across sentences are not followed.
"""

from __future__ import annotations

import bisect
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from spacy.language import Language
from spacy.tokens import Doc, Span

__all__ = [
    "RULES_PATH",
    "Assertion",
    "ContextComponent",
    "ContextRules",
    "assess",
    "default_rules",
    "section_of",
]

RULES_PATH = Path(__file__).with_name("rules") / "context.json"

_SCOPED = ("negated", "historical", "hypothetical", "experiencer_other")
_CATEGORIES = (*_SCOPED, "pseudo", "termination", "conjunction")
_DIRECTIONS = ("forward", "backward", "bidirectional")
_WORD_EDGE = re.compile(r"^[a-z0-9].*[a-z0-9]$|^[a-z0-9]$")
_TOKEN = re.compile(r"[a-z0-9]+(?:['/.-][a-z0-9]+)*|,")
_MACRO = re.compile(r"\{([a-z_]+)\}")
# Sentence ends: . ? ! ; before a space, a newline (see _is_boundary), an inline enumeration " 2) ",
# and the start of an upper-case heading run into the text ("... not obtainable REFERRING DIAGNOSIS: chest pain").
_BOUNDARY = re.compile(
    r"[.?!;]+(?=\s|$)|\n|(?<=\s)\(?\d{1,2}\)(?=\s)"
    r"|(?<=\s)(?<![A-Z0-9/&()-]\s)(?=[A-Z][A-Z0-9/&()-]*(?: [A-Z0-9/&()-]+){0,4}:\s)"
)
_DETERMINER = re.compile(r"^(?:(?:the|a|an|his|her|their|patient's|pt's|known)\s+)+")
_DOTTED = re.compile(r"^(?:[a-z]\.)+[a-z]?$")  # e.g., i.e., b.i.d
# Same length as the input, so offsets in the lowered text are offsets in the original.
_FOLD = str.maketrans({"\u2019": "'", "\u2018": "'"})


@dataclass(frozen=True, slots=True)
class Assertion:
    """What the text says about one concept, and which rules said it."""

    negated: bool
    temporality: str  # "recent" | "historical" | "hypothetical"
    experiencer: str  # "patient" | "other"
    triggers: tuple[str, ...]  # "<category>:<rule id>" for each non-default decision, or "section:<name>"
    rules_version: str


@dataclass(frozen=True, slots=True)
class Rule:
    """One trigger of the rules file."""

    id: str  # the phrase, or the name of a regex rule
    category: str
    direction: str  # forward / backward / bidirectional; "" for pseudo, termination, conjunction
    window: dict[str, int]  # direction -> max words between trigger and concept (absent: no cap)
    ends: frozenset[str]  # for termination terms: the categories whose scope they end


@dataclass(frozen=True, slots=True)
class _Hit:
    start: int
    end: int
    rule: Rule
    text: str  # the words matched, whitespace collapsed

    @property
    def label(self) -> str:
        return f"{self.rule.category}:{self.text}"


@dataclass(frozen=True, slots=True)
class _Section:
    name: str
    temporality: str | None
    experiencer: str | None


def _phrase_pattern(phrase: str) -> str:
    words = phrase.split()
    return r"\s+".join(r"[a-z0-9'/-]+" if w == "*" else re.escape(w) for w in words)


def _bounded(pattern: str) -> str:
    return rf"(?<![a-z0-9])(?:{pattern})(?![a-z0-9])"


def _trie_pattern(phrases: Iterable[str]) -> str:
    """One regex for many literal phrases, shared prefixes merged so the engine branches once per character."""
    trie: dict[str, Any] = {}
    for phrase in phrases:
        node = trie
        for ch in " ".join(phrase.split()):
            node = node.setdefault(ch, {})
        node[""] = {}

    def build(node: dict[str, Any]) -> str:
        alts = [(r"\s+" if ch == " " else re.escape(ch)) + build(child) for ch, child in sorted(node.items()) if ch]
        if "" in node:
            alts.append("")  # the shorter phrase last: longer ones are tried first
        if len(alts) == 1:
            return alts[0]
        return "(?:" + "|".join(alts) + ")"

    return build(trie)


class ContextRules:
    """Compiled assertion rules; build once (``default_rules()``) and call ``assess`` many times."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.version = str(data["version"])
        macros = {k: str(v) for k, v in data.get("macros", {}).items()}
        cats = data.get("categories", {})
        self._windows: dict[str, dict[str, int]] = {c: dict(cats.get(c, {}).get("window", {})) for c in _SCOPED}
        self._list_item = {c: int(cats.get(c, {}).get("list_item", 4)) for c in _SCOPED}
        self._terminated_by = {c: frozenset(cats.get(c, {}).get("terminated_by", ())) for c in _SCOPED}
        self._fillers = frozenset(data.get("fillers", ()))
        self._conjunctions: set[str] = set()
        literals: dict[str, Rule] = {}
        patterns: list[tuple[str, Rule]] = []  # wildcard phrases and regex rules, compiled into one alternation
        for group in data["triggers"]:
            category = group["category"]
            if category not in _CATEGORIES:
                raise ValueError(f"context rules: unknown category {category!r}")
            direction = group.get("direction", "")
            if (category in _SCOPED) != (direction in _DIRECTIONS):
                raise ValueError(f"context rules: {category} triggers need a direction, others none ({direction!r})")
            window = dict(self._windows.get(category, {}))
            window.update(group.get("window", {}))
            ends = frozenset(group.get("ends", _SCOPED))
            for phrase in group.get("phrases", ()):
                if phrase != phrase.lower() or not _WORD_EDGE.match(phrase):
                    raise ValueError(f"context rules: phrase {phrase!r} must be lower case and start/end with a letter")
                if category == "conjunction":
                    if " " in phrase:
                        raise ValueError(f"context rules: conjunction {phrase!r} must be one word")
                    self._conjunctions.add(phrase)
                elif "*" in phrase.split():
                    patterns.append((_phrase_pattern(phrase), Rule(phrase, category, direction, window, ends)))
                else:
                    key = " ".join(phrase.split())
                    if key in literals:
                        raise ValueError(f"context rules: phrase {phrase!r} listed twice")
                    literals[key] = Rule(key, category, direction, window, ends)
            for rule_id, pattern in group.get("regex", {}).items():
                expanded = _MACRO.sub(lambda m: macros[m.group(1)], pattern)
                if re.compile(expanded).groups:
                    raise ValueError(f"context rules: regex {rule_id!r} must use non-capturing groups")
                patterns.append((expanded, Rule(rule_id, category, direction, window, ends)))
        self._literals = literals
        self._literal_re = re.compile(_bounded(_trie_pattern(literals)))
        self._pattern_rules = {f"r{i}": rule for i, (_, rule) in enumerate(patterns)}
        alternation = "|".join(f"(?P<r{i}>{p})" for i, (p, _) in enumerate(patterns))
        self._pattern_re = re.compile(_bounded(alternation)) if patterns else None
        self._abbreviations = frozenset(data.get("sentence", {}).get("abbreviations", ()))
        sections: dict[str, _Section] = {}
        headings: dict[str, str] = {}
        for name, spec in data.get("sections", {}).items():
            sections[name] = _Section(name, spec.get("temporality"), spec.get("experiencer"))
            for heading in spec["headings"]:
                headings[_norm_heading(heading)] = name
        self._sections = sections
        self._headings = headings
        alternation = "|".join(sorted((_phrase_pattern(h) for h in headings), key=len, reverse=True))
        self._heading_re = re.compile(rf"(?<![a-z0-9])(?:{alternation})\s*:") if headings else None
        chronic = data.get("chronic", {})
        self._chronic_re = re.compile(_bounded(_trie_pattern(chronic["phrases"]))) if chronic.get("phrases") else None
        self._acute_re = re.compile(_bounded(_trie_pattern(chronic["acute"]))) if chronic.get("acute") else None
        self._acute_window = int(chronic.get("window", 3))

    @classmethod
    def load(cls, path: Path = RULES_PATH) -> ContextRules:
        with open(path, encoding="utf-8") as f:
            return cls(json.load(f))

    # -- public ---------------------------------------------------------------------------------

    def section_of(self, heading: str) -> str | None:
        """The normalised section name for a heading line ("FAMILY HISTORY:", "PMH", "Assessment/Plan")."""
        name = self._headings.get(_norm_heading(heading.split(":", 1)[0]))
        if name is None and heading.strip() in self._sections:
            return heading.strip()
        return name

    def assess(self, text: str, start: int, end: int, *, section: str | None = None) -> Assertion:
        """The assertion for the concept at characters [start, end) of ``text``."""
        if not 0 <= start < end <= len(text):
            raise ValueError(f"concept span [{start}, {end}) is not inside a text of {len(text)} characters")
        s0, s1 = self._sentence(text, start, end)
        low = _fold(text[s0:s1])
        cs, ce = start - s0, end - s0
        hits = [h for h in self._hits(low) if h.end <= cs or h.start >= ce]  # a trigger inside the concept is its text
        tokens = [(m.start(), m.end(), m.group()) for m in _TOKEN.finditer(low)]
        starts = [t[0] for t in tokens]

        found: dict[str, _Hit] = {}
        distance: dict[str, int] = {}
        for hit in hits:
            cat = hit.rule.category
            if cat not in _SCOPED:
                continue
            d = hit.rule.direction
            if hit.end <= cs and d != "backward":
                gap = cs - hit.end
                ok = self._reaches(hit, hits, tokens, starts, hit.end, cs, "forward")
            elif hit.start >= ce and d != "forward":
                gap = hit.start - ce
                ok = self._reaches(hit, hits, tokens, starts, ce, hit.start, "backward")
            else:
                continue
            if ok and (cat not in found or gap < distance[cat]):
                found[cat], distance[cat] = hit, gap

        name = self._heading_section(text, start, s0) or section  # a name ("family_history") or a heading
        sec = self._sections.get(self.section_of(name) or "") if name else None
        triggers: list[str] = []
        negated = "negated" in found
        if negated:
            triggers.append(found["negated"].label)
        temporality = "recent"
        for cat in ("hypothetical", "historical"):
            if cat in found:
                temporality = cat
                triggers.append(found[cat].label)
                break
        else:
            if sec is not None and sec.temporality:
                temporality = sec.temporality
                triggers.append(f"section:{sec.name}")
            elif not negated and (chronic := self._chronic(low, tokens, cs, ce)) is not None:
                temporality = "historical"
                triggers.append(f"chronic:{chronic}")
        experiencer = "patient"
        if "experiencer_other" in found:
            experiencer = "other"
            triggers.append(found["experiencer_other"].label)
        elif sec is not None and sec.experiencer:
            experiencer = sec.experiencer
            triggers.append(f"section:{sec.name}")
        return Assertion(negated, temporality, experiencer, tuple(dict.fromkeys(triggers)), self.version)

    def _chronic(self, low: str, tokens: Sequence[tuple[int, int, str]], cs: int, ce: int) -> str | None:
        """The chronic-condition phrase that is the concept [cs, ce) of the sentence ``low``, unless an acute
        qualifier is inside the concept or within the window of words before it."""
        if self._chronic_re is None:
            return None
        concept = _DETERMINER.sub("", " ".join(low[cs:ce].split()).strip(" .,:;"))
        m = self._chronic_re.fullmatch(concept)
        if m is None:
            return None
        before = [t for t in tokens if t[1] <= cs and t[2] != ","][-self._acute_window :]
        lo = before[0][0] if before else cs
        if self._acute_re is not None and self._acute_re.search(low[lo:ce]):
            return None
        return " ".join(m.group().split())

    # -- matching -------------------------------------------------------------------------------

    def _hits(self, low: str) -> list[_Hit]:
        """Trigger matches, leftmost-longest and not overlapping."""
        found: list[_Hit] = []
        for m in self._literal_re.finditer(low):
            key = " ".join(m.group().split())
            found.append(_Hit(m.start(), m.end(), self._literals[key], key))
        if self._pattern_re is not None:
            for m in self._pattern_re.finditer(low):
                rule = self._pattern_rules[m.lastgroup or ""]
                found.append(_Hit(m.start(), m.end(), rule, " ".join(m.group().split())))
            found.sort(key=lambda h: (h.start, h.start - h.end))
            kept: list[_Hit] = []
            for h in found:
                if not kept or h.start >= kept[-1].end:
                    kept.append(h)
            found = kept
        return found

    def _reaches(
        self,
        hit: _Hit,
        hits: Sequence[_Hit],
        tokens: Sequence[tuple[int, int, str]],
        starts: Sequence[int],
        lo: int,
        hi: int,
        direction: str,
    ) -> bool:
        """Does the scope of ``hit`` in ``direction`` cover the gap [lo, hi) up to the concept?"""
        cat = hit.rule.category
        stoppers = self._terminated_by[cat]
        between = [h for h in hits if h.start >= lo and h.end <= hi]
        for other in between:
            if other.rule.category == "termination" and cat in other.rule.ends:
                return False
            if other.rule.category in stoppers:
                a, b = (hit.end, other.start) if direction == "forward" else (other.end, hit.start)
                if self._has_word(tokens, starts, hits, a, b):
                    return False
        window = hit.rule.window.get(direction)
        if window is None:
            return True
        segments = [0]
        for _t0, _t1, tok in tokens[bisect.bisect_left(starts, lo) : bisect.bisect_left(starts, hi)]:
            if tok == "," or tok in self._conjunctions:
                segments.append(0)
            else:
                segments[-1] += 1
        if direction == "backward":
            segments.reverse()
        if sum(segments) <= window:
            return True
        # Past the window only a list goes on: "denies fever, chills, night sweats or weight loss".
        return len(segments) > 1 and segments[0] <= window and max(segments[1:]) <= self._list_item[cat]

    def _has_word(
        self, tokens: Sequence[tuple[int, int, str]], starts: Sequence[int], hits: Sequence[_Hit], a: int, b: int
    ) -> bool:
        """Is there, in [a, b), a token that is neither a filler nor part of another trigger?"""
        for t0, t1, tok in tokens[bisect.bisect_left(starts, a) : bisect.bisect_left(starts, b)]:
            if tok in self._fillers or any(h.start <= t0 and t1 <= h.end for h in hits):
                continue
            return True
        return False

    # -- sentences and sections -----------------------------------------------------------------

    def _sentence(self, text: str, start: int, end: int) -> tuple[int, int]:
        """Character bounds of the sentence(s) holding [start, end)."""
        s0, s1 = 0, len(text)
        for m in _BOUNDARY.finditer(text):
            if m.start() >= end:
                if self._is_boundary(text, m):
                    s1 = m.start()
                    break
            elif m.end() <= start and self._is_boundary(text, m):
                s0 = m.end()
        return s0, s1

    def _is_boundary(self, text: str, m: re.Match[str]) -> bool:
        i, j = m.start(), m.end()
        if m.group() == "\n":
            # A newline ends a sentence unless the line was wrapped mid-sentence.
            while i > 0 and text[i - 1] in " \t\r":
                i -= 1
            while j < len(text) and text[j] in " \t\r":
                j += 1
            if i == 0 or j == len(text) or text[j] == "\n" or text[i - 1] in ".?!;:":
                return True
            nxt = text[j]
            return nxt.isupper() or nxt.isdigit() or nxt in "-*\u2022"
        if not m.group() or m.group()[0] != ".":
            return True
        k = i
        while k > 0 and not text[k - 1].isspace() and i - k < 40:
            k -= 1
        word = text[k:i].lstrip("([").lower()
        return not (word in self._abbreviations or (len(word) == 1 and word.isalpha()) or _DOTTED.match(word))

    def _heading_section(self, text: str, start: int, sentence_start: int) -> str | None:
        """The last heading before the concept that opens its line or sits in the concept's sentence."""
        found: str | None = None
        if self._heading_re is None:
            return None
        for m in self._heading_re.finditer(_fold(text[:start])):
            line_start = text.rfind("\n", 0, m.start()) + 1
            if m.start() >= sentence_start or not text[line_start : m.start()].strip():
                found = self._headings.get(_norm_heading(m.group()[:-1]))
        return found


def _norm_heading(heading: str) -> str:
    return " ".join(heading.lower().split()).strip(" -.#*:")


def _fold(s: str) -> str:
    low = s.lower()
    if len(low) != len(s):  # a few characters lower-case to two; keep offsets aligned
        low = "".join(c if len(c.lower()) != 1 else c.lower() for c in s)
    return low.translate(_FOLD)


@cache
def default_rules() -> ContextRules:
    """The rules shipped with chartmigrate, compiled on first use."""
    return ContextRules.load()


def assess(text: str, start: int, end: int, *, section: str | None = None) -> Assertion:
    """Negation, temporality and experiencer of the concept at [start, end) of ``text`` (default rules)."""
    return default_rules().assess(text, start, end, section=section)


def section_of(heading: str) -> str | None:
    """Map a heading ("FAMILY HISTORY:", "Family Hx", "PMH:", "ROS:") to a section name, or None."""
    return default_rules().section_of(heading)


# -- spaCy ----------------------------------------------------------------------------------------


def _register_extensions() -> None:
    for name, default in (
        ("negated", False),
        ("temporality", "recent"),
        ("experiencer", "patient"),
        ("assertion_triggers", ()),
    ):
        if not Span.has_extension(name):
            Span.set_extension(name, default=default)


class ContextComponent:
    """Sets ``Span._.negated/temporality/experiencer/assertion_triggers`` on each entity (or span group)."""

    def __init__(self, span_group: str | None = None, rules: ContextRules | None = None) -> None:
        self.span_group = span_group
        self.rules = rules or default_rules()
        _register_extensions()

    def __call__(self, doc: Doc) -> Doc:
        spans: Iterable[Span] = doc.ents if self.span_group is None else doc.spans.get(self.span_group, ())
        has_section = Span.has_extension("section")
        for span in spans:
            # The whole text, so that headings earlier in the document can set the section.
            section = span._.section if has_section else None
            a = self.rules.assess(doc.text, span.start_char, span.end_char, section=section)
            span._.negated = a.negated
            span._.temporality = a.temporality
            span._.experiencer = a.experiencer
            span._.assertion_triggers = a.triggers
        return doc


@Language.factory("cm_context", default_config={"span_group": None})
def make_context(nlp: Language, name: str, span_group: str | None) -> ContextComponent:
    return ContextComponent(span_group)
