"""Patient records as columns: each identity field normalised once into numpy arrays, so every
comparison runs over whole arrays of candidate pairs instead of a Python loop."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import date
from multiprocessing.pool import Pool

import numpy as np
import numpy.typing as npt

from migrate.mpi import normalize as nz

FIELDS = (
    "id", "given_name", "middle_name", "family_name", "birth_date", "sex",
    "address_line", "city", "state", "postal_code", "phone", "ssn",
)  # fmt: skip

PARALLEL_ROWS = 20_000
Strs = npt.NDArray[np.object_]
Ints = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class Records:
    ids: list[str]
    given: Strs
    middle: Strs
    family: Strs
    suffix: Strs
    dob: Ints  # yyyymmdd, 0 when missing
    sex: Strs
    house: Strs
    street: Strs
    postal: Strs
    phone: Strs
    ssn: Strs
    given_ph: Strs
    family_ph: Strs
    middle1: Strs  # first letter of the middle name
    given1: Strs  # first letter of the given name
    given_ocr: Strs  # given name and surname with OCR look-alikes folded (nz.ocr_key)
    family_ocr: Strs
    ssn4: Strs  # last four digits of the SSN
    part1: Strs  # first and last identifying part of the surname ("garcia", "lopez")
    part2: Strs

    _codes: dict[str, tuple[list[Ints], Strs]] = field(default_factory=dict, init=False, compare=False, repr=False)

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def adult(self) -> npt.NDArray[np.bool_]:
        """Born 18 or more years before this year (unknown birth date: not known to be an adult)."""
        year = date.today().year
        out: npt.NDArray[np.bool_] = (self.dob > 0) & (self.dob // 10000 <= year - 18)
        return out

    def codes(self, *columns: str) -> list[Ints]:
        """Integer codes of string columns over one shared vocabulary ("" -> -1), so comparing
        values (also across columns: a given name against a middle name) compares integers."""
        return self._coded(columns)[0]

    def vocabulary(self, *columns: str) -> Strs:
        """The values behind ``codes(*columns)``: code k is ``vocabulary(...)[k]``."""
        return self._coded(columns)[1]

    def _coded(self, columns: tuple[str, ...]) -> tuple[list[Ints], Strs]:
        key = "|".join(columns)
        hit = self._codes.get(key)
        if hit is None:
            arrays = [getattr(self, c).astype(str) for c in columns]
            uniq, inv = np.unique(np.concatenate(arrays), return_inverse=True)
            inv = inv.astype(np.int64)
            if len(uniq) and uniq[0] == "":
                inv -= 1  # "" sorts first: it becomes -1, every value keeps its own code
                uniq = uniq[1:]
            hit = (np.split(inv, np.cumsum([len(a) for a in arrays])[:-1]), uniq.astype(object))
            self._codes[key] = hit
        return hit

    @classmethod
    def from_rows(cls, rows: Iterable[Mapping[str, object]], workers: int | None = None) -> Records:
        return cls.from_normalised(normalise_rows(list(rows), workers))

    @classmethod
    def from_normalised(cls, rows: Iterable[Mapping[str, object]]) -> Records:
        """Records from ``normalise_row`` results (as stored in the index, JSON round-tripped)."""
        cols: dict[str, list[object]] = {k: [] for k in COLUMNS}
        for row in rows:
            for key in COLUMNS:
                cols[key].append(row[key])
        return cls(
            ids=[str(v) for v in cols["ids"]],
            dob=np.asarray(cols["dob"], dtype=np.int64),
            **{k: _strs(cols[k]) for k in COLUMNS if k not in ("ids", "dob")},
        )

    def take(self, idx: Ints) -> Records:
        return Records(
            ids=[self.ids[i] for i in idx],
            dob=self.dob[idx],
            **{k: getattr(self, k)[idx] for k in COLUMNS if k not in ("ids", "dob")},
        )

    @classmethod
    def concat(cls, a: Records, b: Records) -> Records:
        return Records(
            ids=a.ids + b.ids,
            dob=np.concatenate([a.dob, b.dob]),
            **{k: np.concatenate([getattr(a, k), getattr(b, k)]) for k in COLUMNS if k not in ("ids", "dob")},
        )


COLUMNS = tuple(f.name for f in fields(Records) if not f.name.startswith("_"))


def _strs(values: list[object]) -> Strs:
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def normalise_rows(
    rows: Sequence[Mapping[str, object]], workers: int | None = None, pool: Pool | None = None
) -> list[dict[str, object]]:
    """``normalise_row`` of each row; a large batch in a pool of processes (address parsing
    dominates): ``pool`` when the caller keeps one open across batches, else one made here."""
    if pool is not None:
        return pool.map(normalise_row, rows, chunksize=500)
    workers = workers or os.cpu_count() or 1
    if workers > 1 and len(rows) >= PARALLEL_ROWS:
        with normaliser_pool(workers) as own:
            return own.map(normalise_row, rows, chunksize=2000)
    return [normalise_row(row) for row in rows]


def normaliser_pool(workers: int | None = None) -> Pool:
    return multiprocessing.get_context("forkserver").Pool(workers or os.cpu_count() or 1)


def normalise_row(row: Mapping[str, object]) -> dict[str, object]:
    def get(key: str) -> str:
        v = row.get(key)
        return "" if v is None else str(v)

    n = nz.name(get("given_name"), get("middle_name"), get("family_name"))
    d = nz.birth_date(get("birth_date"))
    house, street = nz.address(get("address_line"))
    sex = get("sex").strip().upper()[:1]
    return {
        "ids": get("id"),
        "given": n.given,
        "middle": n.middle,
        "family": n.family,
        "suffix": n.suffix,
        "dob": d.year * 10000 + d.month * 100 + d.day if d else 0,
        "sex": sex if sex in ("F", "M") else "",
        "house": house,
        "street": street,
        "postal": nz.postal(get("postal_code")),
        "phone": nz.phone(get("phone")),
        "ssn": nz.ssn(get("ssn")),
        "given_ph": nz.phonetic(n.given),
        "family_ph": nz.phonetic(n.family.replace(" ", "")),
        "middle1": n.middle[:1],
        "given1": n.given[:1],
        "given_ocr": nz.ocr_key(n.given),
        "family_ocr": nz.ocr_key(n.family),
        "ssn4": nz.ssn(get("ssn"))[-4:],
        "part1": n.family_parts[0] if n.family_parts else "",
        "part2": n.family_parts[-1] if n.family_parts else "",
    }
