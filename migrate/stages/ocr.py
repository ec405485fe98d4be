"""OCR one cleaned page: Tesseract's TSV becomes words with boxes; or a PDF's own text layer."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from migrate.external import poppler, tesseract
from migrate.records import Box, Word
from migrate.settings import Settings


def parse_tsv(tsv: str) -> list[Word]:
    """Words in Tesseract's reading order (block, paragraph, line, word)."""
    words: list[Word] = []
    reader = csv.DictReader(io.StringIO(tsv), delimiter="\t", quoting=csv.QUOTE_NONE)
    for row in reader:
        if row.get("level") != "5":
            continue
        text = (row.get("text") or "").strip()
        if not text:
            continue
        try:
            conf = float(row["conf"])
            left, top, width, height = (int(row[k]) for k in ("left", "top", "width", "height"))
            block, par, line, num = (int(row[k]) for k in ("block_num", "par_num", "line_num", "word_num"))
        except (KeyError, TypeError, ValueError):
            continue
        words.append(
            Word(
                text=text,
                confidence=max(0.0, min(1.0, conf / 100.0)),
                box=Box(left, top, left + width, top + height),
                block=block,
                paragraph=par,
                line=line,
                number=num,
            )
        )
    return words


def page_text(words: list[Word]) -> str:
    """Plain text in reading order: one line per OCR line, a blank line between blocks."""
    lines: list[str] = []
    current: list[str] = []
    key: tuple[int, int, int] | None = None
    for w in words:
        k = (w.block, w.paragraph, w.line)
        if key is not None and k != key:
            lines.append(" ".join(current))
            if k[0] != key[0]:
                lines.append("")
            current = []
        current.append(w.text)
        key = k
    if current:
        lines.append(" ".join(current))
    return "\n".join(lines).strip()


def mean_confidence(words: list[Word]) -> float | None:
    """Mean word confidence weighted by word length (a long word misread matters more)."""
    total = sum(len(w.text) for w in words)
    if not total:
        return None
    return sum(w.confidence * len(w.text) for w in words) / total


def ocr_image(image: Path, dpi: int, settings: Settings) -> tuple[list[Word], bytes]:
    out = tesseract.ocr(image, dpi=dpi, lang=settings.ocr_lang, psm=settings.ocr_psm, timeout_s=settings.ocr_timeout_s)
    return parse_tsv(out.tsv), out.pdf


def usable_text_layer(pdf: Path, number: int, dpi: int, settings: Settings) -> list[Word] | None:
    """Words of a born-digital page in image pixels at ``dpi``, or None when the layer can't be trusted."""
    width_pt, _height_pt, found = poppler.text_layer(pdf, number)
    text = "".join(w.text for w in found)
    if len(text) < settings.min_text_layer_chars or not width_pt:
        return None
    readable = sum(c.isalnum() for c in text) / len(text)
    if readable < 0.6:  # a broken font encoding gives symbols, not words
        return None
    scale = dpi / 72.0
    return [
        Word(
            text=w.text,
            confidence=1.0,
            box=Box(*(round(v * scale) for v in w.box_pt)),
            block=w.block,
            paragraph=1,
            line=w.line,
            number=w.number,
        )
        for w in found
    ]
