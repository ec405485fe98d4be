"""One batch of broken files beside good ones, through run_batch: each bad file fails alone."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from migrate.batch import run_batch
from migrate.records import DocumentStatus
from migrate.settings import Settings
from tests.conftest import (
    blank_page,
    noise_page,
    page_lines,
    render_page,
    write_corrupt_pdf,
    write_encrypted_pdf,
    write_png,
    write_png_bomb,
    write_text_pdf,
    write_truncated_pdf,
)
from tests.integration.conftest import documents

# file name -> (error code, a word the one-line message must contain)
BAD = {
    "empty.pdf": ("empty_file", "empty"),
    "truncated.pdf": ("truncated", "truncated"),
    "corrupt.pdf": ("corrupt", "PDF"),
    "locked.pdf": ("encrypted", "password"),
    "photo.pdf": ("extension_mismatch", "extension"),
    "notes.txt": ("unsupported_type", "unsupported"),
    "bomb.png": ("too_large", "limit"),
}


def write_bad_files(folder: Path, phi_lines: list[str] | None = None) -> None:
    """The bad files of ``BAD`` (``phi_lines`` go into the ones that carry text)."""
    text = phi_lines or page_lines("broken")
    (folder / "empty.pdf").write_bytes(b"")
    write_truncated_pdf(folder / "truncated.pdf", text)
    write_corrupt_pdf(folder / "corrupt.pdf")
    write_encrypted_pdf(folder / "locked.pdf", text)
    write_png(folder / "photo.pdf", render_page(["Not a PDF at all"], size_in=(3.0, 1.0)))
    (folder / "notes.txt").write_text("\n".join(text) + "\n", encoding="utf-8")
    write_png_bomb(folder / "bomb.png")


def test_bad_files_fail_alone_and_good_files_are_done(tmp_path: Path) -> None:
    folder = tmp_path / "charts"
    folder.mkdir()
    write_bad_files(folder)
    write_text_pdf(folder / "typed.pdf", page_lines("typed"))
    write_png(folder / "scan.png", render_page(page_lines("scan", 5), size_in=(5.5, 3.0)))
    settings = Settings(home=tmp_path / "data")

    summary = run_batch([folder], settings, workers=1)

    assert {Path(r.path).name for r in summary.processed} == {"typed.pdf", "scan.png"}
    assert not summary.duplicates
    assert {Path(r.path).name: r.error_code for r in summary.failed} == {k: v[0] for k, v in BAD.items()}
    docs = documents(settings)
    assert len(docs) == len(BAD) + 2
    for name, (code, word) in BAD.items():
        doc = docs[name]
        assert doc.status == DocumentStatus.FAILED
        assert doc.error_code == code
        assert doc.error_message and "\n" not in doc.error_message
        assert word.lower() in doc.error_message.lower()
        assert doc.pages == []
    for name in ("typed.pdf", "scan.png"):
        assert docs[name].status == DocumentStatus.DONE
        assert len(docs[name].pages) == docs[name].page_count == 1
        assert docs[name].pages[0].text


@pytest.mark.parametrize("kind", ["noise", "blank"])
def test_page_ocr_cannot_read_is_kept_and_flagged(tmp_path: Path, kind: str) -> None:
    page = tmp_path / f"{kind}.png"
    write_png(page, noise_page() if kind == "noise" else blank_page())
    settings = Settings(home=tmp_path / "data")
    summary = run_batch([page], settings, workers=1)
    assert [r.status for r in summary.results] == [DocumentStatus.DONE]
    doc = documents(settings)[page.name]
    assert doc.status == DocumentStatus.DONE
    assert doc.error_code is None
    (stored,) = doc.pages
    assert stored.flags == ["unreadable" if kind == "noise" else "blank"]
    # Tesseract may still report a stray character with no confidence in pure noise.
    assert stored.confidence is None or stored.confidence < Settings().unreadable_confidence
    assert not re.search(r"[A-Za-z]{3}", stored.text)
