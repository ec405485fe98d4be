"""Export shapes: the draft record of CONTRACTS.md, one JSON object per document."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from migrate.db.models import Document
from migrate.records import DocumentStatus

DRAFT_KEYS = ("patient", "encounters", "diagnoses", "procedures", "medications", "allergies", "issues")
EXPORT_STATUS = {
    DocumentStatus.DONE: "pending_review",
    DocumentStatus.FAILED: "failed",
    DocumentStatus.RECEIVED: "processing",
    DocumentStatus.QUEUED: "processing",
    DocumentStatus.OCR: "processing",
}


def draft_record(doc: Document) -> dict[str, Any]:
    record: dict[str, Any] = {
        "document_id": str(doc.id),
        "status": EXPORT_STATUS.get(DocumentStatus(doc.status), doc.status),
        "source": {
            "path": doc.source_path,
            "sha256": doc.sha256,
            "media_type": doc.media_type,
            "page_count": doc.page_count,
            "ocr_confidence": None if doc.ocr_confidence is None else round(doc.ocr_confidence, 4),
            "pages": [
                {
                    "number": p.number,
                    "text": p.text,
                    "ocr_confidence": None if p.ocr_confidence is None else round(p.ocr_confidence, 4),
                    "source": p.source,
                    "width": p.width,
                    "height": p.height,
                    "dpi": p.dpi,
                    "cleanup": p.cleanup,
                    "flags": p.flags,
                }
                for p in doc.pages
            ],
        },
    }
    if doc.status == DocumentStatus.FAILED:
        record["error"] = doc.error_message or doc.error_code or "failed"
        record["error_code"] = doc.error_code
    draft = doc.draft
    if draft is not None and doc.status == DocumentStatus.DONE:
        record["status"] = draft.status
        record["version"] = draft.version
        for key in DRAFT_KEYS:
            record[key] = draft.data.get(key, [] if key != "patient" else {})
        for key, value in draft.data.items():
            record.setdefault(key, value)
    return record


def iter_drafts(session: Session) -> Iterator[dict[str, Any]]:
    stmt = select(Document).order_by(Document.id).options(selectinload(Document.pages), selectinload(Document.draft))
    for doc in session.scalars(stmt).yield_per(50):
        yield draft_record(doc)
