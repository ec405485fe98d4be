"""Passwords (argon2), session and CSRF tokens, and who may do what."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from enum import StrEnum
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

__all__ = [
    "COOKIE",
    "Permission",
    "Role",
    "allowed",
    "hash_password",
    "needs_rehash",
    "new_token",
    "same_token",
    "token_digest",
    "verify_password",
]

COOKIE = "cm_session"
MIN_PASSWORD = 12
# argon2id at OWASP's recommended minimum (19 MiB, 2 passes, 1 lane) rather than the library's
# 64 MiB / 3 / 4: a shift of twenty people signing in at once takes seconds, not minutes, and a
# stolen table is still costly to attack. Hashes made with other settings are upgraded at sign-in.
_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)


class Role(StrEnum):
    TECHNICIAN = "technician"
    SUPERVISOR = "supervisor"
    AUDITOR = "auditor"
    ADMIN = "admin"


class Permission(StrEnum):
    REVIEW = "review"  # read drafts, patients and page images; decide drafts
    REASSIGN = "reassign"  # take a claim from one technician and give it to another
    AUDIT = "audit"  # read the audit trail
    USERS = "users"  # add users, unlock accounts


_GRANTS: dict[Role, frozenset[Permission]] = {
    Role.TECHNICIAN: frozenset({Permission.REVIEW}),
    Role.SUPERVISOR: frozenset({Permission.REVIEW, Permission.REASSIGN, Permission.USERS}),
    Role.AUDITOR: frozenset({Permission.AUDIT}),
    Role.ADMIN: frozenset({Permission.USERS}),
}


def allowed(role: str, permission: Permission) -> bool:
    try:
        return permission in _GRANTS[Role(role)]
    except ValueError:
        return False


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise ValueError(f"a password needs at least {MIN_PASSWORD} characters")
    return _hasher.hash(password)


@cache
def _dummy_hash() -> str:
    """A hash of a random password, made on first need (not at import: it costs a hashing). Checking
    against it for a user who does not exist costs as much as a real check, so response time does
    not tell which usernames exist."""
    return _hasher.hash(secrets.token_urlsafe(16))


def verify_password(stored_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(stored_hash or _dummy_hash(), password) and stored_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    return _hasher.check_needs_rehash(stored_hash)


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    """What the database keeps of a session token: a stolen table does not give live sessions."""
    return hashlib.sha256(token.encode()).hexdigest()


def same_token(a: str | None, b: str | None) -> bool:
    return bool(a) and bool(b) and hmac.compare_digest(str(a), str(b))
