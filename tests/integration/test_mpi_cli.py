"""`chartmigrate mpi dedupe` and `mpi link` on patient CSV files, including broken rows."""

from __future__ import annotations

import csv
from pathlib import Path

from samples.make_index import fake_patients
from tests.integration.conftest import run_cli

HEADER = "id,given_name,middle_name,family_name,birth_date,sex,address_line,city,state,postal_code,phone,ssn"


def people(n: int, seed: int) -> list[dict[str, str]]:
    return [{**p, "id": f"P{i:05d}"} for i, p in enumerate(fake_patients(n, seed))]


def write(path: Path, rows: list[dict[str, str]], tail: bytes = b"") -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=HEADER.split(","))
        w.writeheader()
        w.writerows(rows)
    if tail:
        with path.open("ab") as f:
            f.write(tail)
    return path


def read_pairs(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_dedupe_finds_duplicates_and_reports_bad_rows(tmp_path: Path) -> None:
    rows = people(300, seed=5)
    dup = {**rows[10], "id": "D1", "given_name": rows[10]["given_name"][:1] + rows[10]["given_name"][1:].lower()}
    dup["family_name"] = rows[10]["family_name"].upper()
    dup["phone"] = ""
    moved = {**rows[20], "id": "D2", "address_line": "9 Elm Rd", "postal_code": "60601", "phone": "3125550199"}
    twin = {**rows[30], "id": "T1", "given_name": "Zebediah", "middle_name": "", "ssn": "999-99-9999"}
    bad = b"B1,Ann,,Lee,not a date,F,,,,,,\nB2,Jos\xe9,,Garcia,1970-01-01,M,,,,,,\n,NoId,,X,,,,,,,,\n"
    src = write(tmp_path / "patients.csv", [*rows, dup, moved, twin], bad)
    out = tmp_path / "pairs.csv"
    r = run_cli(tmp_path / "data", "mpi", "dedupe", str(src), "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert "line 306: skipped: not UTF-8 text" in r.stderr and "line 307: skipped: no id" in r.stderr
    assert "Jos" not in r.stderr  # row problems never echo values
    pairs = read_pairs(out)
    assert list(pairs[0]) == ["left_id", "right_id", "score", "decision"]
    decided = {frozenset((p["left_id"], p["right_id"])): p["decision"] for p in pairs}
    assert decided[frozenset(("P00010", "D1"))] == "match"
    assert decided[frozenset(("P00020", "D2"))] == "match"
    assert decided.get(frozenset(("P00030", "T1"))) != "match"
    assert all(0 <= float(p["score"]) <= 1 and p["decision"] in ("match", "review") for p in pairs)


def test_link_pairs_across_two_files(tmp_path: Path) -> None:
    left = people(200, seed=8)
    right = [{**p, "id": f"R{i}"} for i, p in enumerate(left[:50])] + [
        {**p, "id": f"N{i}"} for i, p in enumerate(people(100, seed=9))
    ]
    out = tmp_path / "pairs.csv"
    r = run_cli(
        tmp_path / "data",
        "mpi",
        "link",
        str(write(tmp_path / "a.csv", left)),
        str(write(tmp_path / "b.csv", right)),
        "--out",
        str(out),
    )
    assert r.returncode == 0, r.stderr
    matches = {(p["left_id"], p["right_id"]) for p in read_pairs(out) if p["decision"] == "match"}
    assert matches == {(f"P{i:05d}", f"R{i}") for i in range(50)}


def test_bad_arguments_get_one_line_errors(tmp_path: Path) -> None:
    r = run_cli(tmp_path / "data", "mpi", "dedupe", str(tmp_path / "missing.csv"), "--out", str(tmp_path / "o.csv"))
    assert r.returncode == 2 and r.stderr.strip().count("\n") == 0 and "no such file" in r.stderr
    (tmp_path / "noid.csv").write_text("name,birth_date\nAnn,2000-01-01\n", encoding="utf-8")
    r = run_cli(tmp_path / "data", "mpi", "dedupe", str(tmp_path / "noid.csv"), "--out", str(tmp_path / "o.csv"))
    assert r.returncode == 2 and "no 'id' column" in r.stderr
