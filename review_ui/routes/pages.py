"""Pages for people: sign-in, the queue, a draft beside its scan, a patient, the audit trail.
The pages read through the same services as the API; the draft page saves through the API."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from review_ui import services
from review_ui.deps import ActorDep, SessionDep, SettingsDep, client_ip
from review_ui.routes.auth import set_session_cookie
from review_ui.security import COOKIE, Permission, new_token, same_token

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).resolve().parents[1] / "templates")
LOGIN_CSRF = "cm_login_csrf"

FIELD_LABELS = {
    "given_name": "Given name", "middle_name": "Middle name", "family_name": "Family name",
    "birth_date": "Birth date", "sex": "Sex", "chart_number": "Chart number", "address_line": "Address",
    "city": "City", "state": "State", "postal_code": "Postal code", "phone": "Phone",
    "insurance_payer": "Insurance payer", "insurance_member_id": "Member ID",
}  # fmt: skip
LOW_CONFIDENCE = 0.8


def render(request: Request, name: str, context: dict[str, Any], status_code: int = 200) -> HTMLResponse:
    actor = getattr(request.state, "actor", None)
    base = {
        "actor": actor,
        "csrf": getattr(request.state, "csrf", ""),
        "can_review": bool(actor and actor.can(Permission.REVIEW)),
        "can_audit": bool(actor and actor.can(Permission.AUDIT)),
        "can_reassign": bool(actor and actor.can(Permission.REASSIGN)),
    }
    return templates.TemplateResponse(request, name, {**base, **context}, status_code=status_code)


def error_page(request: Request, status: int, message: str) -> HTMLResponse:
    return render(request, "error.html", {"status": status, "message": message}, status_code=status)


@router.get("/login")
def login_page(request: Request, settings: SettingsDep, failed: str | None = None) -> Response:
    token = new_token()
    response = render(request, "login.html", {"login_csrf": token, "failed": failed})
    response.set_cookie(LOGIN_CSRF, token, httponly=True, secure=settings.cookie_secure, samesite="strict", path="/")
    return response


@router.post("/login")
def login_form(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=1024)],
    login_csrf: Annotated[str, Form(max_length=128)],
) -> Response:
    if not same_token(login_csrf, request.cookies.get(LOGIN_CSRF)):
        return error_page(request, 403, "the sign-in form expired; reload the page and try again")
    try:
        token, _csrf = services.login(session, settings, username, password, client_ip(request))
    except services.Unauthorized as e:
        return render(request, "login.html", {"login_csrf": login_csrf, "failed": e.message}, 401)
    session.commit()
    response = RedirectResponse("/", status_code=303)
    set_session_cookie(response, token, settings.cookie_secure)
    response.delete_cookie(LOGIN_CSRF, path="/")
    return response


@router.post("/logout")
def logout_form(
    request: Request, session: SessionDep, settings: SettingsDep, csrf: Annotated[str, Form(max_length=128)]
) -> Response:
    found = services.resolve(session, settings, request.cookies.get(COOKIE), client_ip(request))
    if found is not None:
        actor, expected = found
        if not same_token(csrf, expected):
            return error_page(request, 403, "missing or wrong CSRF token")
        services.logout(session, actor, request.cookies.get(COOKIE, ""))
        session.commit()
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


@router.get("/")
def home(request: Request, actor: ActorDep) -> Response:
    if actor.can(Permission.REVIEW):
        return RedirectResponse("/queue", status_code=303)
    if actor.can(Permission.AUDIT):
        return RedirectResponse("/audit", status_code=303)
    return render(request, "error.html", {"status": 200, "message": "Signed in. Your role has no pages here."})


@router.get("/queue")
def queue_page(
    request: Request,
    actor: ActorDep,
    session: SessionDep,
    status: Annotated[str | None, Query(max_length=24)] = None,
    reason: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    actor.require(Permission.REVIEW)
    items = services.queue(session, actor, status=status, reason=reason, limit=200)
    counts = services.queue_counts(session)
    reviewers = services.reviewers(session) if actor.can(Permission.REASSIGN) else []
    session.commit()
    return render(
        request, "queue.html",
        {"items": items, "counts": counts, "status": status or "open", "reason": reason or "", "reviewers": reviewers},
    )  # fmt: skip


@router.get("/next")
def next_page(request: Request, actor: ActorDep, session: SessionDep, settings: SettingsDep) -> Response:
    """The most urgent draft nobody else is working on, claimed for this technician."""
    draft_id = services.next_draft(session, settings, actor)
    session.commit()
    return RedirectResponse(f"/drafts/{draft_id}" if draft_id else "/queue", status_code=303)


@router.get("/drafts/{draft_id}")
def draft_page(
    request: Request, draft_id: int, actor: ActorDep, session: SessionDep, settings: SettingsDep
) -> Response:
    actor.require(Permission.REVIEW)
    record = services.open_draft(session, settings, actor, draft_id)
    cands = services.candidates(session, actor, draft_id)
    session.commit()
    doubtful = {i.get("field") for i in record.get("issues") or []}
    read_only = record["claimed_by"] not in (None, actor.username) or record["status"] not in services.OPEN_STATUSES
    return render(
        request,
        "draft.html",
        {
            "d": record,
            "candidates": cands,
            "labels": FIELD_LABELS,
            "doubtful": doubtful,
            "low": LOW_CONFIDENCE,
            "read_only": read_only,
            "lists": services.LISTS,
        },
    )


@router.get("/patients/{patient_id}")
def patient_page(request: Request, patient_id: int, actor: ActorDep, session: SessionDep) -> Response:
    """By the index's row id: an MRN identifies a patient and stays out of page addresses."""
    record = services.patient_record(session, actor, patient_id=patient_id)
    session.commit()
    return render(request, "patient.html", {"p": record, "labels": FIELD_LABELS})


@router.get("/audit")
def audit_page(
    request: Request,
    actor: ActorDep,
    session: SessionDep,
    object: Annotated[str | None, Query(max_length=64)] = None,
    user: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    events = services.audit_events(session, actor, obj=object or None, user=user or None, limit=500)
    session.commit()
    return render(request, "audit.html", {"events": events, "object": object or "", "user": user or ""})
