"""Shared fixtures: settings in a temporary data folder, and generators of small synthetic scans.

Every resource is generated at test time (see ``tests/resources/README.md``); nothing here
mocks Tesseract, Poppler or SQLite.
"""

from __future__ import annotations

import io
import os
import re
import struct
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from migrate.settings import Settings

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
LETTER_IN = (8.5, 11.0)

# Clinical-looking lines with distinctive words Tesseract reads well at 150 dpi and ~16 pt.
CHART_LINES = [
    "RIVERSIDE CLINIC PROGRESS NOTE",
    "Reason for visit: persistent cough",
    "History: hypertension and asthma",
    "Medication: lisinopril daily",
    "Allergies: penicillin causes hives",
    "Examination: lungs clear bilaterally",
    "Assessment: bronchitis improving",
    "Plan: continue inhaler as needed",
    "Referral to cardiology next month",
    "Signed by attending physician",
]


def page_lines(tag: str, n: int = 10) -> list[str]:
    """Chart lines with a first line that makes the page's bytes (and text) unique."""
    return [f"Chart page {tag}", *CHART_LINES[: n - 1]]


def words_of(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9]+", text.lower()))


def distinctive(lines: Sequence[str]) -> set[str]:
    """The words of five letters or more on a page: what OCR must find again."""
    return {w for w in words_of(" ".join(lines)) if len(w) >= 5 and w.isalpha()}


def found_ratio(text: str, lines: Sequence[str]) -> float:
    expected = distinctive(lines)
    return len(expected & words_of(text)) / len(expected)


# --------------------------------------------------------------------------------------------
# Settings
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="session", autouse=True)
def _clean_environment() -> Iterator[None]:
    """No CHARTMIGRATE_* variable from the caller's shell may steer a test (e.g. a real database)."""
    with pytest.MonkeyPatch.context() as mp:
        for key in list(os.environ):
            if key.startswith("CHARTMIGRATE_"):
                mp.delenv(key)
        yield


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "data")


def cli_env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHARTMIGRATE_")}
    env["CHARTMIGRATE_HOME"] = str(home)
    env.update(extra)
    return env


# --------------------------------------------------------------------------------------------
# Page images
# --------------------------------------------------------------------------------------------


def render_page(
    lines: Sequence[str],
    *,
    dpi: int = 150,
    font_size: float = 16,
    skew: float = 0,
    orientation: int = 0,
    noise: float = 0,
    size_in: tuple[float, float] = LETTER_IN,
    seed: int = 0,
) -> Image.Image:
    """A grayscale page with ``lines`` of DejaVu Sans (``font_size`` in points).

    ``skew``: the page is then rotated counter-clockwise by this many degrees (as a crooked feed).
    ``orientation``: then turned counter-clockwise by this quarter turn (0/90/180/270), so it takes
    ``orientation`` degrees clockwise to make it upright again.
    ``noise``: standard deviation of Gaussian pixel noise added last.
    """
    w, h = round(size_in[0] * dpi), round(size_in[1] * dpi)
    img = Image.new("L", (w, h), 255)
    draw = ImageDraw.Draw(img)
    font = ImageFont.truetype(FONT, round(font_size * dpi / 72))
    x = y = round(0.75 * dpi)
    step = round(font_size * dpi / 72 * 1.7)
    for line in lines:
        draw.text((x, y), line, fill=0, font=font)
        y += step
    if skew:
        img = img.rotate(skew, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=255)
    turns = {
        0: None,
        90: Image.Transpose.ROTATE_90,
        180: Image.Transpose.ROTATE_180,
        270: Image.Transpose.ROTATE_270,
    }
    if turns[orientation] is not None:
        img = img.transpose(turns[orientation])
    if noise:
        rng = np.random.default_rng(seed)
        arr = np.asarray(img, dtype=np.float64) + rng.normal(0, noise, (img.height, img.width))
        img = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
    img.info["dpi"] = (dpi, dpi)
    return img


def noise_page(*, dpi: int = 150, size_in: tuple[float, float] = (5.0, 4.0), seed: int = 1) -> Image.Image:
    """Salt-and-pepper speckle: ink everywhere, no letters (a page OCR cannot read)."""
    rng = np.random.default_rng(seed)
    w, h = round(size_in[0] * dpi), round(size_in[1] * dpi)
    arr = np.where(rng.random((h, w)) < 0.5, 0, 255).astype(np.uint8)
    return Image.fromarray(arr)


def blank_page(*, dpi: int = 150, size_in: tuple[float, float] = (5.0, 4.0)) -> Image.Image:
    return Image.new("L", (round(size_in[0] * dpi), round(size_in[1] * dpi)), 255)


# --------------------------------------------------------------------------------------------
# Files
# --------------------------------------------------------------------------------------------


def write_png(path: Path, img: Image.Image, dpi: int = 150) -> Path:
    img.save(path, format="PNG", dpi=(dpi, dpi))
    return path


def write_jpeg(path: Path, img: Image.Image, dpi: int = 150) -> Path:
    img.save(path, format="JPEG", quality=90, dpi=(dpi, dpi))
    return path


def write_tiff(path: Path, imgs: Sequence[Image.Image], dpi: int = 150) -> Path:
    first, *rest = imgs
    first.save(path, format="TIFF", save_all=True, append_images=rest, compression="tiff_deflate", dpi=(dpi, dpi))
    return path


def write_image_pdf(path: Path, imgs: Sequence[Image.Image], dpi: int = 150) -> Path:
    """A scanned-looking PDF: each page one embedded image, no text layer."""
    first, *rest = (i.convert("L") for i in imgs)
    first.save(path, format="PDF", save_all=True, append_images=rest, resolution=float(dpi))
    return path


def text_pdf_bytes(lines: Sequence[str], *, font_size: int = 14) -> bytes:
    """A born-digital one-page letter PDF with a real text layer (Helvetica), written by hand."""

    def esc(s: str) -> str:
        return s.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")

    ops = [f"BT /F1 {font_size} Tf {int(font_size * 1.5)} TL 72 720 Td"]
    for i, line in enumerate(lines):
        ops.append(f"({esc(line)}) Tj" if i == 0 else f"T* ({esc(line)}) Tj")
    ops.append("ET")
    stream = "\n".join(ops).encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
        b"/Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for n, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % n + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for off in offsets:
        out.write(b"%010d 00000 n \n" % off)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref))
    return out.getvalue()


def write_text_pdf(path: Path, lines: Sequence[str]) -> Path:
    path.write_bytes(text_pdf_bytes(lines))
    return path


def write_encrypted_pdf(path: Path, lines: Sequence[str], password: str = "secret") -> Path:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(text_pdf_bytes(lines))))
    writer.encrypt(password)
    with path.open("wb") as f:
        writer.write(f)
    return path


def write_png_bomb(path: Path, width: int = 40_000, height: int = 40_000) -> Path:
    """A real, tiny PNG whose header is patched to claim ``width`` x ``height`` pixels (CRC fixed)."""
    buf = io.BytesIO()
    Image.new("L", (8, 8), 255).save(buf, format="PNG")
    data = bytearray(buf.getvalue())
    assert data[12:16] == b"IHDR"
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    path.write_bytes(bytes(data))
    return path


def write_corrupt_pdf(path: Path, seed: int = 3) -> Path:
    rng = np.random.default_rng(seed)
    path.write_bytes(b"%PDF-1.7\n" + rng.bytes(4000).replace(b"%%EOF", b"xxxxx") + b"\n%%EOF\n")
    return path


def write_truncated_pdf(path: Path, lines: Sequence[str]) -> Path:
    data = text_pdf_bytes(lines)
    path.write_bytes(data[: len(data) // 2])
    return path
