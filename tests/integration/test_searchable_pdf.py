"""The searchable PDF of a document: one page per scanned page, with the OCR text selectable."""

from __future__ import annotations

import subprocess
from pathlib import Path

import cv2
from sqlalchemy import select

from migrate.db.models import OcrWord, Page
from migrate.db.session import session_factory
from migrate.settings import Settings
from migrate.storage import BlobStore
from tests.conftest import found_ratio, page_lines, render_page, write_image_pdf, write_text_pdf
from tests.integration.conftest import documents, run_cli


def _pdf_pages(path: Path) -> int:
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True).stdout
    return int(next(line.split()[-1] for line in info.splitlines() if line.startswith("Pages:")))


def _pdf_text(path: Path, page: int) -> str:
    return subprocess.run(
        ["pdftotext", "-f", str(page), "-l", str(page), str(path), "-"], capture_output=True, text=True, check=True
    ).stdout


def test_scanned_and_born_digital_documents_export_searchable_pdfs(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    scanned = [page_lines("searchable one", 8), page_lines("searchable two", 8)]
    # The second page arrives upside down: its PDF page must be the corrected, readable one.
    images = [render_page(scanned[0], skew=4), render_page(scanned[1], orientation=180)]
    write_image_pdf(folder / "scan.pdf", images)
    born = page_lines("typed letter", 8)
    write_text_pdf(folder / "letter.pdf", born)
    home = tmp_path / "data"

    ingest = run_cli(home, "ingest", str(folder), "--workers", "1")
    assert ingest.returncode == 0, ingest.stderr
    docs = documents(Settings(home=home))

    out = tmp_path / "scan-searchable.pdf"
    r = run_cli(home, "export", "pdf", str(docs["scan.pdf"].id), "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert _pdf_pages(out) == 2
    for number, lines in enumerate(scanned, start=1):
        assert found_ratio(_pdf_text(out, number), lines) >= 0.8

    letter = tmp_path / "letter-searchable.pdf"
    r = run_cli(home, "export", "pdf", str(docs["letter.pdf"].id), "--out", str(letter))
    assert r.returncode == 0, r.stderr
    assert _pdf_pages(letter) == 1
    assert found_ratio(_pdf_text(letter, 1), born) >= 0.9


def test_stored_page_images_are_the_corrected_pages(tmp_path: Path) -> None:
    """Word boxes refer to the stored image: the upright page, so its words read left to right."""
    lines = page_lines("boxes", 6)
    path = write_image_pdf(tmp_path / "turned.pdf", [render_page(lines, orientation=90)])
    settings = Settings(home=tmp_path / "data")
    r = run_cli(settings.home, "ingest", str(path), "--workers", "1")
    assert r.returncode == 0, r.stderr

    with session_factory(settings.database_url)() as session:
        page = session.scalars(select(Page)).one()
        words = list(session.scalars(select(OcrWord).where(OcrWord.page_id == page.id).order_by(OcrWord.seq)))
        image = BlobStore(settings.blob_dir).path(page.image_sha256)
        session.expunge_all()

    stored = cv2.imread(str(image), cv2.IMREAD_GRAYSCALE)
    assert stored is not None
    assert stored.shape == (page.height, page.width)
    assert page.width < page.height  # a letter page turned upright is portrait again
    assert page.cleanup["orientation"] == 90
    assert words, "no words stored"
    for w in words:
        assert 0 <= w.x0 < w.x1 <= page.width and 0 <= w.y0 < w.y1 <= page.height
    first_line = [
        w for w in words if (w.block, w.paragraph, w.line) == (words[0].block, words[0].paragraph, words[0].line)
    ]
    assert [w.x0 for w in first_line] == sorted(w.x0 for w in first_line)  # upright: left to right
    assert any(w.text.lower() == "chart" for w in first_line)
