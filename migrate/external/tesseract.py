"""Tesseract through pytesseract: OCR (TSV words + searchable PDF page in one run) and OSD."""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytesseract
from pytesseract import TesseractError, TesseractNotFoundError

from migrate.errors import MissingDependency, ToolFailed


def single_threaded() -> None:
    """Turn Tesseract's own OpenMP threading off in this process and its children.

    Parallelism comes from our worker processes; OpenMP threads on top only contend
    (measured: on 2 cores a page OCRs faster with one thread than with the default).
    """
    os.environ["OMP_THREAD_LIMIT"] = "1"


@cache
def version() -> str:
    try:
        return str(pytesseract.get_tesseract_version())
    except (TesseractNotFoundError, OSError) as e:
        raise MissingDependency(
            "tesseract is not installed; run `make run` or `apt-get install tesseract-ocr tesseract-ocr-eng`"
        ) from e


@cache
def languages() -> frozenset[str]:
    return frozenset(pytesseract.get_languages(config=""))


def require(lang: str) -> None:
    version()
    missing = set(lang.split("+")) - languages()
    if missing:
        raise MissingDependency(
            f"tesseract language data missing: {', '.join(sorted(missing))}; install tesseract-ocr-<lang>"
        )


@dataclass(frozen=True, slots=True)
class OcrOutput:
    tsv: str
    pdf: bytes


def _short(err: TesseractError) -> str:
    # Tesseract's messages can quote paths of temporary files: keep the gist only.
    text = " ".join(str(err.message).split())
    return text[:160] or f"exit status {err.status}"


def ocr(image: Path, *, dpi: int, lang: str, psm: int, timeout_s: int) -> OcrOutput:
    """One Tesseract run for a page image: word boxes with confidences (TSV) and the PDF page."""
    with tempfile.TemporaryDirectory(prefix="cm-ocr-") as tmp:
        base = str(Path(tmp) / "page")
        config = f"--dpi {dpi} --psm {psm} -c tessedit_create_tsv=1"
        try:
            pytesseract.pytesseract.run_tesseract(
                str(image), base, extension="pdf", lang=lang, config=config, timeout=timeout_s
            )
        except TesseractNotFoundError as e:
            raise MissingDependency("tesseract is not installed") from e
        except TesseractError as e:
            raise ToolFailed(f"tesseract failed: {_short(e)}") from e
        except RuntimeError as e:  # pytesseract's timeout
            raise ToolFailed(f"tesseract timed out after {timeout_s} s") from e
        try:
            tsv = Path(base + ".tsv").read_text(encoding="utf-8", errors="replace")
            pdf = Path(base + ".pdf").read_bytes()
        except FileNotFoundError as e:
            raise ToolFailed("tesseract produced no output") from e
    return OcrOutput(tsv=tsv, pdf=pdf)


@dataclass(frozen=True, slots=True)
class Orientation:
    rotate: int  # degrees to turn clockwise to make the page upright
    confidence: float


_ROTATE = re.compile(r"Rotate:\s*(\d+)")
_CONF = re.compile(r"Orientation confidence:\s*([\d.]+)")


def detect_orientation(image: Path, *, timeout_s: int = 60) -> Orientation | None:
    """Tesseract OSD; None when the page has too little text to tell."""
    with tempfile.TemporaryDirectory(prefix="cm-osd-") as tmp:
        base = str(Path(tmp) / "osd")
        try:
            pytesseract.pytesseract.run_tesseract(
                str(image), base, extension="osd", lang="osd", config="--psm 0", timeout=timeout_s
            )
            text = Path(base + ".osd").read_text(encoding="utf-8", errors="replace")
        except TesseractNotFoundError as e:
            raise MissingDependency("tesseract is not installed") from e
        except (TesseractError, RuntimeError, FileNotFoundError):
            return None  # too few characters, or OSD data missing: the caller keeps its own guess
    rot, conf = _ROTATE.search(text), _CONF.search(text)
    if not rot:
        return None
    return Orientation(rotate=int(rot.group(1)) % 360, confidence=float(conf.group(1)) if conf else 0.0)
