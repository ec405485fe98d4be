"""The audit trail, for auditors (JSON API)."""

from __future__ import annotations

from fastapi import APIRouter, Query

from review_ui import services
from review_ui.deps import AuditorDep, SessionDep
from review_ui.schemas import AuditOut, Problem

router = APIRouter(prefix="/api", tags=["audit"])


@router.get("/audit", response_model=list[AuditOut], responses={401: {"model": Problem}, 403: {"model": Problem}})
def get_audit(  # type: ignore[no-untyped-def]
    actor: AuditorDep,
    session: SessionDep,
    object: str | None = Query(default=None, max_length=64, description="e.g. draft:12 or patient:CM000000019"),
    user: str | None = Query(default=None, max_length=64),
    limit: int = Query(default=500, ge=1, le=5000),
):
    out = services.audit_events(session, actor, obj=object, user=user, limit=limit)
    session.commit()
    return out
