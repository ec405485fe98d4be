"""run_batch on real pages: turned, skewed, born-digital, multi-page TIFF, JPEG, PNG; duplicates.

One ingested database (OCR'd once) is shared by the tests of this module.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from migrate.batch import run_batch
from migrate.records import BatchSummary
from migrate.settings import Settings
from tests.conftest import (
    found_ratio,
    page_lines,
    render_page,
    write_image_pdf,
    write_jpeg,
    write_png,
    write_text_pdf,
    write_tiff,
)
from tests.integration.conftest import DocRow, count_rows, documents

pytestmark = pytest.mark.shared_database  # the module's fixture ingests once; tests read it

SMALL = (5.5, 4.25)
SHEETS = ["ALPHA", "BRAVO", "CHARLIE"]


def sheet_lines(name: str) -> list[str]:
    return [f"Sheet {name}", "Medication: lisinopril daily", "Allergies: penicillin causes hives"]


LINES = {
    "rot180.png": page_lines("upside down"),
    "rot90.jpg": page_lines("sideways"),
    "skew_pos.png": page_lines("tilted left"),
    "skew_neg.tif": page_lines("tilted right"),
    "scan.pdf": page_lines("scanned", 6),
    "born.pdf": page_lines("typed on a computer"),
}


@dataclass(frozen=True)
class Ingested:
    settings: Settings
    folder: Path
    summary: BatchSummary
    docs: dict[str, DocRow]


@pytest.fixture(scope="module")
def ingested(tmp_path_factory: pytest.TempPathFactory) -> Ingested:
    root = tmp_path_factory.mktemp("ingest")
    folder = root / "charts"
    folder.mkdir()
    write_png(folder / "rot180.png", render_page(LINES["rot180.png"], orientation=180))
    write_jpeg(folder / "rot90.jpg", render_page(LINES["rot90.jpg"], orientation=90))
    write_png(folder / "skew_pos.png", render_page(LINES["skew_pos.png"], skew=7))
    write_tiff(folder / "skew_neg.tif", [render_page(LINES["skew_neg.tif"], skew=-10)])
    write_tiff(folder / "three.tif", [render_page(sheet_lines(s), size_in=SMALL) for s in SHEETS])
    write_image_pdf(folder / "scan.pdf", [render_page(LINES["scan.pdf"], size_in=SMALL)])
    write_text_pdf(folder / "born.pdf", LINES["born.pdf"])
    settings = Settings(home=root / "data")
    summary = run_batch([folder], settings, workers=2)
    return Ingested(settings, folder, summary, documents(settings))


def test_every_file_is_done(ingested: Ingested) -> None:
    s = ingested.summary
    assert not s.failed
    assert not s.duplicates
    assert len(s.processed) == 7
    assert s.pages == 9
    assert {d.status for d in ingested.docs.values()} == {"done"}
    for doc in ingested.docs.values():
        assert doc.page_count == len(doc.pages)
        assert [p.number for p in doc.pages] == list(range(1, len(doc.pages) + 1))


@pytest.mark.parametrize(
    ("name", "orientation", "skew"),
    [("rot180.png", 180, 0), ("rot90.jpg", 90, 0), ("skew_pos.png", 0, 7), ("skew_neg.tif", 0, -10)],
)
def test_turned_and_skewed_pages_are_read(ingested: Ingested, name: str, orientation: int, skew: float) -> None:
    (page,) = ingested.docs[name].pages
    assert page.source == "ocr"
    assert page.cleanup["orientation"] == orientation
    assert abs(page.cleanup["skew"] - (-skew)) < 0.5
    assert found_ratio(page.text, LINES[name]) >= 0.8, page.text
    assert page.confidence is not None and page.confidence > 0.6
    assert not page.flags


def test_born_digital_pdf_uses_its_text_layer(ingested: Ingested) -> None:
    (page,) = ingested.docs["born.pdf"].pages
    assert page.source == "text_layer"
    assert page.cleanup["steps"] == ["text_layer"]  # no clean-up and no OCR ran
    assert page.confidence == 1.0
    assert page.text.split() == " ".join(LINES["born.pdf"]).split()


def test_image_only_pdf_is_ocrd(ingested: Ingested) -> None:
    (page,) = ingested.docs["scan.pdf"].pages
    assert page.source == "ocr"
    assert found_ratio(page.text, LINES["scan.pdf"]) >= 0.8, page.text


def test_multipage_tiff_keeps_page_order(ingested: Ingested) -> None:
    doc = ingested.docs["three.tif"]
    assert doc.page_count == 3
    assert [p.number for p in doc.pages] == [1, 2, 3]
    for page, sheet in zip(doc.pages, SHEETS, strict=True):
        assert sheet in page.text
        assert [s for s in SHEETS if s in page.text] == [sheet]
        assert found_ratio(page.text, sheet_lines(sheet)) >= 0.8


def test_same_bytes_again_are_a_duplicate(ingested: Ingested, tmp_path: Path) -> None:
    before = count_rows(ingested.settings)
    again = tmp_path / "again"
    again.mkdir()
    shutil.copy(ingested.folder / "born.pdf", again / "born-rescan.pdf")
    shutil.copy(ingested.folder / "three.tif", again / "three-copy.tif")
    summary = run_batch([again], ingested.settings, workers=1)
    assert not summary.processed
    assert not summary.failed
    assert len(summary.duplicates) == 2
    assert {r.duplicate_of for r in summary.duplicates} == {
        ingested.docs["born.pdf"].id,
        ingested.docs["three.tif"].id,
    }
    assert count_rows(ingested.settings) == before


def test_same_bytes_twice_in_one_batch(tmp_path: Path, own_database: str | None) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    write_text_pdf(folder / "a.pdf", page_lines("twice"))
    shutil.copy(folder / "a.pdf", folder / "b.pdf")
    settings = Settings(home=tmp_path / "data", db=own_database)
    summary = run_batch([folder], settings, workers=1)
    assert count_rows(settings) == (1, 1)
    assert len(summary.processed) == 1
    assert len(summary.duplicates) == 1
    assert summary.pages == 1
