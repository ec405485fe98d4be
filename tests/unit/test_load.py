"""stages.load: pages are counted and bombs refused from headers, before any pixel is decoded."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from PIL import Image

from migrate.errors import DecompressionBomb, DocumentError
from migrate.records import MediaType
from migrate.settings import Settings
from migrate.stages.load import count_pages, load_page
from tests.conftest import page_lines, render_page, text_pdf_bytes, write_png, write_png_bomb, write_tiff


@pytest.fixture(autouse=True)
def _restore_pillow_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    # load._open_image sets this process-wide; keep other tests' Pillow defaults intact
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", Image.MAX_IMAGE_PIXELS)


def test_png_bomb_is_refused_from_its_header(tmp_path: Path, settings: Settings) -> None:
    bomb = write_png_bomb(tmp_path / "bomb.png")
    assert bomb.stat().st_size < 200  # 40000 x 40000 claimed by a file of a few bytes
    started = time.perf_counter()
    with pytest.raises(DecompressionBomb, match="limit"):
        count_pages(bomb, MediaType.PNG, settings)
    with pytest.raises(DecompressionBomb):
        load_page(bomb, MediaType.PNG, 1, settings)
    assert time.perf_counter() - started < 2.0  # 1.6 gigapixels were never allocated


def test_image_just_over_the_limit_is_a_bomb_not_a_warning(tmp_path: Path, settings: Settings) -> None:
    small_limit = settings.model_copy(update={"max_page_pixels": 10_000})
    img = write_png(tmp_path / "page.png", Image.new("L", (120, 100), 255))  # 12,000 px: Pillow only warns
    with pytest.raises(DecompressionBomb):
        count_pages(img, MediaType.PNG, small_limit)


def test_pdf_page_too_large_to_render_is_a_bomb(tmp_path: Path, settings: Settings) -> None:
    pdf = tmp_path / "poster.pdf"
    pdf.write_bytes(text_pdf_bytes(["Huge page"]).replace(b"/MediaBox [0 0 612 792]", b"/MediaBox [0 0 9000 9000]"))
    with pytest.raises(DecompressionBomb, match="page 1"):
        count_pages(pdf, MediaType.PDF, settings)


def test_multipage_tiff_is_counted_and_loaded_page_by_page(tmp_path: Path, settings: Settings) -> None:
    pages = [render_page(page_lines(str(i), 3), size_in=(3.0, 2.0 + i)) for i in range(3)]
    tif = write_tiff(tmp_path / "three.tif", pages)
    assert count_pages(tif, MediaType.TIFF, settings) == 3
    for n, page in enumerate(pages, start=1):
        loaded = load_page(tif, MediaType.TIFF, n, settings)
        assert loaded.gray.shape == (page.height, page.width)
        assert loaded.dpi == 150


@pytest.mark.filterwarnings("ignore:Corrupt EXIF data:UserWarning")
def test_truncated_multipage_tiff_is_a_document_error(tmp_path: Path, settings: Settings) -> None:
    tif = write_tiff(tmp_path / "three.tif", [render_page(page_lines(str(i), 4), size_in=(3, 2)) for i in range(3)])
    data = tif.read_bytes()
    cut = tmp_path / "cut.tif"
    cut.write_bytes(data[: len(data) * 6 // 10])
    with pytest.raises(DocumentError):
        count_pages(cut, MediaType.TIFF, settings)
