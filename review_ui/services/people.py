"""Users, passwords, sign-in with lockout, and sessions that end when idle."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from migrate.db.models import (
    User,
    WebSession,
    as_utc,
    utcnow,
)
from migrate.settings import Settings
from review_ui.security import Permission, Role, hash_password, needs_rehash, new_token, token_digest, verify_password
from review_ui.services.core import _TOUCH_EVERY, Actor, Conflict, Invalid, NotFoundError, Unauthorized, audit

# -- users and sessions ------------------------------------------------------------------------


def add_user(session: Session, username: str, role: str, password: str, *, by: str = "cli") -> User:
    if not re.fullmatch(r"[A-Za-z0-9._-]{2,64}", username):
        raise Invalid("a username is 2-64 letters, digits, dots, dashes or underscores")
    try:
        Role(role)
    except ValueError:
        raise Invalid(f"unknown role; use one of {', '.join(r.value for r in Role)}") from None
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise Conflict("that username is taken")
    try:
        hashed = hash_password(password)
    except ValueError as e:
        raise Invalid(str(e)) from None
    user = User(username=username, role=role, password_hash=hashed)
    session.add(user)
    session.flush()
    audit(session, None, "user_add", f"user:{username}", detail={"role": role}, username=by)
    return user


def set_password(session: Session, username: str, password: str, *, by: str = "cli") -> None:
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFoundError("no such user")
    try:
        user.password_hash = hash_password(password)
    except ValueError as e:
        raise Invalid(str(e)) from None
    user.failed_logins, user.locked_until = 0, None
    session.execute(delete(WebSession).where(WebSession.user_id == user.id))
    audit(session, None, "password_set", f"user:{username}", username=by)


def unlock(session: Session, actor: Actor | None, username: str, *, by: str = "cli") -> None:
    if actor is not None:
        actor.require(Permission.USERS)
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFoundError("no such user")
    user.failed_logins, user.locked_until = 0, None
    audit(session, actor, "unlock", f"user:{username}", username=by)


def login(session: Session, settings: Settings, username: str, password: str, ip: str | None) -> tuple[str, str]:
    """(session token, CSRF token) for good credentials; every attempt is audited."""
    user = session.scalar(select(User).where(User.username == username).with_for_update())
    now = utcnow()
    if user is not None and user.locked_until is not None and as_utc(user.locked_until) > now:
        verify_password(None, password)  # same cost as a real check
        audit(session, None, "login_failed", f"user:{username}", detail={"why": "locked"}, username=username, ip=ip)
        session.commit()
        raise Unauthorized("this account is locked after repeated failed logins; try later or ask a supervisor")
    if user is None or not user.active or not verify_password(user.password_hash, password):
        if user is not None:
            user.failed_logins += 1
            if user.failed_logins >= settings.lockout_failures:
                user.locked_until = now + timedelta(minutes=settings.lockout_min)
                user.failed_logins = 0
        audit(session, None, "login_failed", f"user:{username}" if user else None, username=username, ip=ip)
        session.commit()
        raise Unauthorized("wrong username or password")
    user.failed_logins, user.locked_until = 0, None
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    token, csrf = new_token(), new_token()
    session.add(WebSession(token_sha256=token_digest(token), user_id=user.id, csrf_token=csrf, ip=ip))
    audit(session, Actor(user.id, user.username, user.role, ip), "login", f"user:{username}")
    return token, csrf


def resolve(session: Session, settings: Settings, token: str | None, ip: str | None) -> tuple[Actor, str] | None:
    """The signed-in actor and the session's CSRF token, or None (no, unknown or idle session)."""
    if not token:
        return None
    row = session.execute(
        select(WebSession, User)
        .join(User, User.id == WebSession.user_id)
        .where(WebSession.token_sha256 == token_digest(token))
    ).first()
    if row is None:
        return None
    web, user = row
    now = utcnow()
    if not user.active or now - as_utc(web.last_seen_at) > timedelta(minutes=settings.session_idle_min):
        session.delete(web)
        audit(session, Actor(user.id, user.username, user.role, ip), "session_expired", f"user:{user.username}")
        session.commit()
        return None
    if now - as_utc(web.last_seen_at) > _TOUCH_EVERY:
        web.last_seen_at = now
    return Actor(user.id, user.username, user.role, ip), web.csrf_token


def logout(session: Session, actor: Actor, token: str) -> None:
    session.execute(delete(WebSession).where(WebSession.token_sha256 == token_digest(token)))
    audit(session, actor, "logout", f"user:{actor.username}")
