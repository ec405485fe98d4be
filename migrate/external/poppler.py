"""Poppler (pdfinfo, pdftoppm via pdf2image, pdfimages, pdftotext, pdfseparate, pdfunite)."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from pdf2image import convert_from_path, pdfinfo_from_path
from pdf2image.exceptions import PDFInfoNotInstalledError, PDFPageCountError, PDFPopplerTimeoutError

from migrate.errors import CorruptFile, EncryptedPdf, MissingDependency, ToolFailed

TIMEOUT_S = 120


def _require(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        raise MissingDependency(f"{tool} is not installed; run `make run` or `apt-get install poppler-utils`")
    return path


def _run(args: list[str], *, timeout: int = TIMEOUT_S) -> subprocess.CompletedProcess[bytes]:
    exe = _require(args[0])
    try:
        return subprocess.run([exe, *args[1:]], capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as e:
        raise ToolFailed(f"{args[0]} timed out after {timeout} s") from e


def _first_error(stderr: str) -> str:
    for line in stderr.splitlines():
        line = line.strip()
        if line:
            return line[:160]
    return "unknown error"


@dataclass(frozen=True, slots=True)
class PdfInfo:
    pages: int
    page_sizes_pt: tuple[tuple[float, float], ...]  # (width, height) per page, rotation applied


_SIZE = re.compile(r"([\d.]+)\s*x\s*([\d.]+)\s*pts")


def info(path: Path) -> PdfInfo:
    """Page count and sizes; encrypted and unreadable PDFs become document errors."""
    try:
        first = pdfinfo_from_path(str(path), timeout=TIMEOUT_S)
        count = int(first.get("Pages", 0))
        if count < 1:
            raise CorruptFile("PDF has no pages")
        detail = pdfinfo_from_path(str(path), timeout=TIMEOUT_S, first_page=1, last_page=count)
    except PDFInfoNotInstalledError as e:
        raise MissingDependency("pdfinfo is not installed; run `make run` or `apt-get install poppler-utils`") from e
    except PDFPopplerTimeoutError as e:
        raise ToolFailed("pdfinfo timed out") from e
    except PDFPageCountError as e:
        message = str(e)
        if "password" in message.lower():
            raise EncryptedPdf("PDF is password-protected; ask for an unprotected copy") from e
        raise CorruptFile(f"unreadable PDF: {_first_error(message)}") from e
    sizes: list[tuple[float, float]] = []
    for n in range(1, count + 1):
        size = detail.get(f"Page {n:4d} size") or detail.get(f"Page {n} size")
        rot = str(detail.get(f"Page {n:4d} rot") or detail.get(f"Page {n} rot") or "0")
        m = _SIZE.search(str(size or first.get("Page size", "")))
        w, h = (float(m.group(1)), float(m.group(2))) if m else (612.0, 792.0)
        if rot.strip() in {"90", "270"}:
            w, h = h, w
        sizes.append((w, h))
    return PdfInfo(pages=count, page_sizes_pt=tuple(sizes))


def _image_rows(path: Path, page: int) -> list[list[str]] | None:
    """`pdfimages -list` rows of one page, or None when poppler cannot list it."""
    proc = _run(["pdfimages", "-list", "-f", str(page), "-l", str(page), str(path)])
    if proc.returncode != 0:
        return None
    return [ln.split() for ln in proc.stdout.decode("utf-8", "replace").splitlines()[2:] if ln.strip()]


def page_image(path: Path, page: int) -> tuple[np.ndarray | None, int | None]:
    """The page's scan as stored in the PDF, and its resolution.

    When the page is exactly one upright full-page image, that image is copied out (JPEG as it
    is): ~25x faster than rendering the page, with the same pixels. Anything less simple (several
    images, a rotated page or placement, vector content on top) gives no image, only the scan's
    resolution when there is one image, so the caller renders the page at that resolution.
    """
    rows = _image_rows(path, page)
    if not rows or len(rows) != 1 or len(rows[0]) < 14 or rows[0][2] != "image":
        return None, None
    try:
        width, height = int(rows[0][3]), int(rows[0][4])
        xppi, yppi = float(rows[0][12]), float(rows[0][13])
    except ValueError:
        return None, None
    dpi = round((xppi + yppi) / 2)
    details = _run(["pdfinfo", "-f", str(page), "-l", str(page), str(path)])
    if details.returncode != 0:
        return None, dpi
    text = details.stdout.decode("utf-8", "replace")
    size = _SIZE.search(text)
    rot = re.search(r"Page\s+\d+\s+rot:\s*(\d+)", text)
    if size is None or (rot and rot.group(1) != "0"):
        return None, dpi
    page_w, page_h = float(size.group(1)), float(size.group(2))
    fits = abs(width / xppi * 72 - page_w) < page_w * 0.02 and abs(height / yppi * 72 - page_h) < page_h * 0.02
    if not fits or abs(xppi - yppi) > 1:
        return None, dpi
    with tempfile.TemporaryDirectory(prefix="cm-img-") as tmp:
        proc = _run(["pdfimages", "-j", "-f", str(page), "-l", str(page), str(path), str(Path(tmp) / "img")])
        files = sorted(Path(tmp).iterdir())
        if proc.returncode != 0 or len(files) != 1:
            return None, dpi
        gray = cv2.imread(str(files[0]), cv2.IMREAD_GRAYSCALE)
    if gray is None or gray.shape != (height, width) or float(gray.mean()) < 100:
        return None, dpi  # unreadable, or likely drawn inverted through a decode array: render instead
    return gray, dpi


def render(path: Path, page: int, dpi: int) -> np.ndarray:
    """One page as a grayscale array; only this page is ever in memory."""
    try:
        images = convert_from_path(
            str(path), dpi=dpi, first_page=page, last_page=page, grayscale=True, timeout=TIMEOUT_S
        )
    except PDFPopplerTimeoutError as e:
        raise ToolFailed(f"rendering page {page} timed out") from e
    except (PDFPageCountError, PDFInfoNotInstalledError) as e:
        raise CorruptFile(f"page {page} could not be rendered") from e
    if not images:
        raise CorruptFile(f"page {page} could not be rendered")
    img = images[0]
    arr = np.asarray(img.convert("L"))
    img.close()
    return arr


@dataclass(frozen=True, slots=True)
class TextWord:
    text: str
    box_pt: tuple[float, float, float, float]
    block: int
    line: int
    number: int


def text_layer(path: Path, page: int) -> tuple[float, float, list[TextWord]]:
    """The page's own text layer (page width and height in points, words in reading order)."""
    proc = _run(["pdftotext", "-q", "-f", str(page), "-l", str(page), "-bbox-layout", str(path), "-"])
    if proc.returncode != 0:
        return 0.0, 0.0, []
    raw = proc.stdout.decode("utf-8", "replace")
    raw = re.sub(r"<!DOCTYPE[^>]*>", "", raw)
    try:
        root = ET.fromstring(raw)
    except ET.ParseError:
        return 0.0, 0.0, []
    ns = {"x": "http://www.w3.org/1999/xhtml"}
    page_el = root.find(".//x:page", ns)
    if page_el is None:
        return 0.0, 0.0, []
    words: list[TextWord] = []
    for b, block in enumerate(page_el.iter("{http://www.w3.org/1999/xhtml}block"), start=1):
        for ln, line in enumerate(block.iter("{http://www.w3.org/1999/xhtml}line"), start=1):
            for wn, w in enumerate(line.iter("{http://www.w3.org/1999/xhtml}word"), start=1):
                text = (w.text or "").strip()
                if not text:
                    continue
                box = tuple(float(w.get(k, "0")) for k in ("xMin", "yMin", "xMax", "yMax"))
                words.append(TextWord(text, box, b, ln, wn))  # type: ignore[arg-type]
    return float(page_el.get("width", "0")), float(page_el.get("height", "0")), words


def extract_page(path: Path, page: int, out: Path) -> None:
    """Copy one page of a PDF out as its own PDF (keeps a born-digital page as it is)."""
    proc = _run(["pdfseparate", "-f", str(page), "-l", str(page), str(path), str(out)])
    if proc.returncode != 0 or not out.exists():
        raise CorruptFile(f"page {page} could not be copied: {_first_error(proc.stderr.decode('utf-8', 'replace'))}")


def unite(pages: list[Path], out: Path) -> None:
    """Join one-page PDFs into one document PDF."""
    if len(pages) == 1:
        shutil.copyfile(pages[0], out)
        return
    proc = _run(["pdfunite", *map(str, pages), str(out)], timeout=600)
    if proc.returncode != 0:
        raise ToolFailed(f"pdfunite failed: {_first_error(proc.stderr.decode('utf-8', 'replace'))}")
