"""The real command line on one mixed batch: exit code, summary, export, documents, reprocess, PHI.

The batch (two good files, a page of noise, a blank page and seven broken files) is ingested once
with `python -m migrate ingest` and shared by the tests of this module.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from migrate.settings import Settings
from tests.conftest import (
    CHART_LINES,
    blank_page,
    found_ratio,
    noise_page,
    page_lines,
    render_page,
    write_image_pdf,
    write_png,
    write_text_pdf,
    write_tiff,
)
from tests.integration.conftest import count_rows, documents, json_lines, run_cli, summary_counts
from tests.integration.test_bad_inputs import BAD, write_bad_files

pytestmark = pytest.mark.shared_database  # the module's fixture ingests once; tests read it

PHI_NAME = ("QUIXOTE", "ZELDA")
PHI_DOB = ("1957-03-14", "03/14/1957")
PHI_LINES = [
    "Patient: QUIXOTE, ZELDA",
    "DOB: 1957-03-14",
    "Date of birth 03/14/1957",
    *CHART_LINES[:5],
]
PHI_FILE = "QUIXOTE_ZELDA.png"
PHI_BAD_FILE = "QUIXOTE_ZELDA_1957-03-14.txt"
VISIT = [page_lines("visit one", 6), page_lines("visit two", 6)]
BAD_HERE = {(PHI_BAD_FILE if k == "notes.txt" else k): v for k, v in BAD.items()}


def assert_no_phi(*texts: str) -> None:
    joined = "\n".join(texts).lower()
    for secret in (*PHI_NAME, *PHI_DOB):
        assert secret.lower() not in joined, f"{secret!r} printed by the command line"


@dataclass(frozen=True)
class Batch:
    home: Path
    folder: Path
    settings: Settings
    result: subprocess.CompletedProcess[str]


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> Batch:
    root = tmp_path_factory.mktemp("cli")
    folder = root / "charts"
    folder.mkdir()
    write_bad_files(folder, PHI_LINES)
    (folder / "notes.txt").rename(folder / PHI_BAD_FILE)
    write_png(folder / PHI_FILE, render_page(PHI_LINES, size_in=(8.5, 5.5)))
    write_image_pdf(folder / "visit.pdf", [render_page(lines, size_in=(5.5, 4.25)) for lines in VISIT])
    write_png(folder / "noise.png", noise_page())
    write_png(folder / "blank.png", blank_page())
    home = root / "data"
    result = run_cli(home, "ingest", str(folder), "--workers", "2")
    return Batch(home, folder, Settings(home=home), result)


def test_exit_code_and_summary_line(batch: Batch) -> None:
    r = batch.result
    assert r.returncode == 1, r.stderr
    assert "Traceback" not in r.stderr
    assert summary_counts(r.stdout) == {"processed": 4, "duplicates": 0, "failed": 7, "pages": 5}
    docs = documents(batch.settings)
    failed_lines = [ln.strip() for ln in r.stdout.splitlines() if ln.strip().startswith("failed: document")]
    assert len(failed_lines) == 7
    for name in BAD_HERE:
        doc = docs[name]
        assert any(
            ln.startswith(f"failed: document {doc.id} (") and ln.endswith(f": {doc.error_message}")
            for ln in failed_lines
        ), (name, failed_lines)


def test_failed_documents_have_a_one_line_reason(batch: Batch) -> None:
    docs = documents(batch.settings)
    assert len(docs) == 11
    for name, (code, word) in BAD_HERE.items():
        doc = docs[name]
        assert (doc.status, doc.error_code) == ("failed", code), name
        assert doc.error_message and "\n" not in doc.error_message
        assert word.lower() in doc.error_message.lower()
        assert doc.pages == []


def test_good_files_are_done_with_their_pages(batch: Batch) -> None:
    docs = documents(batch.settings)
    phi = docs[PHI_FILE]
    assert (phi.status, phi.page_count, len(phi.pages)) == ("done", 1, 1)
    assert found_ratio(phi.pages[0].text, PHI_LINES) >= 0.8
    visit = docs["visit.pdf"]
    assert (visit.status, visit.page_count) == ("done", 2)
    assert [p.number for p in visit.pages] == [1, 2]
    for page, lines in zip(visit.pages, VISIT, strict=True):
        assert found_ratio(page.text, lines) >= 0.8, page.text
    assert "one" in visit.pages[0].text.lower()
    assert "two" in visit.pages[1].text.lower()


def test_unreadable_and_blank_pages_are_kept_and_flagged(batch: Batch) -> None:
    docs = documents(batch.settings)
    for name, flag in (("noise.png", "unreadable"), ("blank.png", "blank")):
        doc = docs[name]
        assert (doc.status, doc.error_code) == ("done", None)
        assert len(doc.pages) == 1
        assert flag in doc.pages[0].flags


def test_phi_never_reaches_the_console(batch: Batch) -> None:
    phi_text = documents(batch.settings)[PHI_FILE].pages[0].text
    assert "QUIXOTE" in phi_text and "1957-03-14" in phi_text  # the PHI really was read from the page
    listing = run_cli(batch.home, "documents")
    listing_json = run_cli(batch.home, "documents", "--json")
    again = run_cli(batch.home, "ingest", str(batch.folder / PHI_FILE), str(batch.folder / PHI_BAD_FILE))
    assert listing.returncode == listing_json.returncode == 0
    assert again.returncode == 0  # both are duplicates now
    assert_no_phi(
        batch.result.stdout,
        batch.result.stderr,
        listing.stdout,
        listing.stderr,
        listing_json.stdout,
        listing_json.stderr,
        again.stdout,
        again.stderr,
    )


def test_ingesting_again_reports_duplicates_and_adds_nothing(batch: Batch) -> None:
    before = count_rows(batch.settings)
    r = run_cli(batch.home, "ingest", str(batch.folder / "visit.pdf"), str(batch.folder / "locked.pdf"))
    assert r.returncode == 0, r.stderr
    assert summary_counts(r.stdout) == {"processed": 0, "duplicates": 2, "failed": 0, "pages": 0}
    docs = documents(batch.settings)
    assert re.search(rf"duplicate: document {docs['visit.pdf'].id} \(.*already ingested as document", r.stdout)
    assert count_rows(batch.settings) == before


def test_export_drafts_jsonl(batch: Batch, tmp_path: Path) -> None:
    r = run_cli(batch.home, "export", "drafts", "--format", "jsonl")
    assert r.returncode == 0, r.stderr
    records = json_lines(r.stdout)
    assert len(records) == 11
    by_name = {Path(rec["source"]["path"]).name: rec for rec in records}
    assert set(by_name) == set(documents(batch.settings))
    for rec in records:
        assert isinstance(rec["document_id"], str) and rec["document_id"]
        assert rec["status"] in {"pending_review", "failed"}
        assert re.fullmatch(r"[0-9a-f]{64}", rec["source"]["sha256"])
        for page in rec["source"]["pages"]:
            assert isinstance(page["number"], int)
            assert isinstance(page["text"], str)
            assert page["ocr_confidence"] is None or 0 <= page["ocr_confidence"] <= 1
    for name in BAD_HERE:
        rec = by_name[name]
        assert rec["status"] == "failed"
        assert isinstance(rec["error"], str) and rec["error"] and "\n" not in rec["error"]
        assert rec["source"]["pages"] == []
    visit = by_name["visit.pdf"]
    assert visit["status"] == "pending_review"
    assert "error" not in visit
    assert [p["number"] for p in visit["source"]["pages"]] == [1, 2]
    assert all(p["text"] and p["ocr_confidence"] > 0.5 for p in visit["source"]["pages"])

    out = tmp_path / "drafts.jsonl"
    r2 = run_cli(batch.home, "export", "drafts", "--format", "jsonl", "--out", str(out))
    assert r2.returncode == 0
    assert json_lines(out.read_text(encoding="utf-8")) == records


def test_export_unknown_format_is_refused(batch: Batch) -> None:
    r = run_cli(batch.home, "export", "drafts", "--format", "xml")
    assert r.returncode == 2
    assert r.stdout == ""
    assert r.stderr.strip().splitlines() == ["error: unknown format 'xml'; use jsonl"]


def test_documents_json(batch: Batch) -> None:
    r = run_cli(batch.home, "documents", "--json")
    assert r.returncode == 0, r.stderr
    rows = json_lines(r.stdout)
    assert len(rows) == 11
    assert [row["id"] for row in rows] == sorted(row["id"] for row in rows)
    assert all("path" not in row for row in rows)  # paths may name patients: only with --show-paths
    assert sum(row["status"] == "failed" for row in rows) == 7
    for row in rows:
        assert re.fullmatch(r"[0-9a-f]{64}", row["sha256"])
        if row["status"] == "failed":
            assert row["error_code"] and row["error"]
        else:
            assert row["status"] == "done" and row["pages"] >= 1 and row["error"] is None
    failed_only = json_lines(run_cli(batch.home, "documents", "--json", "--status", "failed").stdout)
    assert {row["id"] for row in failed_only} == {row["id"] for row in rows if row["status"] == "failed"}
    with_paths = json_lines(run_cli(batch.home, "documents", "--json", "--show-paths").stdout)
    assert {Path(row["path"]).name for row in with_paths} == set(documents(batch.settings))


def test_reprocess_rebuilds_pages(batch: Batch) -> None:
    before = documents(batch.settings)["visit.pdf"]
    r = run_cli(batch.home, "reprocess", str(before.id))
    assert r.returncode == 0, r.stderr
    assert f"document {before.id} (" in r.stdout and "done, 2 pages" in r.stdout
    after = documents(batch.settings)["visit.pdf"]
    assert (after.status, after.page_count, after.attempts) == ("done", 2, before.attempts + 1)
    assert [p.number for p in after.pages] == [1, 2]
    assert min(p.created_at for p in after.pages) > max(p.created_at for p in before.pages)
    for page, lines in zip(after.pages, VISIT, strict=True):
        assert found_ratio(page.text, lines) >= 0.8


def test_reprocess_of_a_broken_file_fails_again(batch: Batch) -> None:
    doc = documents(batch.settings)["locked.pdf"]
    r = run_cli(batch.home, "reprocess", str(doc.id))
    assert r.returncode == 1
    assert f"failed: document {doc.id} (" in r.stderr
    assert "password" in r.stderr
    again = documents(batch.settings)["locked.pdf"]
    assert (again.status, again.error_code, again.pages) == ("failed", "encrypted", [])


def test_reprocess_unknown_document(batch: Batch) -> None:
    r = run_cli(batch.home, "reprocess", "9999")
    assert r.returncode == 2
    assert "no document with id 9999" in r.stderr
    assert "Traceback" not in r.stderr


def test_usage_error_is_one_line_and_exit_2(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    r = run_cli(tmp_path / "data", "ingest", str(folder), "--workers", "0")
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    assert "--workers" in r.stderr


def test_truncated_tiff_fails_only_its_document(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    tif = write_tiff(tmp_path / "three.tif", [render_page(page_lines(str(i), 4), size_in=(3, 2)) for i in range(3)])
    data = tif.read_bytes()
    (folder / "cut.tif").write_bytes(data[: len(data) * 6 // 10])
    write_text_pdf(folder / "typed.pdf", page_lines("typed"))
    r = run_cli(tmp_path / "data", "ingest", str(folder))
    assert "Traceback" not in r.stderr
    assert r.returncode == 1
    assert summary_counts(r.stdout) == {"processed": 1, "duplicates": 0, "failed": 1, "pages": 1}


def test_error_for_dotted_file_name_does_not_echo_the_name(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(Path(__file__), folder / "Zelda.Quixote")
    r = run_cli(tmp_path / "data", "ingest", str(folder))
    assert r.returncode == 1
    assert summary_counts(r.stdout)["failed"] == 1
    assert_no_phi(r.stdout, r.stderr)
