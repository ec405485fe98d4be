"""Match stage: a draft's patient against the master patient index, before anyone creates a record."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from migrate.mpi import index

IDENTITY_FIELDS = (
    "given_name", "middle_name", "family_name", "birth_date", "sex",
    "address_line", "city", "state", "postal_code", "phone",
)  # fmt: skip


def identity_of(patient: Mapping[str, Any]) -> dict[str, str]:
    """Patient CSV fields from a draft's patient fields ({"value": ...} each)."""

    def value(name: str) -> str:
        field = patient.get(name)
        v = field.get("value") if isinstance(field, Mapping) else field
        return "" if v is None else str(v)

    out = {k: value(k) for k in IDENTITY_FIELDS if value(k)}
    suffix = value("name_suffix")
    if suffix and out.get("family_name"):
        out["family_name"] = f"{out['family_name']} {suffix}"
    return out


def match_draft(
    session: Session,
    patient: Mapping[str, Any],
    *,
    link_threshold: float | None = None,
    review_threshold: float | None = None,
) -> dict[str, Any]:
    """The draft's ``match``: candidates best first with scores and reasons, and the decision.
    A draft with too little identity to search is for a person to decide, never a new patient."""
    identity = identity_of(patient)
    if not (identity.get("family_name") and (identity.get("birth_date") or identity.get("given_name"))):
        return {"decision": "review", "candidates": [], "reason": "too little identity to search the index"}
    result = index.lookup(session, identity, link_threshold=link_threshold, review_threshold=review_threshold)
    return result.as_dict()
