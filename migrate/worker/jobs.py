"""What a queued document's tasks do, without Celery: plan, run one page step, report progress.

Tasks are keyed by the document's id and SHA-256 and by the document's state, so running one twice
(a broker redelivering it, a retry after a worker died) changes nothing the first run did: a page
is stored once (unique document + page number), a document is finished once (row lock), and a
document in ``done`` or ``failed`` is left alone.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from migrate import pipeline
from migrate.batch import discover, end_batch, prepare, start_batch, take_in
from migrate.db import repo
from migrate.db.models import Batch, Document, Page, TaskAttempt, as_utc, utcnow
from migrate.db.session import unit_of_work
from migrate.errors import DocumentError
from migrate.records import BatchSummary, DocumentResult, DocumentStatus, MediaType, PageTask
from migrate.settings import Settings
from migrate.storage import BlobStore

log = logging.getLogger(__name__)

FINISH_STEP = 0  # task_attempts.step of the finishing step; pages are 1..n
# The settings that decide what a document's pages become: fixed when the document is queued
# (the batch's stored options), so every worker processes it the way the operator asked.
PIPELINE_OPTIONS = (
    "ocr_lang",
    "ocr_psm",
    "ocr_timeout_s",
    "page_image_quality",
    "render_dpi",
    "max_page_pixels",
    "min_text_layer_chars",
    "unreadable_confidence",
    "mpi_link_threshold",
    "mpi_review_threshold",
)
ACTIVE = (DocumentStatus.RECEIVED, DocumentStatus.QUEUED, DocumentStatus.OCR)


@dataclass(frozen=True, slots=True)
class PageJob:
    """One queued page: ids only, so it crosses the broker as three numbers and a hash."""

    document_id: int
    sha256: str
    number: int

    def as_args(self) -> list[Any]:
        return [self.document_id, self.sha256, self.number]


Send = Callable[[list[PageJob]], None]


@dataclass
class QueueSummary(BatchSummary):
    """A queued batch: its documents' results so far (``queued``, duplicates, failed at intake)."""

    queued: list[int] = field(default_factory=list)  # document ids
    pages_queued: int = 0


def pipeline_options(settings: Settings) -> dict[str, Any]:
    return {k: getattr(settings, k) for k in PIPELINE_OPTIONS}


def queue_paths(paths: list[Path], settings: Settings, send: Send, *, origin: str = "ingest") -> QueueSummary:
    """Store each file once, record its document, and send one task per page still to do.

    A document is marked ``queued`` before its tasks are sent, so a worker that starts at once
    moves it on to ``ocr`` and nothing sets it back. Queueing the same files again (after a crash,
    or a broker that lost its messages) sends the missing pages again: workers skip what is done.
    """
    prepare(settings, ocr=False)
    files = discover(paths, exclude=settings.home)
    options = {"mode": "queue", "files": len(files), "pipeline": pipeline_options(settings)}
    batch_id = start_batch(settings, origin, options)
    summary = QueueSummary()
    for f, taken in take_in(files, settings, batch_id):
        if taken.result is not None:
            summary.results.append(taken.result)
            continue
        assert taken.document_id is not None
        jobs = requeue(taken.document_id, settings, send)
        summary.queued.append(taken.document_id)
        summary.pages_queued += sum(1 for j in jobs if j.number != FINISH_STEP)
        summary.results.append(DocumentResult(taken.document_id, str(f), jobs[0].sha256 if jobs else None, "queued"))
    end_batch(settings, batch_id)
    return summary


def requeue(document_id: int, settings: Settings, send: Send) -> list[PageJob]:
    """Send the tasks for a document's missing pages (or its finishing step if none is missing)."""
    with unit_of_work(settings.database_url) as session:
        doc = session.get(Document, document_id)
        if doc is None or doc.status not in ACTIVE:
            return []
        done = repo.stored_page_numbers(session, document_id)
        missing = [n for n in range(1, (doc.page_count or 0) + 1) if n not in done]
        jobs = [PageJob(doc.id, doc.sha256, n) for n in missing] or [PageJob(doc.id, doc.sha256, FINISH_STEP)]
        if doc.status == DocumentStatus.RECEIVED:
            doc.status = DocumentStatus.QUEUED.value
            doc.updated_at = utcnow()
        session.execute(
            update(TaskAttempt).where(TaskAttempt.document_id == document_id).values(attempts=0)
        )  # an operator's requeue starts the crash count afresh
        session.commit()
    send(jobs)
    return jobs


def requeue_stalled(settings: Settings, send: Send, *, older_than: timedelta) -> list[int]:
    """Queue again the documents that made no progress for ``older_than`` (a lost broker message)."""
    cutoff = utcnow() - older_than
    with unit_of_work(settings.database_url) as session:
        ids = list(
            session.scalars(
                select(Document.id).where(Document.status.in_([s.value for s in ACTIVE]), Document.updated_at < cutoff)
            )
        )
    for doc_id in ids:
        requeue(doc_id, settings, send)
    return ids


# ----------------------------------------------------------------------------------------------
# The worker's side
# ----------------------------------------------------------------------------------------------


def _bump_attempt(session: Session, document_id: int, step: int, worker: str) -> int:
    """Count one more start of this step, committed before the work begins (so a crash counts)."""
    for _ in range(3):
        counted = session.execute(
            update(TaskAttempt)
            .where(TaskAttempt.document_id == document_id, TaskAttempt.step == step)
            .values(attempts=TaskAttempt.attempts + 1, started_at=utcnow(), worker=worker)
            .returning(TaskAttempt.attempts)
        ).scalar()
        if counted is not None:
            session.commit()
            return int(counted)
        session.add(TaskAttempt(document_id=document_id, step=step, attempts=1, worker=worker))
        try:
            session.commit()
            return 1
        except IntegrityError:  # another worker counted its first start at the same moment
            session.rollback()
    raise RuntimeError("could not count the task's attempt")


def _fail(settings: Settings, document_id: int, code: str, message: str) -> None:
    """Mark a document failed unless another task already finished it."""
    with unit_of_work(settings.database_url) as session:
        session.execute(
            update(Document)
            .where(Document.id == document_id, Document.status.in_([s.value for s in ACTIVE]))
            .values(status=DocumentStatus.FAILED.value, error_code=code, error_message=message, updated_at=utcnow())
        )
        session.commit()


def fail_quietly(settings: Settings, document_id: int, code: str, message: str) -> None:
    """Mark a document failed from a task's error handler; a database still down is only logged."""
    try:
        _fail(settings, document_id, code, message)
    except Exception:
        log.exception("document %s: could not record the failure", document_id)


@lru_cache(maxsize=64)
def _batch_options(database_url: str, batch_id: int) -> tuple[tuple[str, Any], ...]:
    with unit_of_work(database_url) as session:
        batch = session.get(Batch, batch_id)
        chosen = (batch.options or {}).get("pipeline", {}) if batch else {}
    return tuple((k, v) for k, v in chosen.items() if k in PIPELINE_OPTIONS)


def _settings_for(doc: Document, settings: Settings) -> Settings:
    if doc.batch_id is None:
        return settings
    return settings.model_copy(update=dict(_batch_options(settings.database_url, doc.batch_id)))


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def run_step(job: PageJob, settings: Settings, *, max_attempts: int) -> str:
    """One page of a queued document (or, for step 0, only its finishing); then, if every page is
    stored, finish the document. Returns what happened, for the worker's log.

    Errors of the document (a corrupt page) fail it with the reason; errors of the system (the
    database unreachable) propagate so the task is retried with backoff.
    """
    with unit_of_work(settings.database_url) as session:
        doc = session.get(Document, job.document_id)
        if doc is None or doc.sha256 != job.sha256:
            return "gone"  # reprocessed or deleted since it was queued
        if doc.status not in ACTIVE:
            return f"skipped ({doc.status})"
        attempts = _bump_attempt(session, job.document_id, job.number, worker_name())
        if attempts > max_attempts:
            what = "finishing" if job.number == FINISH_STEP else f"page {job.number}"
            message = f"{what} stopped its worker {attempts - 1} times (crash, time-out or out of memory)"
            log.error("document %s: %s; marked failed", job.document_id, message)
            _fail(settings, job.document_id, "worker_lost", message)
            return "failed"
        effective = _settings_for(doc, settings)
        media, page_count = MediaType(doc.media_type), doc.page_count or 0
        session.execute(
            update(Document)
            .where(Document.id == doc.id, Document.status.in_([DocumentStatus.RECEIVED, DocumentStatus.QUEUED]))
            .values(status=DocumentStatus.OCR.value, attempts=Document.attempts + 1, updated_at=utcnow())
        )
        session.commit()

    if job.number != FINISH_STEP:
        task = PageTask(job.document_id, job.sha256, job.number, BlobStore(settings.blob_dir).path(job.sha256), media)
        outcome = pipeline.process_page(task, effective)
        if outcome.error_code:
            _fail(settings, job.document_id, outcome.error_code, outcome.error_message or outcome.error_code)
            return "failed"
        with unit_of_work(settings.database_url) as session:
            session.execute(update(Document).where(Document.id == job.document_id).values(updated_at=utcnow()))
            session.commit()
            if repo.stored_page_count(session, job.document_id) < page_count:
                return "page stored" if outcome.stored else "page already stored"
    return finish(job.document_id, effective)


def finish(document_id: int, settings: Settings) -> str:
    try:
        result = pipeline.finish_document(document_id, settings)
    except DocumentError as e:
        _fail(settings, document_id, e.code, e.message)
        return "failed"
    return f"document {result.status}"


# ----------------------------------------------------------------------------------------------
# Progress (chartmigrate status)
# ----------------------------------------------------------------------------------------------

STATE_GROUPS = {
    "queued": (DocumentStatus.RECEIVED, DocumentStatus.QUEUED),
    "running": (DocumentStatus.OCR,),
    "done": (DocumentStatus.DONE,),
    "failed": (DocumentStatus.FAILED,),
}


def progress(settings: Settings, *, window: timedelta = timedelta(minutes=10)) -> dict[str, Any]:
    """Documents by state, pages stored and still to do, and pages per minute over ``window``."""
    now = utcnow()
    with unit_of_work(settings.database_url) as session:
        by_status = {
            status: int(n)
            for status, n in session.execute(select(Document.status, func.count()).group_by(Document.status))
        }
        counts = {name: sum(by_status.get(s.value, 0) for s in states) for name, states in STATE_GROUPS.items()}
        active = [s.value for s in ACTIVE]
        planned = session.scalar(select(func.sum(Document.page_count)).where(Document.status.in_(active))) or 0
        stored_active = (
            session.scalar(
                select(func.count(Page.id))
                .join(Document, Page.document_id == Document.id)
                .where(Document.status.in_(active))
            )
            or 0
        )
        pages_total = session.scalar(select(func.count(Page.id))) or 0
        recent = session.execute(
            select(func.count(Page.id), func.min(Page.created_at), func.max(Page.created_at)).where(
                Page.created_at >= now - window
            )
        ).one()
    n_recent, first, last = int(recent[0] or 0), recent[1], recent[2]
    rate = 0.0
    if n_recent:
        span = (now - as_utc(first)).total_seconds() if first is not None else window.total_seconds()
        rate = n_recent / max(span, 15.0) * 60.0  # a floor, so the first page is not a spike
    remaining = max(0, int(planned) - int(stored_active))
    return {
        "documents": counts,
        "pages": {"stored": int(pages_total), "remaining": remaining},
        "pages_per_minute": round(rate, 2),
        "window_minutes": window.total_seconds() / 60,
        "last_page_at": as_utc(last).isoformat() if last is not None else None,
        "eta_minutes": round(remaining / rate, 1) if rate and remaining else None,
    }
