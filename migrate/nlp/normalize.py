"""Normalisers for values read off a chart: dates, names, sex, phones, states, postal codes.

Each returns the normalised value or None when the text is not a valid value of its kind, so a
label/value pairing that found the wrong words fails closed instead of filling a field with junk.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime

import phonenumbers
from dateutil import parser as dateparser

MONTHS = (
    "jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec|january|february|march|april|june|july|"
    "august|september|october|november|december"
)
# Dates as charts print them: 03/04/1956, 3-4-56, March 4, 1956, 4-Mar-56, 1956-03-04, 04 MAR 1956.
DATE_PATTERN = re.compile(
    rf"""(?ix)
    \b(
        \d{{4}}-\d{{1,2}}-\d{{1,2}}
      | \d{{1,2}}[/\-.]\d{{1,2}}[/\-.](?:\d{{4}}|\d{{2}})
      | (?:{MONTHS})\.?\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{2,4}}
      | \d{{1,2}}(?:st|nd|rd|th)?[\s\-]+(?:{MONTHS})\.?[\s\-,]+\d{{2,4}}
    )\b""",
)

US_STATES = frozenset(
    [
        "AL",
        "AK",
        "AZ",
        "AR",
        "CA",
        "CO",
        "CT",
        "DE",
        "DC",
        "FL",
        "GA",
        "HI",
        "ID",
        "IL",
        "IN",
        "IA",
        "KS",
        "KY",
        "LA",
        "ME",
        "MD",
        "MA",
        "MI",
        "MN",
        "MS",
        "MO",
        "MT",
        "NE",
        "NV",
        "NH",
        "NJ",
        "NM",
        "NY",
        "NC",
        "ND",
        "OH",
        "OK",
        "OR",
        "PA",
        "RI",
        "SC",
        "SD",
        "TN",
        "TX",
        "UT",
        "VT",
        "VA",
        "WA",
        "WV",
        "WI",
        "WY",
        "PR",
        "VI",
        "GU",
        "AS",
        "MP",
        # Freely associated states served by USPS, and the military post offices.
        "FM",
        "MH",
        "PW",
        "AA",
        "AE",
        "AP",
    ]
)
STATE_NAMES = {
    "alabama": "AL", "alaska": "AK", "arizona": "AZ", "arkansas": "AR", "california": "CA", "colorado": "CO",
    "connecticut": "CT", "delaware": "DE", "district of columbia": "DC", "florida": "FL", "georgia": "GA",
    "hawaii": "HI", "idaho": "ID", "illinois": "IL", "indiana": "IN", "iowa": "IA", "kansas": "KS",
    "kentucky": "KY", "louisiana": "LA", "maine": "ME", "maryland": "MD", "massachusetts": "MA",
    "michigan": "MI", "minnesota": "MN", "mississippi": "MS", "missouri": "MO", "montana": "MT",
    "nebraska": "NE", "nevada": "NV", "new hampshire": "NH", "new jersey": "NJ", "new mexico": "NM",
    "new york": "NY", "north carolina": "NC", "north dakota": "ND", "ohio": "OH", "oklahoma": "OK",
    "oregon": "OR", "pennsylvania": "PA", "rhode island": "RI", "south carolina": "SC", "south dakota": "SD",
    "tennessee": "TN", "texas": "TX", "utah": "UT", "vermont": "VT", "virginia": "VA", "washington": "WA",
    "west virginia": "WV", "wisconsin": "WI", "wyoming": "WY", "puerto rico": "PR",
    "guam": "GU", "american samoa": "AS", "virgin islands": "VI", "northern mariana islands": "MP",
    "micronesia": "FM", "marshall islands": "MH", "palau": "PW",
}  # fmt: skip


def parse_date(text: str, *, past_only: bool = False, today: date | None = None) -> date | None:
    """A calendar date from chart text; month-first for numeric dates (US charts).

    Two-digit years pivot so the date is not in the future when ``past_only`` (birth dates).
    """
    m = DATE_PATTERN.search(text)
    if not m:
        return None
    raw = m.group(1)
    today = today or date.today()
    try:
        parsed = dateparser.parse(raw, dayfirst=False, yearfirst=bool(re.match(r"\d{4}-", raw)), fuzzy=False)
    except (ValueError, OverflowError):
        return None
    if not isinstance(parsed, datetime):
        return None
    value = parsed.date()
    two_digit_year = re.search(r"(?<!\d)\d{2}$", raw.strip()) is not None
    # dateutil pivots two-digit years around now +-50; a birth date must lie in the past.
    if two_digit_year and past_only and value > today:
        value = value.replace(year=value.year - 100)
    if value.year < 1880:
        return None
    return value


def date_valid(value: date, *, today: date | None = None) -> str | None:
    """Why a date cannot be right, or None."""
    today = today or date.today()
    if value > today:
        return "date is in the future"
    if value.year < 1900:
        return "date is before 1900"
    return None


SEX_WORDS = {
    "m": "M", "male": "M", "man": "M", "boy": "M", "mr": "M",
    "f": "F", "female": "F", "woman": "F", "girl": "F", "ms": "F", "mrs": "F", "miss": "F",
    "u": "U", "unknown": "U", "x": "U", "other": "U", "undifferentiated": "U",
}  # fmt: skip


def parse_sex(text: str) -> str | None:
    words = re.findall(r"[a-z]+", text.lower())
    if not words or len(words) > 2:
        return None
    return SEX_WORDS.get(words[0])


def parse_phone(text: str) -> str | None:
    """Ten US digits, from any common way of writing a phone number."""
    digits = re.sub(r"\D", "", text)
    if len(digits) == 11 and digits.startswith("1"):
        digits = digits[1:]
    if len(digits) != 10:
        return None
    try:
        number = phonenumbers.parse(digits, "US")
    except phonenumbers.NumberParseException:
        return None
    # Fictional 555-01xx numbers are "possible" but not "valid": charts (and test data) use them.
    return digits if phonenumbers.is_possible_number(number) else None


def parse_state(text: str) -> str | None:
    t = re.sub(r"[^A-Za-z ]", "", text).strip()
    if t.upper() in US_STATES:
        return t.upper()
    return STATE_NAMES.get(t.lower())


def parse_postal_code(text: str) -> str | None:
    m = re.search(r"\b(\d{5})(?:-(\d{4}))?\b", text)
    if not m:
        return None
    return m.group(1) + (f"-{m.group(2)}" if m.group(2) else "")


CITY_STATE_ZIP = re.compile(
    r"^(?P<city>[A-Za-z][A-Za-z .'\-]*?)\s*,?\s+(?P<state>[A-Za-z]{2}|[A-Za-z]+(?: [A-Za-z]+)?)\.?,?\s+"
    r"(?P<zip>\d{5}(?:-\d{4})?)\b"
)


def parse_city_state_zip(text: str) -> tuple[str, str, str] | None:
    m = CITY_STATE_ZIP.search(text.strip())
    if not m:
        return None
    state = parse_state(m.group("state"))
    if state is None:
        return None
    return place_name(m.group("city")), state, m.group("zip")


SUFFIXES = {"jr": "Jr.", "sr": "Sr.", "ii": "II", "iii": "III", "iv": "IV"}
TITLES = {"mr", "mrs", "ms", "miss", "dr", "mx"}
CREDENTIALS = {"md", "do", "np", "pa", "rn", "dds", "phd", "facp", "pa-c", "aprn", "dnp"}
PARTICLES = frozenset({"van", "von", "de", "del", "della", "da", "di", "la", "le", "st.", "mc", "mac"})
NAME_TOKEN = re.compile(r"^[A-Za-z][A-Za-z'\-]*\.?$")


def place_name(text: str) -> str:
    """A city as printed, less OCR's stray full stops ("Lake. Karen"); "St. Louis" keeps its own."""
    text = re.sub(r"\b([A-Za-z]{3,})\.(?=\s+[A-Z])", r"\1", text.strip(" ,"))
    return name_case(" ".join(text.split()))


def name_case(text: str) -> str:
    """SMITH-JONES -> Smith-Jones, o'brien -> O'Brien; mixed-case names are left as written."""

    def one(word: str) -> str:
        if not (word.isupper() or word.islower()):
            return word
        parts = re.split(r"([\-' ])", word.lower())
        return "".join(p.capitalize() if p.isalpha() else p for p in parts)

    return " ".join(one(w) for w in text.split())


@dataclass(frozen=True, slots=True)
class PersonName:
    given: str
    family: str
    middle: str | None = None
    suffix: str | None = None
    title: str | None = None


def parse_name(text: str, *, last_first: bool | None = None) -> PersonName | None:
    """A person's name as printed: "SMITH, JOHN Q.", "John Q. Smith", "Mr. John Smith Jr.".

    ``last_first`` forces the order when the label said so ("Name (Last, First)"); otherwise a
    comma means last-name-first. Returns None for text that is not shaped like a name.
    """
    raw = text.strip().strip(",;:")
    if not raw or len(raw) > 60 or any(ch.isdigit() for ch in raw):
        return None
    comma = "," in raw
    parts = [p.strip() for p in raw.split(",") if p.strip()]
    tokens_all = raw.replace(",", " ").split()
    title = None
    if tokens_all and tokens_all[0].lower().rstrip(".") in TITLES:
        title = tokens_all[0].rstrip(".").capitalize()
        raw = raw[len(tokens_all[0]) :].strip()
        parts = [p.strip() for p in raw.split(",") if p.strip()]
    suffix = None
    cleaned_parts: list[list[str]] = []
    for part in parts:
        words = []
        for w in part.split():
            key = w.lower().rstrip(".")
            if key in SUFFIXES:
                suffix = SUFFIXES[key]
            elif key in CREDENTIALS:
                continue
            else:
                words.append(w)
        if words:
            cleaned_parts.append(words)
    if not cleaned_parts:
        return None
    if any(not NAME_TOKEN.match(w) for p in cleaned_parts for w in p):
        return None
    if any(not w[0].isupper() and w.lower() not in PARTICLES for p in cleaned_parts for w in p):
        return None  # names are capitalised on charts; lower-case words are running text
    if (comma or last_first) and len(cleaned_parts) >= 2:
        family_words, rest = cleaned_parts[0], [w for p in cleaned_parts[1:] for w in p]
    elif last_first and len(cleaned_parts[0]) >= 2:
        family_words, rest = cleaned_parts[0][:1], cleaned_parts[0][1:]
    else:
        words = [w for p in cleaned_parts for w in p]
        if len(words) < 2 or len(words) > 4:
            return None
        family_words, rest = words[-1:], words[:-1]
        # "Mary Ann Smith-Jones" keeps two given words; a particle joins the family name.
        while rest and rest[-1].lower() in PARTICLES:
            family_words = [rest.pop(), *family_words]
    if not rest or len(rest) > 3 or len(family_words) > 3:
        return None
    given = rest[0].rstrip(".")
    middle = " ".join(w.rstrip(".") for w in rest[1:]) or None
    if len(given) < 2:
        return None
    return PersonName(
        given=name_case(given),
        family=name_case(" ".join(family_words).rstrip(".")),
        middle=name_case(middle) if middle else None,
        suffix=suffix,
        title=title,
    )


def provider_name(text: str) -> str | None:
    """ "MCDOWELL, MICHAEL MD" / "Jasmine Brown, MD" / "Dr. Kenneth Perez" -> "Dr. First Last"."""
    t = text.strip()
    t = re.sub(r",?\s*\b(MD|M\.D\.|DO|D\.O\.|NP|PA-C|PA|FACP|RN|DNP|APRN)\b\.?", "", t, flags=re.I).strip(" ,")
    t = re.sub(r"^(dr\.?|doctor)\s+", "", t, flags=re.I)
    has_comma = "," in t
    name = parse_name(t, last_first=True if has_comma else None)
    if name is None:
        return None
    middle = f" {name.middle}" if name.middle and len(name.middle) > 1 else ""
    return f"Dr. {name.given}{middle} {name.family}"
