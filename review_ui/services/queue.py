"""The queue, opening a draft (claims), its page images and candidates, reassignment."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import String, cast, delete, func, select, update
from sqlalchemy.orm import Session

from migrate.db.models import (
    Document,
    Draft,
    MpiPatient,
    Page,
    ReviewClaim,
    ReviewDecision,
    User,
    as_utc,
    utcnow,
)
from migrate.db.session import lock_for_write
from migrate.records import DraftStatus
from migrate.settings import Settings
from migrate.storage import BlobStore
from review_ui.security import Permission, allowed
from review_ui.services.core import OPEN_STATUSES, QUEUE_ORDER, Actor, Conflict, Invalid, NotFoundError, audit

# -- the queue ----------------------------------------------------------------------------------


def queue(
    session: Session,
    actor: Actor,
    *,
    status: str | None = None,
    reason: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """Drafts awaiting review, highest priority first, oldest first within one priority."""
    actor.require(Permission.REVIEW)
    release_stale_claims(session)
    statuses = OPEN_STATUSES if status in (None, "", "open") else (status,)
    now = utcnow()
    # Two steps: the page's ids from the covering index alone (status, priority, received_at), then
    # their rows; ordering every open draft by columns stored after the large JSON would read it all.
    ids_stmt = (
        select(Draft.id)
        .where(Draft.status.in_(statuses))
        .order_by(*QUEUE_ORDER)
        .limit(max(1, min(limit, 500)))
        .offset(max(0, offset))
    )
    if reason:
        ids_stmt = ids_stmt.where(cast(Draft.reasons, String).ilike(f"%{_escape_like(reason)}%", escape="\\"))
    ids = list(session.scalars(ids_stmt))
    rows = session.execute(
        select(
            Draft.id,
            Draft.status,
            Draft.priority,
            Draft.reasons,
            Draft.received_at,
            Document.page_count,
            User.username,
            ReviewClaim.expires_at,
        )
        .join(Document, Document.id == Draft.document_id)
        .outerjoin(ReviewClaim, ReviewClaim.draft_id == Draft.id)
        .outerjoin(User, User.id == ReviewClaim.user_id)
        .where(Draft.id.in_(ids))
    ).all()
    by_id = {r.id: r for r in rows}
    out = []
    for draft_id in ids:
        r = by_id[draft_id]
        claimed = r.username if r.expires_at is not None and as_utc(r.expires_at) > now else None
        out.append(
            {
                "id": str(r.id),
                "status": r.status,
                "priority": r.priority,
                "reasons": list(r.reasons or []),
                "received_at": as_utc(r.received_at).isoformat() if r.received_at else None,
                "pages": r.page_count,
                "claimed_by": claimed,
            }
        )
    audit(session, actor, "view_queue", "queue", detail={"shown": len(out)})
    return out


def next_draft(session: Session, settings: Settings, actor: Actor) -> int | None:
    """Claim and return the most urgent draft nobody else holds (queries wait for their answer).
    Choosing and claiming are one step, so technicians pressing "next" together get different drafts."""
    actor.require(Permission.REVIEW)
    release_stale_claims(session)
    lock_for_write(session)
    held_by_other = (
        select(ReviewClaim.draft_id)
        .where(
            ReviewClaim.draft_id == Draft.id, ReviewClaim.user_id != actor.user_id, ReviewClaim.expires_at > utcnow()
        )
        .exists()
    )
    stmt = (
        select(Draft)
        .where(Draft.status.in_((DraftStatus.PENDING_REVIEW.value, DraftStatus.IN_REVIEW.value)), ~held_by_other)
        .order_by(*QUEUE_ORDER)
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    draft = session.scalar(stmt)
    if draft is None:
        return None
    if _claim_holder(session, draft.id) is None:
        audit(session, actor, "claim", f"draft:{draft.id}")
    _take_claim(session, settings, actor.user_id, draft)
    return draft.id


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def queue_counts(session: Session) -> dict[str, int]:
    rows = session.execute(select(Draft.status, func.count()).group_by(Draft.status)).all()
    return {str(s): int(n) for s, n in rows}


# -- one draft ----------------------------------------------------------------------------------


def _draft(session: Session, draft_id: int, *, lock: bool = False) -> Draft:
    """The draft; ``lock`` for a read-then-write (its row lock; SQLite's write lock), so two
    technicians opening or saving one draft at once go one after the other."""
    stmt = select(Draft).where(Draft.id == draft_id)
    if lock:
        lock_for_write(session)
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    draft = session.scalar(stmt)
    if draft is None:
        raise NotFoundError("no such draft")
    return draft


def _claim_holder(session: Session, draft_id: int) -> tuple[int, str] | None:
    row = session.execute(
        select(ReviewClaim.user_id, User.username, ReviewClaim.expires_at)
        .join(User, User.id == ReviewClaim.user_id)
        .where(ReviewClaim.draft_id == draft_id)
    ).first()
    if row is None or as_utc(row.expires_at) <= utcnow():
        return None
    return int(row.user_id), str(row.username)


def _take_claim(session: Session, settings: Settings, user_id: int, draft: Draft) -> None:
    expires = utcnow() + timedelta(minutes=settings.claim_min)
    claim = session.get(ReviewClaim, draft.id)
    if claim is None:
        session.add(ReviewClaim(draft_id=draft.id, user_id=user_id, expires_at=expires))
    else:
        claim.user_id, claim.claimed_at, claim.expires_at = user_id, utcnow(), expires
    if draft.status == DraftStatus.PENDING_REVIEW.value:
        draft.status = DraftStatus.IN_REVIEW.value


def open_draft(session: Session, settings: Settings, actor: Actor, draft_id: int) -> dict[str, Any]:
    """The draft as the contract shapes it, plus ``version`` and who holds it. Opening a draft that
    nobody holds claims it for the actor; one held by someone else is shown, marked as taken."""
    actor.require(Permission.REVIEW)
    draft = _draft(session, draft_id, lock=True)
    holder = _claim_holder(session, draft.id)
    if draft.status in OPEN_STATUSES and (holder is None or holder[0] == actor.user_id):
        _take_claim(session, settings, actor.user_id, draft)
        if holder is None:
            audit(session, actor, "claim", f"draft:{draft.id}")
        holder = (actor.user_id, actor.username)
    audit(session, actor, "view_draft", f"draft:{draft.id}")
    return draft_view(session, draft, holder)


def draft_view(session: Session, draft: Draft, holder: tuple[int, str] | None) -> dict[str, Any]:
    from migrate.export import draft_record

    doc = session.get(Document, draft.document_id)
    assert doc is not None
    record = draft_record(doc)
    record["id"] = str(draft.id)
    record["status"] = draft.status
    record["version"] = draft.version
    record["priority"] = draft.priority
    record["reasons"] = list(draft.reasons or [])
    record["claimed_by"] = holder[1] if holder else None
    for page in record.get("source", {}).get("pages", []):
        page["image_url"] = f"/api/drafts/{draft.id}/pages/{page['number']}/image"
    decision = session.scalars(
        select(ReviewDecision).where(ReviewDecision.draft_id == draft.id).order_by(ReviewDecision.id.desc()).limit(1)
    ).first()
    if decision is not None:
        record["decision"] = {
            "action": decision.action,
            "note": decision.note,
            "mrn": _mrn_of(session, decision.patient_id),
            "patient_id": decision.patient_id,
            "at": as_utc(decision.at).isoformat(),
        }
    return record


def _mrn_of(session: Session, patient_id: int | None) -> str | None:
    if patient_id is None:
        return None
    return session.scalar(select(MpiPatient.mrn).where(MpiPatient.id == patient_id))


def candidates(session: Session, actor: Actor, draft_id: int) -> list[dict[str, Any]]:
    """The draft's possible existing patients, each with the index's identity beside the draft's."""
    actor.require(Permission.REVIEW)
    draft = _draft(session, draft_id)
    out = []
    for c in (draft.data.get("match") or {}).get("candidates", []):
        row = session.scalar(select(MpiPatient).where(MpiPatient.mrn == c.get("mrn")))
        if row is None:
            continue
        out.append({**c, "identity": dict(row.identity), "status": row.status})
        audit(session, actor, "view_patient", f"patient:{row.mrn}", detail={"via": f"draft:{draft.id}"})
    return out


def page_image(session: Session, settings: Settings, actor: Actor, draft_id: int, number: int) -> Path:
    actor.require(Permission.REVIEW)
    draft = _draft(session, draft_id)
    page = session.scalar(select(Page).where(Page.document_id == draft.document_id, Page.number == number))
    if page is None:
        raise NotFoundError("no such page")
    path = BlobStore(settings.blob_dir).path(page.image_sha256)
    if not path.is_file():
        raise NotFoundError("the page image is missing from the store")
    audit(session, actor, "view_page", f"draft:{draft.id}", detail={"page": number})
    return path


def reassign(session: Session, settings: Settings, actor: Actor, draft_id: int, username: str | None) -> None:
    """A supervisor gives a draft to another technician (or frees it, with no username)."""
    actor.require(Permission.REASSIGN)
    draft = _draft(session, draft_id, lock=True)
    if draft.status not in OPEN_STATUSES:
        raise Conflict("this draft is already decided")
    session.execute(delete(ReviewClaim).where(ReviewClaim.draft_id == draft.id))
    if username:
        user = session.scalar(select(User).where(User.username == username, User.active.is_(True)))
        if user is None or not allowed(user.role, Permission.REVIEW):
            raise Invalid("no active reviewer with that username")
        session.flush()
        _take_claim(session, settings, user.id, draft)
    elif draft.status == DraftStatus.IN_REVIEW.value:
        draft.status = DraftStatus.PENDING_REVIEW.value
    audit(session, actor, "reassign", f"draft:{draft.id}", detail={"to": username})


def reviewers(session: Session) -> list[str]:
    """Active people who may work the queue (a supervisor assigns drafts to them)."""
    rows = session.execute(select(User.username, User.role).where(User.active.is_(True)).order_by(User.username))
    return [name for name, role in rows if allowed(role, Permission.REVIEW)]


def release_stale_claims(session: Session) -> int:
    """Claims past their time go back to the queue (drafts 'in review' return to 'pending')."""
    now = utcnow()
    stale = session.scalars(select(ReviewClaim.draft_id).where(ReviewClaim.expires_at <= now)).all()
    if stale:
        session.execute(delete(ReviewClaim).where(ReviewClaim.draft_id.in_(stale)))
        session.execute(
            update(Draft)
            .where(Draft.id.in_(stale), Draft.status == DraftStatus.IN_REVIEW.value)
            .values(status=DraftStatus.PENDING_REVIEW.value)
        )
    return len(stale)
