"""Verified patient records and the audit trail, read (and the reading recorded)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from migrate.db.models import (
    AuditEvent,
    Draft,
    MpiPatient,
    ReviewDecision,
    as_utc,
)
from review_ui.security import Permission
from review_ui.services.core import ASSERTION_COLUMNS, LISTS, VERIFIED, Actor, NotFoundError, audit

# -- patients and the audit trail ------------------------------------------------------------------


def patient_record(
    session: Session, actor: Actor, mrn: str | None = None, *, patient_id: int | None = None
) -> dict[str, Any]:
    """The verified record: identity from the index, and every verified row with its source. Pages
    ask by the index's row id, so that no MRN appears in a page address."""
    actor.require(Permission.REVIEW)
    where = MpiPatient.mrn == mrn if patient_id is None else MpiPatient.id == patient_id
    row = session.scalar(select(MpiPatient).where(where))
    if row is None:
        raise NotFoundError("no patient with that MRN in the index")
    out: dict[str, Any] = {"id": row.id, "mrn": row.mrn, "status": row.status, "identity": dict(row.identity)}
    sources: set[int] = set()
    for key, model in VERIFIED.items():
        cols = LISTS[key] + (ASSERTION_COLUMNS if key == "diagnoses" else ())
        items = session.scalars(select(model).where(model.patient_id == row.id).order_by(model.id)).all()
        out[key] = [
            {**{c: getattr(i, c) for c in cols}, "source": {"document_id": str(i.document_id), "page": i.page}}
            for i in items
        ]
        sources.update(i.document_id for i in items)
    drafts = session.execute(
        select(Draft.id, Draft.document_id)
        .join(ReviewDecision, ReviewDecision.draft_id == Draft.id)
        .where(ReviewDecision.patient_id == row.id)
    ).all()
    out["sources"] = sorted({str(d.document_id) for d in drafts} | {str(s) for s in sources})
    out["drafts"] = sorted({str(d.id) for d in drafts})
    audit(session, actor, "view_patient", f"patient:{row.mrn}")
    return out


def audit_events(
    session: Session, actor: Actor, *, obj: str | None = None, user: str | None = None, limit: int = 500
) -> list[dict[str, Any]]:
    """The trail, newest first; reading it is itself recorded."""
    actor.require(Permission.AUDIT)
    stmt = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(max(1, min(limit, 5000)))
    if obj:
        stmt = stmt.where(AuditEvent.object == obj)
    if user:
        stmt = stmt.where(AuditEvent.username == user)
    out = [
        {
            "at": as_utc(e.at).isoformat(),
            "user": e.username,
            "action": e.action,
            "object": e.object,
            "ip": e.ip,
            "detail": e.detail,
        }
        for e in session.scalars(stmt)
    ]
    audit(session, actor, "view_audit", obj, detail={"user": user, "shown": len(out)})
    return out
