"""Diagnosis terminology: ICD-10-CM (simple-icd-10-cm) descriptions plus a table of clinical wording.

Two phrase matchers over a blank spaCy tokenizer: one case-insensitive for words and phrases,
one case-sensitive for short abbreviations that are ordinary words in lower case ("MS", "PAD").
Explicit codes written on the chart ("ICD-10: E66.01", "(G47.33)") are found and validated too.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import simple_icd_10_cm as icd

RULES = Path(__file__).parent / "rules" / "diagnosis_terms.json"
CODE = re.compile(r"\b([A-TV-Z][0-9][0-9A-Z](?:\.[0-9A-Z]{1,4})?)\b")
MIN_DESCRIPTION_WORDS = 2
MIN_SINGLE_WORD = 7  # one-word descriptions ("dysuria", "syncope") only when long enough to be a term


@dataclass(frozen=True, slots=True)
class Concept:
    code: str
    description: str
    source: str  # "table" | "icd" | "code"


def leaf(code: str) -> str | None:
    """The billable code for ``code``: itself, or its 'unspecified' child."""
    if not icd.is_valid_item(code):
        return None
    if icd.is_leaf(code):
        return str(icd.add_dot(code) if "." not in code and len(code) > 3 else code)
    children = [c for c in icd.get_children(code) if icd.is_leaf(c)]
    if not children:
        return None
    unspecified = [c for c in children if "unspecified" in icd.get_description(c).lower()]
    return str((unspecified or children)[0])


_PARENS = re.compile(r"\([^)]*\)")
_DROP_WORDS = (
    ", unspecified", " unspecified", ", without complications", " without complications", ", uncomplicated",
    " uncomplicated", ", not elsewhere classified", " not elsewhere classified", ", initial encounter",
    " initial encounter",
)  # fmt: skip
_KEEP = str.maketrans({c: " " for c in '!"#$%&()*+,./:;<=>?@[\\]^_`{|}~'})


_KEY_PUNCT = re.compile(r"[,;:()\[\]]")


def phrase_key(text: str) -> str:
    """How a phrase is looked up: lower case, list punctuation dropped, spaces collapsed."""
    return " ".join(_KEY_PUNCT.sub(" ", text.lower()).split())


def normalise_description(text: str) -> str:
    """ "Obstructive sleep apnea (adult) (pediatric)" -> "obstructive sleep apnea" (fast: runs 75,000 times)."""
    t = _PARENS.sub("", text).lower() if "(" in text else text.lower()
    for words in _DROP_WORDS:
        if words in t:
            t = t.replace(words, "")
    return " ".join(t.translate(_KEEP).split())


@dataclass(frozen=True)
class Terminology:
    version: str
    phrases: dict[str, Concept]  # lower-case phrase -> concept
    abbreviations: dict[str, Concept]  # exact upper-case abbreviation -> concept


@cache
def load() -> Terminology:
    data: dict[str, Any] = json.loads(RULES.read_text(encoding="utf-8"))
    ambiguous = {a.lower() for a in data.get("ambiguous", [])}
    phrases: dict[str, Concept] = {}
    abbreviations: dict[str, Concept] = {}
    # ICD-10-CM descriptions first; the clinical table below overrides them where both speak.
    for code in icd.get_all_codes(with_dots=True):
        if not icd.is_leaf(code):
            continue
        description = icd.get_description(code)
        phrase = normalise_description(description)
        if len(phrase.split()) < MIN_DESCRIPTION_WORDS and len(phrase) < MIN_SINGLE_WORD:
            continue
        known = phrases.get(phrase)
        if known is None or len(code) < len(known.code):
            phrases[phrase] = Concept(code, description, "icd")
    for code, terms in data["terms"].items():
        billable = leaf(code)
        if billable is None:
            continue
        concept = Concept(billable, icd.get_description(billable), "table")
        for term in terms:
            t = phrase_key(term)
            if t in ambiguous or (len(t) <= 3 and " " not in t):
                abbreviations[term.upper()] = concept
            else:
                phrases[t] = concept
    return Terminology(str(data["version"]) + f"+icd{icd.__name__}", phrases, abbreviations)


def code_concept(text: str) -> Concept | None:
    """A code written on the chart, if it is a real ICD-10-CM code."""
    code = text.upper()
    if not icd.is_valid_item(code):
        return None
    return Concept(code, icd.get_description(code), "code")


def lateralize(concept: Concept, side: str) -> Concept:
    """The right- or left-sided sibling of a code when the chart names the side ("left breast")."""
    side = side.lower()
    other = "left" if side == "right" else "right"
    if side in concept.description.lower():
        return concept
    parent = icd.get_parent(concept.code)
    if not parent:
        return concept
    for sibling in icd.get_children(parent):
        description = icd.get_description(sibling).lower()
        if icd.is_leaf(sibling) and side in description and other not in description:
            return Concept(sibling, icd.get_description(sibling), concept.source)
    return concept


@cache
def is_unspecified(code: str) -> bool:
    """An ICD-10-CM code that leaves the condition's type, site or side unspecified."""
    try:
        return "unspecified" in icd.get_description(code).lower()
    except ValueError:
        return False
