"""ORM rows: the storage shape of documents, pages, OCR words, drafts, the index and the review."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import JSON, DateTime, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(t: datetime) -> datetime:
    """A stored time as an aware UTC datetime (SQLite hands back the naive UTC value it stored)."""
    return t if t.tzinfo is not None else t.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, list[str]: JSON}


class Batch(Base):
    __tablename__ = "batches"

    id: Mapped[int] = mapped_column(primary_key=True)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    origin: Mapped[str] = mapped_column(String(32))  # ingest | watch | reprocess
    options: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Document(Base):
    __tablename__ = "documents"

    id: Mapped[int] = mapped_column(primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    source_path: Mapped[str] = mapped_column(Text)
    media_type: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), index=True)
    error_code: Mapped[str | None] = mapped_column(String(32))
    error_message: Mapped[str | None] = mapped_column(Text)
    page_count: Mapped[int | None] = mapped_column(Integer)
    ocr_confidence: Mapped[float | None] = mapped_column(Float)
    searchable_pdf_sha256: Mapped[str | None] = mapped_column(String(64))
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("batches.id"))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)

    pages: Mapped[list[Page]] = relationship(
        back_populates="document", order_by="Page.number", cascade="all, delete-orphan"
    )
    draft: Mapped[Draft | None] = relationship(back_populates="document", cascade="all, delete-orphan")


class Draft(Base):
    """The extracted draft record of a document, waiting for (or under) review."""

    __tablename__ = "drafts"
    # Covers the queue's filter and order, so ordering thousands of drafts reads the index only.
    __table_args__ = (Index("ix_drafts_queue", "status", "priority", "received_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), unique=True)
    status: Mapped[str] = mapped_column(String(24), index=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    extractor_version: Mapped[str] = mapped_column(String(32))
    # Review order, computed from the data whenever the draft is saved (migrate.review.triage).
    priority: Mapped[int] = mapped_column(Integer, default=0)
    reasons: Mapped[list[str]] = mapped_column(default=list)
    received_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # the document's, copied
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)

    document: Mapped[Document] = relationship(back_populates="draft")


class Page(Base):
    __tablename__ = "pages"
    __table_args__ = (UniqueConstraint("document_id", "number", name="uq_pages_document_number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    dpi: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(16))
    image_sha256: Mapped[str] = mapped_column(String(64))
    pdf_sha256: Mapped[str | None] = mapped_column(String(64))
    cleanup: Mapped[dict[str, Any]] = mapped_column(default=dict)
    text: Mapped[str] = mapped_column(Text, default="")
    ocr_confidence: Mapped[float | None] = mapped_column(Float)
    flags: Mapped[list[str]] = mapped_column(default=list)
    seconds: Mapped[float] = mapped_column(Float, default=0.0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    document: Mapped[Document] = relationship(back_populates="pages")
    words: Mapped[list[OcrWord]] = relationship(
        back_populates="page", order_by="OcrWord.seq", cascade="all, delete-orphan"
    )


class OcrWord(Base):
    __tablename__ = "ocr_words"
    __table_args__ = (Index("ix_ocr_words_page_seq", "page_id", "seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    page_id: Mapped[int] = mapped_column(ForeignKey("pages.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)  # reading order on the page
    text: Mapped[str] = mapped_column(Text)
    confidence: Mapped[float] = mapped_column(Float)
    x0: Mapped[int] = mapped_column(Integer)
    y0: Mapped[int] = mapped_column(Integer)
    x1: Mapped[int] = mapped_column(Integer)
    y1: Mapped[int] = mapped_column(Integer)
    block: Mapped[int] = mapped_column(Integer)
    paragraph: Mapped[int] = mapped_column(Integer)
    line: Mapped[int] = mapped_column(Integer)
    word: Mapped[int] = mapped_column(Integer)

    page: Mapped[Page] = relationship(back_populates="words")


class TaskAttempt(Base):
    """How often a worker has started one step of a document (a page; step 0 finishes it). A task
    that kills its worker is delivered again; this count is what stops it looping for ever."""

    __tablename__ = "task_attempts"

    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), primary_key=True)
    step: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    worker: Mapped[str | None] = mapped_column(String(128))


class MpiPatient(Base):
    """A patient in the master patient index: the identity as given, its normalised form for
    comparison, and one indexed column per blocking key, so a lookup touches few rows."""

    __tablename__ = "mpi_patients"

    id: Mapped[int] = mapped_column(primary_key=True)
    mrn: Mapped[str] = mapped_column(String(32), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="active")  # active | merged
    merged_into: Mapped[int | None] = mapped_column(ForeignKey("mpi_patients.id"))
    source: Mapped[str] = mapped_column(String(16))  # import | new
    identity: Mapped[dict[str, Any]] = mapped_column(default=dict)  # contract patient CSV fields as given
    normalised: Mapped[dict[str, Any]] = mapped_column(default=dict)
    bk_name_year: Mapped[str | None] = mapped_column(String(64), index=True)
    bk_dob: Mapped[str | None] = mapped_column(String(16), index=True)
    bk_phone: Mapped[str | None] = mapped_column(String(16), index=True)
    bk_ssn_initial: Mapped[str | None] = mapped_column(String(16), index=True)
    bk_ssn_given: Mapped[str | None] = mapped_column(String(16), index=True)
    bk_ssn_full: Mapped[str | None] = mapped_column(String(16), index=True)
    bk_zip_initial: Mapped[str | None] = mapped_column(String(24), index=True)
    bk_names: Mapped[str | None] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class MrnAllocation(Base):
    """Every medical record number ever issued: numbers only grow and a row is never deleted, so an
    MRN is never reused; the primary key makes two concurrent writers unable to take one number."""

    __tablename__ = "mrn_allocations"

    number: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    mrn: Mapped[str] = mapped_column(String(32), unique=True)
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("mpi_patients.id"))
    allocated_by: Mapped[str] = mapped_column(String(64))
    allocated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class MpiEvent(Base):
    """Append-only history of the index: imports, new patients, merges and unmerges, with who and
    when; merge events keep both records as they were, so an unmerge restores them exactly."""

    __tablename__ = "mpi_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(16))
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("mpi_patients.id"), index=True)
    other_id: Mapped[int | None] = mapped_column(ForeignKey("mpi_patients.id"))
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)


class MpiTermFrequency(Base):
    """How many active patients carry each given name and surname (term-frequency adjustment)."""

    __tablename__ = "mpi_term_frequencies"

    field: Mapped[str] = mapped_column(String(16), primary_key=True)
    value: Mapped[str] = mapped_column(String(64), primary_key=True)
    count: Mapped[int] = mapped_column(Integer)


class MpiModel(Base):
    """The match model estimated from the index (JSON, versioned); the newest row is in use."""

    __tablename__ = "mpi_models"

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[str] = mapped_column(String(32))
    parameters: Mapped[str] = mapped_column(Text)
    records: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


# -- review: people, sessions, the audit trail, and verified records -------------------------------


class User(Base):
    """A person who signs in to the review app; the password is an argon2 hash, never the password."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))  # technician | supervisor | auditor | admin
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(default=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class WebSession(Base):
    """A signed-in browser or script: the cookie holds a random token, the table only its SHA-256."""

    __tablename__ = "web_sessions"

    token_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    ip: Mapped[str | None] = mapped_column(String(64))


class AuditEvent(Base):
    """Who did or saw what, when, from where. Append-only: database triggers refuse UPDATE and
    DELETE. ``detail`` names fields and decisions, never their values (no PHI in the trail)."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_object", "object"), Index("ix_audit_events_username", "username"))

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    username: Mapped[str | None] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    object: Mapped[str | None] = mapped_column(String(64))  # "draft:12", "patient:CM000000019", "user:tina"
    ip: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)


class ReviewClaim(Base):
    """A technician working on a draft: one claim per draft; it lapses after inactivity."""

    __tablename__ = "review_claims"

    draft_id: Mapped[int] = mapped_column(ForeignKey("drafts.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    claimed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ReviewDecision(Base):
    """What a reviewer decided for a draft (new, link, reject, query), at which draft version."""

    __tablename__ = "review_decisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    draft_id: Mapped[int] = mapped_column(ForeignKey("drafts.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    action: Mapped[str] = mapped_column(String(16))
    version: Mapped[int] = mapped_column(Integer)
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("mpi_patients.id"))
    note: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class VerifiedRow(Base):
    """Columns every verified clinical row shares: whose, and where on paper it came from."""

    __abstract__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("mpi_patients.id"), index=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id"), index=True)
    page: Mapped[int | None] = mapped_column(Integer)
    decision_id: Mapped[int] = mapped_column(ForeignKey("review_decisions.id"))


class PatientEncounter(VerifiedRow):
    __tablename__ = "patient_encounters"

    date: Mapped[str | None] = mapped_column(String(10))
    provider: Mapped[str | None] = mapped_column(String(128))
    type: Mapped[str | None] = mapped_column(String(64))


class PatientDiagnosis(VerifiedRow):
    __tablename__ = "patient_diagnoses"

    text: Mapped[str | None] = mapped_column(Text)
    code: Mapped[str | None] = mapped_column(String(16))
    negated: Mapped[bool] = mapped_column(default=False)
    temporality: Mapped[str] = mapped_column(String(16), default="recent")
    experiencer: Mapped[str] = mapped_column(String(16), default="patient")


class PatientProcedure(VerifiedRow):
    __tablename__ = "patient_procedures"

    text: Mapped[str | None] = mapped_column(Text)
    date: Mapped[str | None] = mapped_column(String(10))
    code: Mapped[str | None] = mapped_column(String(32))


class PatientMedication(VerifiedRow):
    __tablename__ = "patient_medications"

    name: Mapped[str | None] = mapped_column(String(128))
    dose: Mapped[str | None] = mapped_column(String(64))
    route: Mapped[str | None] = mapped_column(String(32))
    frequency: Mapped[str | None] = mapped_column(String(32))


class PatientAllergy(VerifiedRow):
    __tablename__ = "patient_allergies"

    substance: Mapped[str | None] = mapped_column(String(128))
    reaction: Mapped[str | None] = mapped_column(String(128))
