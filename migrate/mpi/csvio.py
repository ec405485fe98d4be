"""Patient CSV files (CONTRACTS.md): read tolerantly, one problem per bad row, never a crash;
PAIRS.csv written."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from migrate.errors import BadArguments
from migrate.mpi.records import FIELDS


@dataclass(frozen=True, slots=True)
class RowProblem:
    line: int  # line number in the file, header = 1
    reason: str  # never holds the row's values (PHI)


@dataclass(frozen=True, slots=True)
class PatientFile:
    rows: list[dict[str, str]]
    problems: list[RowProblem]


def read_patients(path: Path) -> PatientFile:
    """Rows keyed by the contract's column names; rows that cannot be used are reported."""
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise BadArguments(f"cannot read patient file: {e.strerror}") from e
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    rows: list[dict[str, str]] = []
    problems: list[RowProblem] = []
    lines = raw.splitlines(keepends=True)
    if not lines:
        raise BadArguments("patient file is empty")
    header_text = lines[0].decode("utf-8", errors="replace")
    header = [h.strip().lower() for h in next(csv.reader([header_text]))]
    if "id" not in header:
        raise BadArguments("patient file has no 'id' column in its header row")
    known = [h if h in FIELDS else "" for h in header]
    for number, text in _decoded(lines[1:], problems):
        if not text.strip():
            continue
        try:
            cells = next(csv.reader(io.StringIO(text)))
        except csv.Error:
            problems.append(RowProblem(number, "malformed CSV row"))
            continue
        if len(cells) > len(header):
            problems.append(RowProblem(number, f"{len(cells)} cells for {len(header)} columns"))
            continue
        row = {k: v.strip() for k, v in zip(known, cells, strict=False) if k}
        if not row.get("id"):
            problems.append(RowProblem(number, "no id"))
            continue
        rows.append(row)
    return PatientFile(rows, problems)


def _decoded(lines: list[bytes], problems: list[RowProblem]) -> Iterator[tuple[int, str]]:
    """Each line as text; a line that is not UTF-8 is reported and skipped. Quoted cells may hold
    line breaks, so a line with an open quote is joined to the next."""
    pending = ""
    start = 0
    for i, b in enumerate(lines, start=2):
        try:
            text = b.decode("utf-8")
        except UnicodeDecodeError:
            if pending:
                problems.append(RowProblem(start, "unterminated quoted cell"))
            problems.append(RowProblem(i, "not UTF-8 text"))
            pending = ""
            continue
        if not pending:
            start = i
        pending += text
        if pending.count('"') % 2 == 0:
            yield start, pending
            pending = ""
    if pending:
        problems.append(RowProblem(start, "unterminated quoted cell"))


def write_pairs(path: Path, pairs: Iterable[tuple[str, str, float, str]]) -> int:
    n = 0
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["left_id", "right_id", "score", "decision"])
        for left, right, score, decision in pairs:
            w.writerow([left, right, f"{score:.4f}", decision])
            n += 1
    return n
