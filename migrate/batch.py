"""A batch: discover files -> intake (store, dedupe, check) -> page tasks fanned out -> summary."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from migrate import pipeline
from migrate.db import repo
from migrate.db.models import Batch, Document, Draft, utcnow
from migrate.db.session import migrate_to_head, unit_of_work
from migrate.errors import BadArguments, DocumentError
from migrate.executor import Executor, make_executor
from migrate.external import tesseract
from migrate.filetypes import sniff
from migrate.records import (
    BatchSummary,
    DocumentResult,
    DocumentStatus,
    DraftStatus,
    MediaType,
    PageOutcome,
    PageTask,
)
from migrate.settings import Settings
from migrate.stages.load import count_pages
from migrate.storage import BlobStore, sha256_file

UNKNOWN_MEDIA = "application/octet-stream"
log = logging.getLogger(__name__)


class Observer(Protocol):
    def planned(self, pages: int) -> None: ...
    def page_done(self, outcome: PageOutcome) -> None: ...
    def document_done(self, result: DocumentResult) -> None: ...


class QuietObserver:
    def planned(self, pages: int) -> None:
        pass

    def page_done(self, outcome: PageOutcome) -> None:
        pass

    def document_done(self, result: DocumentResult) -> None:
        pass


def discover(paths: Iterable[Path], exclude: Path | None = None) -> list[Path]:
    """Files named, and files under folders named (recursively), skipping hidden ones; sorted.

    ``exclude`` (our own data folder) is never scanned, even when it lies inside a named folder.
    """
    found: list[Path] = []
    skip = exclude.resolve() if exclude else None
    for path in paths:
        if not path.exists():
            raise BadArguments(f"no such file or folder: {path}")
        if path.is_file():
            found.append(path)
            continue
        for root, dirs, files in os.walk(path):
            if skip is not None and Path(root).resolve().is_relative_to(skip):
                dirs[:] = []
                continue
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            found.extend(Path(root) / f for f in sorted(files) if not f.startswith("."))
    seen: set[Path] = set()
    unique = []
    for f in found:
        key = f.resolve()
        if key not in seen:
            seen.add(key)
            unique.append(f)
    return unique


def prepare(settings: Settings, *, ocr: bool = True) -> None:
    """Create the data folder (owner only), bring the schema up to date, check the OCR tools
    (``ocr=False``: a machine that only queues documents for workers needs none)."""
    settings.home.mkdir(parents=True, exist_ok=True, mode=0o700)
    settings.home.chmod(0o700)
    settings.blob_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    migrate_to_head(settings.database_url)
    if ocr:
        tesseract.require(settings.ocr_lang)


def start_batch(settings: Settings, origin: str, options: dict[str, Any]) -> int:
    with unit_of_work(settings.database_url) as session:
        batch = Batch(origin=origin, options=options)
        session.add(batch)
        session.commit()
        return batch.id


def end_batch(settings: Settings, batch_id: int) -> None:
    with unit_of_work(settings.database_url) as session:
        row = session.get(Batch, batch_id)
        if row is not None:
            row.finished_at = utcnow()
            session.commit()


@dataclass(frozen=True, slots=True)
class Intake:
    document_id: int | None
    result: DocumentResult | None  # set when nothing more is to be done (duplicate or failed)


def intake(path: Path, settings: Settings, batch_id: int | None) -> Intake:
    """Store the original once by its SHA-256 and record the document; check it can be opened."""
    blobs = BlobStore(settings.blob_dir)
    sha = sha256_file(path)
    shown = str(path)
    with unit_of_work(settings.database_url) as session:
        existing = session.scalar(select(Document).where(Document.sha256 == sha))
        if existing is not None:
            if existing.status in (DocumentStatus.DONE, DocumentStatus.FAILED):
                return Intake(
                    existing.id, DocumentResult(existing.id, shown, sha, "duplicate", duplicate_of=existing.id)
                )
            return Intake(existing.id, None)  # an earlier run stopped part-way: resume it
    blobs.put_file(path, sha)
    stored = blobs.path(sha)
    media: str = UNKNOWN_MEDIA
    pages: int | None = None
    error: DocumentError | None = None
    try:
        kind = sniff(path)
        media = kind.value
        pages = count_pages(stored, kind, settings)
    except DocumentError as e:
        error = e
    with unit_of_work(settings.database_url) as session:
        doc = Document(
            sha256=sha,
            source_path=shown,
            media_type=media,
            size_bytes=path.stat().st_size,
            status=(DocumentStatus.FAILED if error else DocumentStatus.RECEIVED).value,
            error_code=error.code if error else None,
            error_message=error.message if error else None,
            page_count=pages,
            batch_id=batch_id,
        )
        session.add(doc)
        try:
            session.commit()
        except IntegrityError:  # the same bytes arrived through another run at the same moment
            session.rollback()
            other = session.scalar(select(Document.id).where(Document.sha256 == sha))
            return Intake(other, DocumentResult(other, shown, sha, "duplicate", duplicate_of=other))
        if error:
            return Intake(
                doc.id, DocumentResult(doc.id, shown, sha, DocumentStatus.FAILED, 0, None, error.code, error.message)
            )
        return Intake(doc.id, None)


def take_in(files: Iterable[Path], settings: Settings, batch_id: int) -> Iterator[tuple[Path, Intake]]:
    """Intake of each file; the same bytes a second time in this batch come back as a duplicate."""
    seen: set[int] = set()
    for f in files:
        taken = intake(f, settings, batch_id)
        if taken.result is None and taken.document_id in seen:
            dup = DocumentResult(taken.document_id, str(f), None, "duplicate", duplicate_of=taken.document_id)
            taken = Intake(taken.document_id, dup)
        elif taken.result is None and taken.document_id is not None:
            seen.add(taken.document_id)
        yield f, taken


def _tasks(doc: Document, settings: Settings, failed: set[int]) -> Iterator[PageTask]:
    blobs = BlobStore(settings.blob_dir)
    with unit_of_work(settings.database_url) as session:
        done = repo.stored_page_numbers(session, doc.id)
    missing = [n for n in range(1, (doc.page_count or 0) + 1) if n not in done]
    for number in missing:
        if doc.id in failed:
            break
        yield PageTask(doc.id, doc.sha256, number, blobs.path(doc.sha256), MediaType(doc.media_type))


def process_documents(
    document_ids: Iterable[int], settings: Settings, executor: Executor, observer: Observer
) -> list[DocumentResult]:
    """Run every missing page of these documents in the executor's workers; when a document's
    last page is in, this process finishes it (searchable PDF + extraction).

    Finishing here rather than in the pool keeps the extraction's dictionaries (ICD-10-CM, drugs:
    ~250 MB) in one process instead of one copy per OCR worker (measured: a 500-page PDF with two
    workers peaked at 2.1 GB of summed RSS with finishing in the workers). ``document_ids`` is read
    lazily, so a batch starts OCR on its first file while later files are still being taken in.
    """
    results: dict[int, DocumentResult] = {}
    failed: set[int] = set()
    remaining: dict[int, int] = {}
    by_id: dict[int, Document] = {}
    planned = 0

    def start(doc_id: int) -> Document | None:
        nonlocal planned
        with unit_of_work(settings.database_url) as session:
            doc = session.get(Document, doc_id)
            if doc is None:
                return None
            remaining[doc.id] = max(0, (doc.page_count or 0) - len(repo.stored_page_numbers(session, doc.id)))
            doc.status = DocumentStatus.OCR.value
            doc.attempts += 1
            doc.updated_at = utcnow()
            session.commit()
        by_id[doc.id] = doc
        planned += remaining[doc.id]
        observer.planned(planned)
        return doc

    def finish(doc_id: int) -> None:
        try:
            result = pipeline.finish_document(doc_id, settings)
        except DocumentError as e:
            fail(doc_id, e.code, e.message)
            return
        except Exception as e:  # a bug in extraction fails this chart (exit 1), not the whole batch
            log.exception("finishing document %s failed", doc_id)  # traceback, no document content
            fail(doc_id, "finish_error", f"could not finish the document ({type(e).__name__}); see the log")
            return
        results[doc_id] = result
        observer.document_done(result)

    def tasks() -> Iterator[PageTask]:
        for doc_id in document_ids:
            doc = start(doc_id)
            if doc is None:
                continue
            if remaining[doc.id] == 0:  # an earlier run stored every page but stopped before finishing
                finish(doc.id)
                continue
            yield from _tasks(doc, settings, failed)

    def fail(doc_id: int, code: str, message: str) -> None:
        failed.add(doc_id)
        with unit_of_work(settings.database_url) as session:
            repo.set_status(session, doc_id, DocumentStatus.FAILED, error_code=code, error_message=message)
        doc = by_id[doc_id]
        result = DocumentResult(
            doc_id, doc.source_path, doc.sha256, DocumentStatus.FAILED.value, 0, None, code, message
        )
        results[doc_id] = result
        observer.document_done(result)

    work = partial(pipeline.process_page, settings=settings)
    for outcome in executor.map_unordered(work, tasks()):
        observer.page_done(outcome)
        doc_id = outcome.document_id
        if outcome.error_code:
            if doc_id not in failed:
                fail(doc_id, outcome.error_code, outcome.error_message or outcome.error_code)
            continue
        if doc_id in failed:
            continue
        remaining[doc_id] -= 1
        if remaining[doc_id] == 0:
            finish(doc_id)
    return [results[d] for d in by_id if d in results]


def run_batch(
    paths: list[Path],
    settings: Settings,
    *,
    workers: int | None = None,
    observer: Observer | None = None,
    origin: str = "ingest",
) -> BatchSummary:
    observer = observer or QuietObserver()
    started = time.perf_counter()
    prepare(settings)
    files = discover(paths, exclude=settings.home)
    n_workers = workers or settings.workers
    batch_id = start_batch(settings, origin, {"workers": n_workers, "files": len(files)})
    summary = BatchSummary()

    def taken_in() -> Iterator[int]:
        for _, taken in take_in(files, settings, batch_id):
            if taken.result is not None:
                summary.results.append(taken.result)
                observer.document_done(taken.result)
            elif taken.document_id is not None:
                yield taken.document_id

    executor = make_executor(n_workers)  # a pool starts its processes only when given work
    try:
        summary.results.extend(process_documents(taken_in(), settings, executor, observer))
    finally:
        executor.close()
    end_batch(settings, batch_id)
    summary.seconds = time.perf_counter() - started
    return summary


def reprocess(
    document_id: int, settings: Settings, *, workers: int = 1, observer: Observer | None = None
) -> DocumentResult:
    """Run one document again from its stored original: pages are rebuilt from scratch."""
    prepare(settings)
    with unit_of_work(settings.database_url) as session:
        doc = session.get(Document, document_id)
        if doc is None:
            raise BadArguments(f"no document with id {document_id}")
        sha = doc.sha256
        stored = BlobStore(settings.blob_dir).path(sha)
        for page in list(doc.pages):
            session.delete(page)
        doc.searchable_pdf_sha256 = None
        doc.ocr_confidence = None
        try:
            kind = sniff(stored, name=doc.source_path)
            doc.page_count = count_pages(stored, kind, settings)
            doc.media_type = kind.value
            doc.status, doc.error_code, doc.error_message = DocumentStatus.RECEIVED.value, None, None
        except DocumentError as e:
            doc.status, doc.error_code, doc.error_message = DocumentStatus.FAILED.value, e.code, e.message
            session.commit()
            return DocumentResult(
                document_id, doc.source_path, sha, DocumentStatus.FAILED.value, 0, None, e.code, e.message
            )
        session.commit()
    executor = make_executor(workers)
    try:
        results = process_documents([document_id], settings, executor, observer or QuietObserver())
    finally:
        executor.close()
    return results[0]


def reextract(document_ids: list[int], settings: Settings) -> tuple[int, int]:
    """Extraction again from stored words, for documents whose draft nobody has started reviewing."""
    prepare(settings)
    done = skipped = 0
    with unit_of_work(settings.database_url) as session:
        stmt = select(Document.id).where(Document.status == DocumentStatus.DONE).order_by(Document.id)
        if document_ids:
            stmt = stmt.where(Document.id.in_(document_ids))
            missing = set(document_ids) - set(session.scalars(select(Document.id).where(Document.id.in_(document_ids))))
            if missing:
                raise BadArguments(f"no document with id {min(missing)}")
        ids = list(session.scalars(stmt))
    skipped += len(set(document_ids) - set(ids)) if document_ids else 0
    for doc_id in ids:
        with unit_of_work(settings.database_url) as session:
            draft = session.scalar(select(Draft).where(Draft.document_id == doc_id))
            if draft is not None and draft.status != DraftStatus.PENDING_REVIEW:
                skipped += 1
                continue
            pipeline.extract_draft(session, doc_id, settings)
            session.commit()
            done += 1
    return done, skipped
