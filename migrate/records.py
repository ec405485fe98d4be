"""The spine: frozen values passed from stage to stage (picklable, no sessions or open files)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path


class DocumentStatus(StrEnum):
    RECEIVED = "received"
    QUEUED = "queued"  # its pages wait in the worker queue (ingest --queue)
    OCR = "ocr"
    DONE = "done"
    FAILED = "failed"


class DraftStatus(StrEnum):
    PENDING_REVIEW = "pending_review"
    IN_REVIEW = "in_review"
    QUERY = "query"
    VERIFIED = "verified"
    REJECTED = "rejected"


class MediaType(StrEnum):
    PDF = "application/pdf"
    TIFF = "image/tiff"
    PNG = "image/png"
    JPEG = "image/jpeg"


class PageSource(StrEnum):
    OCR = "ocr"
    TEXT_LAYER = "text_layer"


@dataclass(frozen=True, slots=True)
class Box:
    """A rectangle in pixels of the stored page image: left, top, right, bottom."""

    x0: int
    y0: int
    x1: int
    y1: int

    def as_list(self) -> list[int]:
        return [self.x0, self.y0, self.x1, self.y1]


@dataclass(frozen=True, slots=True)
class Word:
    text: str
    confidence: float  # 0..1
    box: Box
    block: int
    paragraph: int
    line: int
    number: int  # word number within its line


@dataclass(frozen=True, slots=True)
class Cleanup:
    """What clean-up did to one page, recorded so a reviewer (and a benchmark) can see why."""

    orientation: int = 0  # degrees turned clockwise to make the page upright (0/90/180/270)
    orientation_method: str = "none"  # heuristic | osd | none
    orientation_confidence: float = 0.0
    skew: float = 0.0  # degrees rotated counter-clockwise to straighten lines
    steps: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, object]:
        return {
            "orientation": self.orientation,
            "orientation_method": self.orientation_method,
            "orientation_confidence": round(self.orientation_confidence, 3),
            "skew": round(self.skew, 2),
            "steps": list(self.steps),
        }


@dataclass(frozen=True, slots=True)
class FieldValue:
    """One extracted value with how sure we are and where on which page it was read."""

    value: str | int | float | bool
    confidence: float  # 0..1: OCR word confidence times how certain the rule was
    page: int | None = None
    bbox: Box | None = None
    rule: str = ""  # which rule produced it (shown to the reviewer; kept for audit)

    def as_dict(self) -> dict[str, object]:
        return {
            "value": self.value,
            "confidence": round(self.confidence, 3),
            "page": self.page,
            "bbox": self.bbox.as_list() if self.bbox else None,
            "rule": self.rule,
        }


@dataclass(frozen=True, slots=True)
class PageTask:
    """One page of one stored document, ready to be processed anywhere."""

    document_id: int
    sha256: str
    number: int  # from 1
    blob_path: Path
    media_type: MediaType

    @property
    def label(self) -> str:
        """How logs and errors name this page: never by anything a patient could be known by."""
        return f"document {self.document_id} ({self.sha256[:12]}) page {self.number}"


@dataclass(frozen=True, slots=True)
class OcrPage:
    number: int
    width: int
    height: int
    dpi: int
    source: PageSource
    image_sha256: str
    pdf_sha256: str | None
    cleanup: Cleanup
    words: tuple[Word, ...]
    text: str
    confidence: float | None  # mean word confidence 0..1; None when no words
    flags: tuple[str, ...] = ()
    seconds: float = 0.0


@dataclass(frozen=True, slots=True)
class PageOutcome:
    """What a worker reports back after a page task: stored already, or the document's failure."""

    document_id: int
    number: int
    stored: bool
    confidence: float | None = None
    flags: tuple[str, ...] = ()
    error_code: str | None = None
    error_message: str | None = None
    seconds: float = 0.0


@dataclass(frozen=True, slots=True)
class DocumentResult:
    document_id: int | None
    path: str
    sha256: str | None
    status: str  # done | failed | duplicate
    pages: int = 0
    confidence: float | None = None
    error_code: str | None = None
    error_message: str | None = None
    duplicate_of: int | None = None


@dataclass(slots=True)
class BatchSummary:
    results: list[DocumentResult] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def processed(self) -> list[DocumentResult]:
        return [r for r in self.results if r.status == DocumentStatus.DONE]

    @property
    def failed(self) -> list[DocumentResult]:
        return [r for r in self.results if r.status == DocumentStatus.FAILED]

    @property
    def duplicates(self) -> list[DocumentResult]:
        return [r for r in self.results if r.status == "duplicate"]

    @property
    def pages(self) -> int:
        return sum(r.pages for r in self.processed)

    @property
    def mean_confidence(self) -> float | None:
        vals = [r.confidence for r in self.processed if r.confidence is not None]
        return sum(vals) / len(vals) if vals else None
