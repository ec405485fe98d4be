"""Graded comparison of candidate pairs, field by field, over whole arrays.

Each comparison gives every pair a level: 0 is "missing" (one side empty: no evidence either
way), then from worst to best agreement. Levels are what the Fellegi-Sunter model weighs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from rapidfuzz import process
from rapidfuzz.distance import OSA, JaroWinkler

from migrate.mpi import normalize as nz
from migrate.mpi.records import Ints, Records, Strs

Levels = npt.NDArray[np.int8]


@dataclass(frozen=True, slots=True)
class Comparison:
    name: str
    levels: tuple[str, ...]  # index 0 = missing, then worst to best

    def level(self, label: str) -> int:
        return self.levels.index(label)


COMPARISONS = (
    Comparison("given_name", ("missing", "disagree", "initial", "phonetic", "close", "nickname", "exact")),
    Comparison("middle_name", ("missing", "disagree", "initial", "exact")),
    Comparison("family_name", ("missing", "disagree", "phonetic", "shared_part", "close", "exact")),
    Comparison("suffix", ("missing", "conflict", "agree")),
    Comparison("birth_date", ("missing", "disagree", "year_only", "partial", "exact")),
    Comparison("sex", ("missing", "disagree", "agree")),
    # Address, postal code and phone move together (a household shares all three; a move changes
    # all three): weighed as one comparison, they are not counted three times.
    Comparison("contact", ("missing", "disagree", "same_area", "one_exact", "address_and_phone")),
    Comparison("ssn", ("missing", "disagree", "close", "exact")),
)
BY_NAME = {c.name: c for c in COMPARISONS}
JW_CLOSE = 0.9
PARALLEL_FROM = 20_000  # pairs; below this, starting threads costs more than it saves


def _present(a: Strs, b: Strs) -> npt.NDArray[np.bool_]:
    out: npt.NDArray[np.bool_] = (a != "") & (b != "")
    return out


def _jw(a: Strs, b: Strs) -> npt.NDArray[np.float32]:
    if len(a) == 0:
        return np.zeros(0, dtype=np.float32)
    workers = -1 if len(a) > PARALLEL_FROM else 1
    return np.asarray(process.cpdist(list(a), list(b), scorer=JaroWinkler.normalized_similarity, workers=workers))


def _edits(a: Strs, b: Strs) -> npt.NDArray[np.int32]:
    if len(a) == 0:
        return np.zeros(0, dtype=np.int32)
    workers = -1 if len(a) > PARALLEL_FROM else 1
    return np.asarray(process.cpdist(list(a), list(b), scorer=OSA.distance, workers=workers))


def _one_typo(a: Strs, b: Strs) -> npt.NDArray[np.bool_]:
    """Names of four letters or more one keystroke apart (a wrong, missing, extra or swapped letter),
    which Jaro-Winkler can score low when the typo is near the start."""
    out: npt.NDArray[np.bool_] = (_edits(a, b) <= 1) & (np.char.str_len(a.astype(str)) >= 4)
    return out


def _grade(present: npt.NDArray[np.bool_], rules: list[tuple[npt.NDArray[np.bool_], int]]) -> Levels:
    """Level 1 (disagree) where present, raised by each rule in turn (later rules = better levels)."""
    out = np.where(present, 1, 0).astype(np.int8)
    for mask, level in rules:
        out = np.where(present & mask & (out < level), level, out).astype(np.int8)
    return out


def _transposed_or_swapped(a: Ints, b: Ints) -> npt.NDArray[np.bool_]:
    """Birth dates that differ by one typed digit, two swapped digits, or day and month swapped."""
    da_ = np.stack([(a // 10**k) % 10 for k in range(7, -1, -1)], axis=1)
    db_ = np.stack([(b // 10**k) % 10 for k in range(7, -1, -1)], axis=1)
    diff = da_ != db_
    ndiff = diff.sum(axis=1)
    one_digit = ndiff == 1
    # Adjacent transposition: exactly two neighbouring positions differ, crosswise equal.
    swap = np.zeros(len(a), dtype=bool)
    for p in range(7):
        swap |= (ndiff == 2) & diff[:, p] & diff[:, p + 1] & (da_[:, p] == db_[:, p + 1]) & (da_[:, p + 1] == db_[:, p])
    ya, ma, dd = a // 10000, (a // 100) % 100, a % 100
    yb, mb, db = b // 10000, (b // 100) % 100, b % 100
    day_month = (ya == yb) & (ma == db) & (dd == mb)
    out: npt.NDArray[np.bool_] = one_digit | swap | day_month
    return out


def compare(recs: Records, left: Ints, right: Ints) -> Levels:
    """Levels (pairs x comparisons) for the pairs (left[k], right[k]) of ``recs``."""
    n = len(left)
    out = np.zeros((n, len(COMPARISONS)), dtype=np.int8)
    if n == 0:
        return out
    col = {c.name: i for i, c in enumerate(COMPARISONS)}

    ga, gb = recs.given[left], recs.given[right]
    p = _present(ga, gb)
    jw = _jw(ga, gb)
    g_close = (jw >= JW_CLOSE) | _one_typo(ga, gb)
    a1, b1 = recs.given1[left], recs.given1[right]
    # A name equal to its own first letter is an initial.
    initial = p & ((ga == a1) | (gb == b1)) & (a1 == b1)
    # Given and middle names written the other way round ("J Robert" / "Robert").
    ma, mb = recs.middle[left], recs.middle[right]
    fa, fb = recs.family[left], recs.family[right]
    swapped = ((ga == mb) & (ga != "")) | ((gb == ma) & (gb != ""))
    # Given name and surname entered in each other's boxes.
    crossed = (ga == fb) & (fa == gb) & (ga != "") & (fa != "")
    nick = np.zeros(n, dtype=bool)
    slots = [getattr(recs, f"nick{i}") for i in range(nz.NICK_SLOTS)]
    for sa in slots:
        ka = sa[left]
        for sb in slots:
            nick |= (ka == sb[right]) & (ka != "")
    c = BY_NAME["given_name"]
    out[:, col["given_name"]] = _grade(
        p,
        [
            (initial, c.level("initial")),
            ((recs.given_ph[left] == recs.given_ph[right]) | swapped, c.level("phonetic")),
            (g_close | crossed, c.level("close")),
            (nick, c.level("nickname")),
            (ga == gb, c.level("exact")),
        ],
    )

    p = _present(ma, mb)
    first_a, first_b = recs.middle1[left], recs.middle1[right]
    c = BY_NAME["middle_name"]
    out[:, col["middle_name"]] = _grade(p, [(first_a == first_b, c.level("initial")), (ma == mb, c.level("exact"))])

    p = _present(fa, fb)
    jw = _jw(fa, fb)
    f_close = (jw >= JW_CLOSE) | _one_typo(fa, fb)
    shared = np.zeros(n, dtype=bool)
    for pa in (recs.part1, recs.part2):
        for pb in (recs.part1, recs.part2):
            shared |= (pa[left] == pb[right]) & (pa[left] != "")
    c = BY_NAME["family_name"]
    out[:, col["family_name"]] = _grade(
        p,
        [
            (recs.family_ph[left] == recs.family_ph[right], c.level("phonetic")),
            (shared, c.level("shared_part")),
            (f_close | crossed, c.level("close")),
            (fa == fb, c.level("exact")),
        ],
    )

    sa, sb = recs.suffix[left], recs.suffix[right]
    c = BY_NAME["suffix"]
    out[:, col["suffix"]] = np.where(
        _present(sa, sb), np.where(sa == sb, c.level("agree"), c.level("conflict")), 0
    ).astype(np.int8)

    da, db = recs.dob[left], recs.dob[right]
    p = (da > 0) & (db > 0)
    c = BY_NAME["birth_date"]
    out[:, col["birth_date"]] = _grade(
        p,
        [
            (da // 10000 == db // 10000, c.level("year_only")),
            (_transposed_or_swapped(da, db), c.level("partial")),
            (da == db, c.level("exact")),
        ],
    )

    xa, xb = recs.sex[left], recs.sex[right]
    c = BY_NAME["sex"]
    out[:, col["sex"]] = np.where(_present(xa, xb), np.where(xa == xb, c.level("agree"), c.level("disagree")), 0)

    ha, hb = recs.house[left], recs.house[right]
    ta, tb = recs.street[left], recs.street[right]
    has_street = _present(ta, tb)
    jw = _jw(ta, tb)
    street_same = has_street & (ha == hb) & ((ta == tb) | (jw >= 0.9))
    za, zb = recs.postal[left], recs.postal[right]
    has_zip = _present(za, zb)
    pa, pb = recs.phone[left], recs.phone[right]
    has_phone = _present(pa, pb)
    phone_same = has_phone & (pa == pb)
    c = BY_NAME["contact"]
    out[:, col["contact"]] = _grade(
        has_street | has_zip | has_phone,
        [
            ((has_zip & (za == zb)) | (has_street & (jw >= 0.9)), c.level("same_area")),
            (street_same | phone_same, c.level("one_exact")),
            (street_same & phone_same, c.level("address_and_phone")),
        ],
    )

    a, b = recs.ssn[left], recs.ssn[right]
    p = _present(a, b)
    c = BY_NAME["ssn"]
    # Only the last four digits on one side: they agree when the other's end with them.
    a4, b4 = recs.ssn4[left], recs.ssn4[right]
    short = (a == a4) | (b == b4)  # only four digits given
    same = (a == b) | (short & (a4 == b4))
    out[:, col["ssn"]] = _grade(p, [(_edits(a, b) <= 1, c.level("close")), (same, c.level("exact"))])
    return out
