"""Everything the review app reads and writes. Each write, and each view of PHI, records its audit
event in the same transaction: if the event cannot be stored, nothing happens."""

from review_ui.services.core import (
    ACTIONS,
    LISTS,
    OPEN_STATUSES,
    PATIENT_FIELDS,
    Actor,
    Conflict,
    Forbidden,
    Invalid,
    NotFoundError,
    ReviewError,
    Unauthorized,
    audit,
)
from review_ui.services.decisions import apply_fields, decide, save
from review_ui.services.people import add_user, login, logout, resolve, set_password, unlock
from review_ui.services.queue import (
    candidates,
    draft_view,
    next_draft,
    open_draft,
    page_image,
    queue,
    queue_counts,
    reassign,
    release_stale_claims,
    reviewers,
)
from review_ui.services.records import audit_events, patient_record

__all__ = [
    "ACTIONS", "LISTS", "OPEN_STATUSES", "PATIENT_FIELDS", "Actor", "Conflict", "Forbidden", "Invalid",
    "NotFoundError", "ReviewError", "Unauthorized", "add_user", "apply_fields", "audit", "audit_events",
    "candidates", "decide", "draft_view", "login", "logout", "next_draft", "open_draft", "page_image", "patient_record",
    "queue", "queue_counts", "reassign", "release_stale_claims", "resolve", "reviewers", "save", "set_password",
    "unlock",
]  # fmt: skip
