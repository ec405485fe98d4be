"""Signing in and out (JSON API)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from review_ui import services
from review_ui.deps import ActorDep, SessionDep, SettingsDep, client_ip
from review_ui.schemas import Credentials, Problem, SessionOut
from review_ui.security import COOKIE

router = APIRouter(prefix="/api", tags=["session"])


def set_session_cookie(response: Response, token: str, secure: bool) -> None:
    # No max-age: the cookie ends with the browser; the server ends idle sessions on its own clock.
    response.set_cookie(COOKIE, token, httponly=True, secure=secure, samesite="strict", path="/")


@router.post("/session", response_model=SessionOut, responses={401: {"model": Problem}})
def login(body: Credentials, request: Request, response: Response, session: SessionDep, settings: SettingsDep):  # type: ignore[no-untyped-def]
    token, csrf = services.login(session, settings, body.username, body.password, client_ip(request))
    session.commit()
    set_session_cookie(response, token, settings.cookie_secure)
    found = services.resolve(session, settings, token, client_ip(request))
    assert found is not None
    return SessionOut(csrf_token=csrf, username=found[0].username, role=found[0].role)


@router.delete("/session", status_code=204, responses={401: {"model": Problem}, 403: {"model": Problem}})
def logout(request: Request, actor: ActorDep, session: SessionDep) -> Response:
    services.logout(session, actor, request.cookies.get(COOKIE, ""))
    session.commit()
    response = Response(status_code=204)
    response.delete_cookie(COOKIE, path="/")
    return response
