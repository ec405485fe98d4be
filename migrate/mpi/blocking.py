"""Blocking: which pairs are worth comparing. Several keys, each cheap and indexed; a pair is a
candidate when any key agrees, so one typo cannot hide a duplicate from all of them."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from migrate.mpi.records import Ints, Records, Strs

# Key name -> fields it is made of (EM holds those fields fixed in that key's session).
KEYS: dict[str, tuple[str, ...]] = {
    "name_year": ("family_name", "birth_date"),
    "dob": ("birth_date",),
    "phone": ("contact",),
    "ssn_initial": ("ssn", "family_name"),
    "ssn_given": ("ssn", "given_name"),
    "ssn_full": ("ssn",),
    "zip_initial": ("contact", "given_name", "family_name"),
    "names": ("given_name", "family_name"),
}
MAX_BLOCK = 200  # records sharing one key value; bigger blocks ("John Smith") rely on other keys


def _join(*parts: Strs) -> Strs:
    out = parts[0].astype(str)
    ok = out != ""
    for p in parts[1:]:
        ps = p.astype(str)
        ok &= ps != ""
        out = np.char.add(np.char.add(out, "|"), ps)
    res: Strs = np.where(ok, out, "").astype(object)
    return res


def _first(a: Strs) -> Strs:
    res: Strs = np.asarray([s[:1] for s in a], dtype=object)
    return res


def key_values(recs: Records) -> dict[str, Strs]:
    year: Strs = np.where(recs.dob > 0, (recs.dob // 10000).astype(str), "").astype(object)
    dob: Strs = np.where(recs.dob > 0, recs.dob.astype(str), "").astype(object)
    return {
        "name_year": _join(recs.family_ph, year),
        "dob": dob,
        "phone": recs.phone,
        "ssn_initial": _join(recs.ssn4, _first(recs.family)),
        "ssn_given": _join(recs.ssn4, _first(recs.given)),
        # A whole number (not only its last four digits) is selective on its own.
        "ssn_full": np.where(np.char.str_len(recs.ssn.astype(str)) >= 7, recs.ssn, "").astype(object),
        # A hospital's patients live in a few dozen ZIP codes: the ZIP alone, or with one
        # initial, makes blocks of thousands.
        "zip_initial": _join(recs.postal, _first(recs.given), _first(recs.family)),
        "names": _join(recs.given_ph, recs.family_ph),
    }


def pairs_for_key(values: Strs, side: npt.NDArray[np.int8] | None = None, cap: int = MAX_BLOCK) -> Ints:
    """Candidate pairs (as i * n + j, i < j) of records sharing a non-empty key value; with
    ``side``, only pairs across the two sides (linking two files)."""
    n = len(values)
    present = np.flatnonzero(values != "")
    if len(present) < 2:
        return np.zeros(0, dtype=np.int64)
    _uniq, codes, sizes = np.unique(values[present].astype(str), return_inverse=True, return_counts=True)
    keep = sizes[codes] <= cap
    idx = present[keep]
    codes = codes[keep]
    order = np.argsort(codes, kind="stable")
    idx, codes = idx[order], codes[order]
    chunks = []
    live = np.arange(len(idx) - 1)
    k = 1
    while len(live):
        live = live[live + k < len(idx)]
        live = live[codes[live] == codes[live + k]]
        if not len(live):
            break
        a, b = idx[live], idx[live + k]
        if side is not None:
            cross = side[a] != side[b]
            a, b = a[cross], b[cross]
        lo, hi = np.minimum(a, b), np.maximum(a, b)
        chunks.append(lo.astype(np.int64) * n + hi)
        k += 1
    if not chunks:
        return np.zeros(0, dtype=np.int64)
    return np.unique(np.concatenate(chunks))


def pairs_by_key(recs: Records, side: npt.NDArray[np.int8] | None = None) -> dict[str, Ints]:
    """Each key's candidate pairs (coded i * n + j), computed once per run: EM estimates m per key,
    and the union is what gets scored."""
    values = key_values(recs)
    return {key: pairs_for_key(values[key], side) for key in KEYS}


def candidate_pairs(by_key: dict[str, Ints], n: int) -> tuple[Ints, Ints]:
    """The union of all keys' pairs as (left, right) record indices."""
    coded = list(by_key.values())
    allp = np.unique(np.concatenate(coded)) if coded else np.zeros(0, dtype=np.int64)
    return allp // n, allp % n
