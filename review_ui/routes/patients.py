"""Verified patient records (JSON API)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from review_ui import services
from review_ui.deps import ReviewerDep, SessionDep
from review_ui.schemas import Problem

router = APIRouter(prefix="/api/patients", tags=["patients"])


@router.get("/{mrn}", responses={401: {"model": Problem}, 403: {"model": Problem}, 404: {"model": Problem}})
def get_patient(mrn: str, actor: ReviewerDep, session: SessionDep) -> dict[str, Any]:
    out = services.patient_record(session, actor, mrn)
    session.commit()
    return out
