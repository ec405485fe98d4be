"""Errors, the acting user, the audit trail and constants shared by the review services."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from migrate.db.models import (
    AuditEvent,
    Draft,
    PatientAllergy,
    PatientDiagnosis,
    PatientEncounter,
    PatientMedication,
    PatientProcedure,
    VerifiedRow,
)
from migrate.records import DraftStatus
from review_ui.security import Permission, allowed

OPEN_STATUSES = (DraftStatus.PENDING_REVIEW.value, DraftStatus.IN_REVIEW.value, DraftStatus.QUERY.value)
PATIENT_FIELDS = (
    "given_name", "middle_name", "family_name", "birth_date", "sex", "chart_number", "address_line", "city",
    "state", "postal_code", "phone", "insurance_payer", "insurance_member_id",
)  # fmt: skip
LISTS: dict[str, tuple[str, ...]] = {
    "encounters": ("date", "provider", "type"),
    "diagnoses": ("text", "code"),
    "procedures": ("text", "date", "code"),
    "medications": ("name", "dose", "route", "frequency"),
    "allergies": ("substance", "reaction"),
}
ACTIONS = ("new", "link", "reject", "query")
# Where each verified list lands, and the assertion a diagnosis keeps beside its LISTS columns.
VERIFIED: dict[str, type[VerifiedRow]] = {
    "encounters": PatientEncounter,
    "diagnoses": PatientDiagnosis,
    "procedures": PatientProcedure,
    "medications": PatientMedication,
    "allergies": PatientAllergy,
}
ASSERTION_COLUMNS = ("negated", "temporality", "experiencer")
# The review order: most urgent first, then the longest waiting (the covering index ix_drafts_queue).
QUEUE_ORDER = (Draft.priority.desc(), Draft.received_at, Draft.id)
_TOUCH_EVERY = timedelta(seconds=30)  # a session's last-seen time is written at most this often


# -- errors: a status code and a message that never holds PHI -----------------------------------


class ReviewError(Exception):
    status_code = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Unauthorized(ReviewError):
    status_code = 401


class Forbidden(ReviewError):
    status_code = 403


class NotFoundError(ReviewError):
    status_code = 404


class Conflict(ReviewError):
    status_code = 409


class Invalid(ReviewError):
    status_code = 422


@dataclass(frozen=True, slots=True)
class Actor:
    user_id: int
    username: str
    role: str
    ip: str | None

    def require(self, permission: Permission) -> None:
        if not allowed(self.role, permission):
            raise Forbidden("your role may not do this")

    def can(self, permission: Permission) -> bool:
        return allowed(self.role, permission)


def audit(
    session: Session,
    actor: Actor | None,
    action: str,
    obj: str | None = None,
    *,
    detail: Mapping[str, Any] | None = None,
    username: str | None = None,
    ip: str | None = None,
) -> None:
    session.add(
        AuditEvent(
            user_id=actor.user_id if actor else None,
            username=actor.username if actor else username,
            action=action,
            object=obj,
            ip=actor.ip if actor else ip,
            detail=dict(detail or {}),
        )
    )
