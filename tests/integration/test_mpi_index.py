"""The master patient index in the database: import, lookup, MRNs, merge and unmerge, the CLI."""

from __future__ import annotations

import json
import multiprocessing as mp
from pathlib import Path

import pytest
from sqlalchemy import select

from migrate.db.models import MpiEvent, MpiPatient, MrnAllocation
from migrate.db.session import migrate_to_head, unit_of_work
from migrate.mpi import index
from tests.integration.conftest import run_cli
from tests.integration.test_mpi_cli import people, write


@pytest.fixture
def url(database_url: str) -> str:
    migrate_to_head(database_url)
    return database_url


@pytest.fixture
def loaded(url: str) -> tuple[str, list[dict[str, str]]]:
    rows = [{**p, "id": f"MRN{i:07d}"} for i, p in enumerate(people(400, seed=11))]
    with unit_of_work(url) as s:
        assert index.import_rows(s, rows, "tester") == {"added": 400, "updated": 0, "unchanged": 0}
        index.refresh(s)
        s.commit()
    return url, rows


def test_import_is_idempotent_and_records_changes(loaded: tuple[str, list[dict[str, str]]]) -> None:
    url, rows = loaded
    changed = [*rows[:-1], {**rows[-1], "phone": "2125550100"}]
    with unit_of_work(url) as s:
        assert index.import_rows(s, changed, "tester") == {"added": 0, "updated": 1, "unchanged": 399}
        s.commit()
        assert s.scalar(select(MpiPatient.identity).where(MpiPatient.mrn == rows[-1]["id"]))["phone"] == "2125550100"
        assert [e.action for e in s.scalars(select(MpiEvent))] == ["import", "import"]


def test_lookup_links_a_duplicate_and_finds_nobody_for_a_stranger(loaded: tuple[str, list[dict[str, str]]]) -> None:
    url, rows = loaded
    target = rows[17]
    dup = {**target, "given_name": target["given_name"].upper(), "phone": "", "address_line": "1 New Rd"}
    stranger = {**people(1, seed=99)[0]}
    with unit_of_work(url) as s:
        hit = index.lookup(s, dup)
        assert hit.decision == "link" and hit.candidates[0].mrn == target["id"]
        assert {r.comparison for r in hit.candidates[0].reasons} >= {"given_name", "birth_date", "contact"}
        assert index.lookup(s, stranger).decision == "new"
        twin = {**target, "given_name": "Zebediah", "middle_name": "", "ssn": ""}
        assert index.lookup(s, twin).decision != "link"


def test_new_mrn_only_after_the_search_and_with_a_check_digit(loaded: tuple[str, list[dict[str, str]]]) -> None:
    url, rows = loaded
    with unit_of_work(url) as s:
        with pytest.raises(index.PossibleDuplicate):
            index.new_patient(s, {**rows[5], "phone": ""}, "tester", "CM")
        first, _ = index.new_patient(s, people(1, seed=123)[0], "tester", "CM")
        second, _ = index.new_patient(s, people(1, seed=124)[0], "tester", "CM")
        s.commit()
    assert (first, second) == (index.format_mrn("CM", 1), index.format_mrn("CM", 2))
    assert index.luhn_valid(first, "CM") and not index.luhn_valid(first[:-1] + str((int(first[-1]) + 1) % 10), "CM")
    with unit_of_work(url) as s:
        assert s.scalar(select(MpiPatient.source).where(MpiPatient.mrn == first)) == "new"


def _allocate(url: str, actor: str, n: int) -> None:
    for _ in range(n):
        with unit_of_work(url) as s:
            index.allocate_mrn(s, actor, "CM")
            s.commit()


def test_mrns_are_unique_under_two_concurrent_writers(url: str) -> None:
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_allocate, args=(url, f"writer{i}", 25)) for i in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    with unit_of_work(url) as s:
        numbers = list(s.scalars(select(MrnAllocation.number)))
        mrns = list(s.scalars(select(MrnAllocation.mrn)))
    assert sorted(numbers) == list(range(1, 51)) and len(set(mrns)) == 50


def test_merge_and_unmerge_lose_nothing(loaded: tuple[str, list[dict[str, str]]]) -> None:
    url, rows = loaded
    a, b = rows[3]["id"], rows[4]["id"]
    with unit_of_work(url) as s:
        identity = {k: v for k, v in rows[3].items() if k != "id"}
        s.scalars(select(MpiPatient).where(MpiPatient.mrn == a)).one().identity = {**identity, "phone": ""}
        s.commit()
    with unit_of_work(url) as s:
        before = {m: dict(s.scalars(select(MpiPatient).where(MpiPatient.mrn == m)).one().identity) for m in (a, b)}
        index.merge(s, a, b, "supervisor1")
        s.commit()
        survivor = s.scalars(select(MpiPatient).where(MpiPatient.mrn == a)).one()
        retired = s.scalars(select(MpiPatient).where(MpiPatient.mrn == b)).one()
        assert retired.status == "merged" and retired.merged_into == survivor.id
        assert survivor.identity["phone"] == before[b]["phone"]  # filled from the retired record
        assert survivor.identity["given_name"] == before[a]["given_name"]  # survivor's own value kept
        assert all(c.mrn != b for c in index.lookup(s, {k: v for k, v in rows[4].items() if k != "id"}).candidates)
        index.unmerge(s, b, "supervisor2")
        s.commit()
        for m in (a, b):
            row = s.scalars(select(MpiPatient).where(MpiPatient.mrn == m)).one()
            assert row.status == "active" and row.identity == before[m]
        assert [(e["action"], e["actor"]) for e in index.history(s, b)] == [
            ("merge", "supervisor1"),
            ("unmerge", "supervisor2"),
        ]


def test_cli_import_explain_new_mrn(tmp_path: Path) -> None:
    home = tmp_path / "data"
    rows = [{**p, "id": f"MRN{i:07d}"} for i, p in enumerate(people(300, seed=4))]
    src = write(tmp_path / "index.csv", rows)
    r = run_cli(home, "mpi", "import", str(src), "--by", "loader")
    assert r.returncode == 0 and "300 added" in r.stdout, r.stderr
    r = run_cli(home, "mpi", "import", str(src), "--by", "loader")
    assert "300 unchanged" in r.stdout
    r = run_cli(home, "mpi", "explain", rows[0]["id"], rows[1]["id"], "--json")
    got = json.loads(r.stdout)
    assert got["decision"] == "none" and {x["field"] for x in got["reasons"]} >= {"given_name", "ssn"}
    new = people(1, seed=777)[0]
    args = ["--given-name", new["given_name"], "--family-name", new["family_name"], "--birth-date", new["birth_date"]]
    r = run_cli(home, "mpi", "new-mrn", *args, "--by", "tech1")
    assert r.returncode == 0 and r.stdout.strip() == index.format_mrn("CM", 1), r.stderr
    dup = rows[9]
    args = ["--given-name", dup["given_name"], "--family-name", dup["family_name"], "--birth-date", dup["birth_date"]]
    r = run_cli(home, "mpi", "new-mrn", *args, "--sex", dup["sex"], "--by", "tech1")
    assert r.returncode == 2 and "possible record" in r.stderr and dup["family_name"] not in r.stderr
    r = run_cli(home, "mpi", "explain", "NOPE1", rows[1]["id"])
    assert r.returncode != 0 and "no patient with that MRN" in r.stderr
