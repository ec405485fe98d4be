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
    # Both without a suffix is no evidence; one "Jr" alone may be the son of the other.
    Comparison("suffix", ("missing", "conflict", "one_sided", "agree")),
    Comparison("birth_date", ("missing", "disagree", "year_only", "partial", "exact")),
    Comparison("sex", ("missing", "disagree", "agree")),
    # Address, postal code and phone move together (a household shares all three; a move changes
    # all three): weighed as one comparison, they are not counted three times.
    Comparison("contact", ("missing", "disagree", "same_area", "one_exact", "address_and_phone")),
    Comparison("ssn", ("missing", "disagree", "close", "exact")),
)
BY_NAME = {c.name: c for c in COMPARISONS}
JW_CLOSE = 0.9
JW_CROSSED = 0.88
PARALLEL_FROM = 20_000  # pairs; below this, starting threads costs more than it saves


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


def _nicknames(recs: Records, ca: Ints, cb: Ints, mask: npt.NDArray[np.bool_]) -> npt.NDArray[np.bool_]:
    """Nickname agreement from the `nicknames` table, asked once per distinct pair of names."""
    out = np.zeros(len(ca), dtype=bool)
    idx = np.flatnonzero(mask)
    if not len(idx):
        return out
    names = recs.vocabulary(*NAME_COLUMNS)
    k = max(len(names), 1)
    uniq, inv = np.unique(ca[idx] * k + cb[idx], return_inverse=True)
    agree = np.asarray([nz.nicknames_agree(names[u // k], names[u % k]) for u in uniq], dtype=bool)
    out[idx] = agree[inv]
    return out


def _similar(a: Strs, b: Strs, ca: Ints, cb: Ints, typo_len: int | None) -> npt.NDArray[np.float32]:
    """Jaro-Winkler of present pairs whose values differ (1.0 where equal, 0 where missing);
    with ``typo_len``, values of that length or more one keystroke apart count as 0.9."""
    sim = np.where((ca == cb) & (ca >= 0), 1.0, 0.0).astype(np.float32)
    idx = np.flatnonzero((ca >= 0) & (cb >= 0) & (ca != cb))
    if len(idx):
        sim[idx] = _jw(a[idx], b[idx])
        if typo_len is not None:
            near = idx[sim[idx] < JW_CLOSE]
            if len(near):
                long_enough = np.asarray([len(x) >= typo_len for x in a[near]], dtype=bool)
                typo = (_edits(a[near], b[near]) <= 1) & long_enough
                sim[near[typo]] = JW_CLOSE
    return sim


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


NAME_COLUMNS = ("given", "middle", "family", "given1", "middle1", "part1", "part2")


def compare(recs: Records, left: Ints, right: Ints) -> Levels:
    """Levels (pairs x comparisons) for the pairs (left[k], right[k]) of ``recs``."""
    n = len(left)
    out = np.zeros((n, len(COMPARISONS)), dtype=np.int8)
    if n == 0:
        return out
    col = {c.name: i for i, c in enumerate(COMPARISONS)}
    g, m, f, g1, m1, p1, p2 = recs.codes(*NAME_COLUMNS)
    gph, fph = recs.codes("given_ph", "family_ph")
    gocr, focr = recs.codes("given_ocr", "family_ocr")

    ga, gb = g[left], g[right]
    ma, mb = m[left], m[right]
    fa, fb = f[left], f[right]
    p = (ga >= 0) & (gb >= 0)
    g_close = _similar(recs.given[left], recs.given[right], ga, gb, typo_len=4) >= JW_CLOSE
    g_close |= (gocr[left] == gocr[right]) & (gocr[left] >= 0)
    a1, b1 = g1[left], g1[right]
    # A name equal to its own first letter is an initial.
    initial = p & ((ga == a1) | (gb == b1)) & (a1 == b1)
    # Given and middle names written the other way round: both ("Adrian Wayne" / "Wayne Adrian")
    # is one person's two names; one way ("J Robert" / "Robert") is weaker.
    swapped = ((ga == mb) & (ga >= 0)) | ((gb == ma) & (gb >= 0))
    both_swapped = (ga == mb) & (gb == ma) & (ga >= 0) & (gb >= 0)
    # Given name and surname entered in each other's boxes (and perhaps mistyped there).
    crossed = (ga == fb) & (fa == gb) & (ga >= 0) & (fa >= 0)
    maybe = np.flatnonzero(p & (fa >= 0) & (fb >= 0) & ~g_close & ~crossed & (fa != fb))
    if len(maybe):
        gl, gr, fl, fr = (
            recs.given[left[maybe]],
            recs.given[right[maybe]],
            recs.family[left[maybe]],
            recs.family[right[maybe]],
        )
        crossed[maybe] = (_jw(gl, fr) >= JW_CROSSED) & (_jw(fl, gr) >= JW_CROSSED)
    nick = _nicknames(recs, ga, gb, p & (ga != gb))
    c = BY_NAME["given_name"]
    out[:, col["given_name"]] = _grade(
        p,
        [
            (initial, c.level("initial")),
            (((gph[left] == gph[right]) & (gph[left] >= 0)) | swapped, c.level("phonetic")),
            (g_close | crossed | both_swapped, c.level("close")),
            (nick, c.level("nickname")),
            (ga == gb, c.level("exact")),
        ],
    )

    p = (ma >= 0) & (mb >= 0)
    c = BY_NAME["middle_name"]
    out[:, col["middle_name"]] = _grade(
        p, [(m1[left] == m1[right], c.level("initial")), ((ma == mb) | both_swapped, c.level("exact"))]
    )

    p = (fa >= 0) & (fb >= 0)
    f_close = _similar(recs.family[left], recs.family[right], fa, fb, typo_len=4) >= JW_CLOSE
    f_close |= (focr[left] == focr[right]) & (focr[left] >= 0)
    shared = np.zeros(n, dtype=bool)
    for pa in (p1, p2):
        for pb in (p1, p2):
            shared |= (pa[left] == pb[right]) & (pa[left] >= 0)
    c = BY_NAME["family_name"]
    out[:, col["family_name"]] = _grade(
        p,
        [
            ((fph[left] == fph[right]) & (fph[left] >= 0), c.level("phonetic")),
            (shared, c.level("shared_part")),
            (f_close | crossed, c.level("close")),
            (fa == fb, c.level("exact")),
        ],
    )

    (suf,) = recs.codes("suffix")
    sa, sb = suf[left], suf[right]
    c = BY_NAME["suffix"]
    out[:, col["suffix"]] = np.where(
        (sa >= 0) & (sb >= 0),
        np.where(sa == sb, c.level("agree"), c.level("conflict")),
        np.where((sa >= 0) | (sb >= 0), c.level("one_sided"), 0),
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

    (sex,) = recs.codes("sex")
    xa, xb = sex[left], sex[right]
    c = BY_NAME["sex"]
    out[:, col["sex"]] = np.where((xa >= 0) & (xb >= 0), np.where(xa == xb, c.level("agree"), c.level("disagree")), 0)

    (house,) = recs.codes("house")
    (street,) = recs.codes("street")
    (postal,) = recs.codes("postal")
    (phone,) = recs.codes("phone")
    ta, tb = street[left], street[right]
    has_street = (ta >= 0) & (tb >= 0)
    street_like = _similar(recs.street[left], recs.street[right], ta, tb, typo_len=None) >= 0.9
    street_same = has_street & (house[left] == house[right]) & street_like
    za, zb = postal[left], postal[right]
    has_zip = (za >= 0) & (zb >= 0)
    pa_, pb_ = phone[left], phone[right]
    has_phone = (pa_ >= 0) & (pb_ >= 0)
    phone_same = has_phone & (pa_ == pb_)
    c = BY_NAME["contact"]
    out[:, col["contact"]] = _grade(
        has_street | has_zip | has_phone,
        [
            ((has_zip & (za == zb)) | (has_street & street_like), c.level("same_area")),
            (street_same | phone_same, c.level("one_exact")),
            (street_same & phone_same, c.level("address_and_phone")),
        ],
    )

    ssn, ssn4 = recs.codes("ssn", "ssn4")
    sa_, sb_ = ssn[left], ssn[right]
    p = (sa_ >= 0) & (sb_ >= 0)
    c = BY_NAME["ssn"]
    # Only the last four digits on one side: they agree when the other's end with them.
    a4, b4 = ssn4[left], ssn4[right]
    same = (sa_ == sb_) | (((sa_ == a4) | (sb_ == b4)) & (a4 == b4))
    close = np.zeros(n, dtype=bool)
    idx = np.flatnonzero(p & ~same)
    if len(idx):
        close[idx] = _edits(recs.ssn[left[idx]], recs.ssn[right[idx]]) <= 1
    out[:, col["ssn"]] = _grade(p, [(close, c.level("close")), (same, c.level("exact"))])
    return out
