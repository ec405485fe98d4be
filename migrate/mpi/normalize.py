"""Patient identity values made comparable: names, birth dates, addresses, phones, SSNs.

Every normaliser is total: garbage in gives ``None`` (a missing value), never an exception,
because an index built from decades of registration data holds every kind of typo.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from functools import cache, lru_cache

import jellyfish
import usaddress
from nicknames import NickNamer

from migrate.nlp.normalize import parse_phone

SUFFIXES = {
    "jr": "JR", "junior": "JR", "sr": "SR", "senior": "SR",
    "ii": "II", "2nd": "II", "iii": "III", "3rd": "III", "iv": "IV", "4th": "IV", "v": "V",
}  # fmt: skip
# Words that join a compound surname ("de la Cruz", "van der Berg"): kept, but not a surname alone.
PARTICLES = frozenset(
    {"de", "del", "della", "la", "le", "van", "von", "der", "den", "da", "dos", "du", "di", "st", "mc"}
)
TITLES = frozenset({"mr", "mrs", "ms", "miss", "dr", "prof", "rev"})


def fold(text: str | None) -> str:
    """Lower case, accents removed, punctuation to spaces, single spaces."""
    if not text:
        return ""
    t = unicodedata.normalize("NFKD", str(text))
    t = "".join(c for c in t if not unicodedata.combining(c)).lower()
    t = re.sub(r"[^a-z0-9]+", " ", t.replace("'", ""))
    return " ".join(t.split())


@dataclass(frozen=True, slots=True)
class Name:
    given: str  # folded, no suffix or title
    middle: str
    family: str  # folded surname, particles and hyphen parts joined by spaces
    suffix: str  # JR / SR / II / III / IV / V or ""

    @property
    def family_parts(self) -> tuple[str, ...]:
        """The surname's parts that identify: "garcia-lopez" -> (garcia, lopez)."""
        return tuple(p for p in self.family.split() if p not in PARTICLES and len(p) > 1)


def split_suffix(folded: str) -> tuple[str, str]:
    words = folded.split()
    if len(words) > 1 and words[-1] in SUFFIXES:
        return " ".join(words[:-1]), SUFFIXES[words[-1]]
    return folded, ""


def name(given: str | None, middle: str | None, family: str | None) -> Name:
    g = [w for w in fold(given).split() if w not in TITLES]
    fam, suffix = split_suffix(fold(family))
    g_text, g_suffix = split_suffix(" ".join(g))
    m_text, m_suffix = split_suffix(fold(middle))
    suffix = suffix or g_suffix or m_suffix
    g_words = g_text.split()
    # "Mary Ann" in the given-name cell: the first word is the given name, the rest a middle name.
    given_word = g_words[0] if g_words else ""
    middle_text = m_text or " ".join(g_words[1:])
    return Name(given_word, middle_text, fam, suffix)


@cache
def _namer() -> NickNamer:
    return NickNamer()


@cache
def name_forms(given: str) -> frozenset[str]:
    """The given name with its nickname family: "bob" -> {bob, robert, ...}; canonical forms and
    their nicknames come from the maintained `nicknames` table."""
    if not given:
        return frozenset()
    nn = _namer()
    canon = set(nn.canonicals_of(given)) | {given}
    return frozenset(canon | set(nn.nicknames_of(given)))


@lru_cache(maxsize=200_000)
def nicknames_agree(a: str, b: str) -> bool:
    if not a or not b or a == b:
        return bool(a) and a == b
    fa, fb = name_forms(a), name_forms(b)
    return b in fa or a in fb or bool(_namer().canonicals_of(a) & _namer().canonicals_of(b))


# Letter shapes OCR and hurried handwriting confuse: "Carneron" is "Cameron", "Ehzabeth" is
# "Elizabeth", "Mvrphy" is "Murphy". Both sides are mapped the same way, so names that differ only
# in these shapes get the same key.
OCR_CONFUSIONS = (("rn", "m"), ("li", "h"), ("cl", "d"), ("vv", "w"), ("v", "u"), ("ii", "u"),
                  ("0", "o"), ("1", "l"), ("5", "s"), ("8", "b"))  # fmt: skip


@cache
def ocr_key(word: str) -> str:
    for a, b in OCR_CONFUSIONS:
        word = word.replace(a, b)
    return word


@cache
def phonetic(word: str) -> str:
    """NYSIIS code of a folded name word ("" for none)."""
    w = re.sub(r"[^a-z]", "", word)
    return jellyfish.nysiis(w) if w else ""


def birth_date(text: str | None) -> date | None:
    """An ISO date; anything else (partial, garbage, impossible) is missing."""
    if not text:
        return None
    m = re.fullmatch(r"\s*(\d{4})-(\d{1,2})-(\d{1,2})\s*", str(text))
    if not m:
        m2 = re.fullmatch(r"\s*(\d{4})(\d{2})(\d{2})\s*", str(text))
        if not m2:
            return None
        m = m2
    try:
        d = date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        return None
    return d if 1880 <= d.year <= 2100 else None


def phone(text: str | None) -> str:
    """Ten digits of a US phone number, "" when it is not one."""
    return parse_phone(text or "") or ""


def ssn(text: str | None) -> str:
    """The digits of an SSN as given: all nine, or only the last four many registrations keep."""
    digits = re.sub(r"\D", "", text or "")
    if len(digits) < 4 or set(digits[-4:]) == {"0"}:
        return ""
    return digits


def postal(text: str | None) -> str:
    """A US ZIP's five digits (ZIP+4 too); other countries' codes as written, less spaces."""
    m = re.fullmatch(r"\s*(\d{5})(?:-?\d{4})?\s*", text or "")
    if m:
        return m.group(1)
    code = re.sub(r"[^A-Za-z0-9]", "", text or "").upper()
    return code if 3 <= len(code) <= 10 and not set(code) <= {"0"} else ""


STREET_WORDS = {
    "street": "st", "str": "st", "avenue": "ave", "av": "ave", "road": "rd", "drive": "dr", "lane": "ln",
    "boulevard": "blvd", "court": "ct", "place": "pl", "terrace": "ter", "circle": "cir", "parkway": "pkwy",
    "highway": "hwy", "square": "sq", "trail": "trl", "way": "way", "north": "n", "south": "s", "east": "e",
    "west": "w", "northeast": "ne", "northwest": "nw", "southeast": "se", "southwest": "sw",
    "apartment": "apt", "suite": "ste", "unit": "unit", "number": "", "no": "",
}  # fmt: skip
ADDRESS_KEEP = (
    "AddressNumber",
    "StreetNamePreDirectional",
    "StreetName",
    "StreetNamePostType",
    "StreetNamePostDirectional",
)


@cache
def address(text: str | None) -> tuple[str, str]:
    """(house number, standardised street with its unit) of an address line; unparseable lines
    are folded as they are."""
    folded = fold(text)
    if not folded:
        return "", ""
    try:
        tags, _kind = usaddress.tag(folded)
    except usaddress.RepeatedLabelError:
        tags = {}
    if not tags or "AddressNumber" not in tags:
        words = folded.split()
        number = words[0] if words and words[0].isdigit() else ""
        return number, " ".join(STREET_WORDS.get(w, w) for w in words[1 if number else 0 :] if STREET_WORDS.get(w, w))
    parts: list[str] = []
    for key in ADDRESS_KEEP[1:]:
        if key in tags:
            parts.extend(STREET_WORDS.get(w, w) for w in tags[key].split())
    unit = tags.get("OccupancyIdentifier", "")
    if unit:
        parts.append("#" + unit.replace(" ", ""))
    return tags["AddressNumber"].replace(" ", ""), " ".join(p for p in parts if p)
