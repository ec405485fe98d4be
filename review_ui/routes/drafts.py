"""One draft: read (claims it), its page images, its duplicate candidates, edits and decisions."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import FileResponse

from review_ui import services
from review_ui.deps import ReviewerDep, SessionDep, SettingsDep, SupervisorDep
from review_ui.schemas import Decision, DecisionOut, Edits, Problem, Reassign, SavedOut

router = APIRouter(prefix="/api/drafts", tags=["drafts"])
ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": Problem}, 403: {"model": Problem}, 404: {"model": Problem}, 409: {"model": Problem},
    422: {"model": Problem},
}  # fmt: skip


@router.get("/{draft_id}", responses=ERRORS)
def get_draft(draft_id: int, actor: ReviewerDep, session: SessionDep, settings: SettingsDep) -> dict[str, Any]:
    record = services.open_draft(session, settings, actor, draft_id)
    session.commit()
    return record


@router.get("/{draft_id}/candidates", responses=ERRORS)
def get_candidates(draft_id: int, actor: ReviewerDep, session: SessionDep) -> list[dict[str, Any]]:
    out = services.candidates(session, actor, draft_id)
    session.commit()
    return out


@router.get("/{draft_id}/pages/{number}/image", response_class=FileResponse, responses=ERRORS)
def get_page_image(
    draft_id: int, number: int, actor: ReviewerDep, session: SessionDep, settings: SettingsDep
) -> FileResponse:
    path = services.page_image(session, settings, actor, draft_id, number)
    session.commit()
    # Private: no shared cache may keep a page of a chart.
    return FileResponse(path, media_type="image/jpeg", headers={"Cache-Control": "private, no-store"})


@router.patch("/{draft_id}", response_model=SavedOut, responses=ERRORS)
def save_draft(draft_id: int, body: Edits, actor: ReviewerDep, session: SessionDep, settings: SettingsDep):  # type: ignore[no-untyped-def]
    out = services.save(session, settings, actor, draft_id, body.version, body.fields)
    session.commit()
    return out


@router.post("/{draft_id}/decision", response_model=DecisionOut, responses=ERRORS)
def decide(draft_id: int, body: Decision, actor: ReviewerDep, session: SessionDep, settings: SettingsDep):  # type: ignore[no-untyped-def]
    out = services.decide(
        session, settings, actor, draft_id, version=body.version, action=body.action, mrn=body.mrn,
        fields=body.fields, note=body.note,
    )  # fmt: skip
    session.commit()
    return out


@router.post("/{draft_id}/assignee", status_code=204, responses=ERRORS)
def reassign(draft_id: int, body: Reassign, actor: SupervisorDep, session: SessionDep, settings: SettingsDep) -> None:
    services.reassign(session, settings, actor, draft_id, body.username)
    session.commit()
