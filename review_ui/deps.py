"""Request dependencies: the database session, the signed-in actor, role and CSRF checks."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from migrate.db.session import unit_of_work
from migrate.settings import Settings
from review_ui import services
from review_ui.security import COOKIE, Permission, same_token

__all__ = ["ActorDep", "AuditorDep", "ReviewerDep", "SessionDep", "SettingsDep", "client_ip"]

UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(get_settings)]


def get_session(settings: SettingsDep) -> Iterator[Session]:
    """One unit of work per request: committed by the route when it succeeds, rolled back otherwise."""
    with unit_of_work(settings.database_url) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


def get_actor(request: Request, session: SessionDep, settings: SettingsDep) -> services.Actor:
    """The signed-in user (401 otherwise); a state-changing request must carry the session's CSRF token."""
    found = services.resolve(session, settings, request.cookies.get(COOKIE), client_ip(request))
    if found is None:
        raise services.Unauthorized("sign in first")
    actor, csrf = found
    if request.method in UNSAFE and not same_token(request.headers.get("x-csrf-token"), csrf):
        raise services.Forbidden("missing or wrong CSRF token")
    request.state.actor = actor
    request.state.csrf = csrf
    return actor


ActorDep = Annotated[services.Actor, Depends(get_actor)]


def _role(permission: Permission):  # type: ignore[no-untyped-def]
    def check(actor: ActorDep) -> services.Actor:
        actor.require(permission)
        return actor

    return check


ReviewerDep = Annotated[services.Actor, Depends(_role(Permission.REVIEW))]
AuditorDep = Annotated[services.Actor, Depends(_role(Permission.AUDIT))]
SupervisorDep = Annotated[services.Actor, Depends(_role(Permission.REASSIGN))]
