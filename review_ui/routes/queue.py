"""The review queue (JSON API)."""

from __future__ import annotations

from fastapi import APIRouter, Query

from review_ui import services
from review_ui.deps import ReviewerDep, SessionDep, SettingsDep
from review_ui.schemas import NextOut, Problem, QueueItem

router = APIRouter(prefix="/api", tags=["queue"])


@router.get("/queue", response_model=list[QueueItem], responses={401: {"model": Problem}, 403: {"model": Problem}})
def get_queue(  # type: ignore[no-untyped-def]
    actor: ReviewerDep,
    session: SessionDep,
    status: str | None = Query(default=None, description="open (default), pending_review, in_review or query"),
    reason: str | None = Query(default=None, max_length=64, description="only drafts with a reason containing this"),
    limit: int = Query(default=100, ge=1, le=500),
    offset: int = Query(default=0, ge=0),
):
    items = services.queue(session, actor, status=status, reason=reason, limit=limit, offset=offset)
    session.commit()
    return items


@router.post(
    "/queue/next",
    response_model=NextOut,
    responses={401: {"model": Problem}, 403: {"model": Problem}, 404: {"model": Problem}},
)
def take_next(actor: ReviewerDep, session: SessionDep, settings: SettingsDep):  # type: ignore[no-untyped-def]
    """Claim the most urgent draft nobody else holds (404 when none is left)."""
    draft_id = services.next_draft(session, settings, actor)
    session.commit()
    if draft_id is None:
        raise services.NotFoundError("no draft is waiting that someone else does not hold")
    return NextOut(id=str(draft_id))
