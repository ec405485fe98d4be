"""Repository functions: the only place spine values become ORM rows and back."""

from __future__ import annotations

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from migrate.db.models import Document, Draft, OcrWord, Page, utcnow
from migrate.records import DocumentStatus, OcrPage


def stored_page_numbers(session: Session, document_id: int) -> set[int]:
    return set(session.scalars(select(Page.number).where(Page.document_id == document_id)))


def stored_page_count(session: Session, document_id: int) -> int:
    return int(session.scalar(select(func.count(Page.id)).where(Page.document_id == document_id)) or 0)


def save_page(session: Session, document_id: int, page: OcrPage) -> bool:
    """Store a page and its words in one transaction; False if the page was already stored.

    The (document, number) unique constraint is what keeps a page from being stored twice when
    a task is delivered twice or two runs overlap.
    """
    row = Page(
        document_id=document_id,
        number=page.number,
        width=page.width,
        height=page.height,
        dpi=page.dpi,
        source=page.source.value,
        image_sha256=page.image_sha256,
        pdf_sha256=page.pdf_sha256,
        cleanup=page.cleanup.as_dict(),
        text=page.text,
        ocr_confidence=page.confidence,
        flags=list(page.flags),
        seconds=round(page.seconds, 3),
    )
    session.add(row)
    try:
        session.flush()
        if page.words:
            # One executemany for a page's few hundred words (ORM objects cost ~10x more here).
            session.execute(
                insert(OcrWord),
                [
                    {
                        "page_id": row.id,
                        "seq": i,
                        "text": w.text,
                        "confidence": round(w.confidence, 4),
                        "x0": w.box.x0,
                        "y0": w.box.y0,
                        "x1": w.box.x1,
                        "y1": w.box.y1,
                        "block": w.block,
                        "paragraph": w.paragraph,
                        "line": w.line,
                        "word": w.number,
                    }
                    for i, w in enumerate(page.words)
                ],
            )
        session.commit()
    except IntegrityError:
        session.rollback()
        return False
    return True


def set_status(
    session: Session,
    document_id: int,
    status: DocumentStatus,
    *,
    error_code: str | None = None,
    error_message: str | None = None,
) -> None:
    doc = session.get(Document, document_id)
    if doc is None:
        return
    doc.status = status.value
    doc.error_code = error_code
    doc.error_message = error_message
    doc.updated_at = utcnow()
    session.commit()


def document_confidence(session: Session, document_id: int) -> float | None:
    value = session.scalar(
        select(func.avg(Page.ocr_confidence)).where(Page.document_id == document_id, Page.ocr_confidence.is_not(None))
    )
    return float(value) if value is not None else None


def bump_draft_version(session: Session, document_id: int) -> None:
    """A draft changed: its version goes up by one in SQL, so concurrent saves lose no increment
    (the review UI's optimistic concurrency compares against it)."""
    session.execute(
        update(Draft).where(Draft.document_id == document_id).values(version=Draft.version + 1, updated_at=utcnow())
    )
