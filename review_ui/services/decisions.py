"""A reviewer's corrections and decisions; verified data lands in the normalised tables."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from migrate.db import repo
from migrate.db.models import (
    Document,
    Draft,
    MpiEvent,
    MpiPatient,
    ReviewClaim,
    ReviewDecision,
)
from migrate.mpi import index
from migrate.records import DraftStatus
from migrate.review import triage
from migrate.settings import Settings
from review_ui.security import Permission
from review_ui.services.core import (
    ACTIONS,
    LISTS,
    OPEN_STATUSES,
    PATIENT_FIELDS,
    VERIFIED,
    Actor,
    Conflict,
    Invalid,
    NotFoundError,
    audit,
)
from review_ui.services.queue import _claim_holder, _draft, _take_claim

# -- edits and decisions -------------------------------------------------------------------------


def _check_writable(session: Session, actor: Actor, draft: Draft, version: int) -> None:
    if draft.version != version:
        raise Conflict(
            f"this draft changed since you opened it (version {version}, now {draft.version}); "
            "reload it to see the changes, then apply yours again"
        )
    if draft.status not in OPEN_STATUSES:
        raise Conflict("this draft is already decided")
    holder = _claim_holder(session, draft.id)
    if holder is not None and holder[0] != actor.user_id:
        raise Conflict(f"this draft is being reviewed by {holder[1]}")


def _plain_value(field: Any) -> Any:
    value = field.get("value") if isinstance(field, Mapping) else field
    if isinstance(value, str):
        value = value.strip()
    return None if value in ("", None) else value


def _as_field(old: Any, new: Any) -> Any:
    """A reviewer's value as a field. A value the reviewer left as it was keeps its field (the
    extraction's confidence and rule); a new value gets full confidence, rule "reviewer", and the
    place on the page that was sent with it or that the old value had."""
    value = _plain_value(new)
    if value is None:
        return None
    if isinstance(old, Mapping) and _plain_value(old) == value:
        return dict(old)
    place = new if isinstance(new, Mapping) and new.get("bbox") else old if isinstance(old, Mapping) else {}
    return {"value": value, "confidence": 1.0, "page": place.get("page"), "bbox": place.get("bbox"), "rule": "reviewer"}


# The value that names a list row, to find which stored row an edited row was when it comes without
# its "row" index: a diagnosis by its code, a medication by its name, ...
_ROW_KEY = {
    "encounters": "date",
    "diagnoses": "code",
    "procedures": "text",
    "medications": "name",
    "allergies": "substance",
}


def _matching_row(name: str, item: Mapping[str, Any], old_items: list[Any], used: set[int]) -> int | None:
    """Which stored row an edited row is: its "row" index when sent, else the unused stored row with
    the same naming value. Never by position: a removed row would hand its place on the page (and a
    diagnosis its assertion) to the row after it."""
    row = item.get("row")
    if isinstance(row, int) and not isinstance(row, bool) and 0 <= row < len(old_items) and row not in used:
        return row
    key = _ROW_KEY[name]
    want = _plain_value(item.get(key))
    if want is None:
        return None
    for k, old in enumerate(old_items):
        if k not in used and isinstance(old, Mapping) and str(_plain_value(old.get(key))).lower() == str(want).lower():
            return k
    return None


def _validate_patient(patient: Mapping[str, Any]) -> None:
    def val(k: str) -> Any:
        return _plain_value(patient.get(k))

    dob = val("birth_date")
    if dob:
        try:
            born = date.fromisoformat(str(dob))
        except ValueError:
            raise Invalid("birth_date must be a date written YYYY-MM-DD") from None
        if born > date.today() or born.year < 1880:
            raise Invalid("birth_date is in the future or impossibly old")
    if val("sex") not in (None, "F", "M", "U"):
        raise Invalid("sex must be F, M or U")
    state = val("state")
    if state and not re.fullmatch(r"[A-Z]{2}", str(state)):
        raise Invalid("state must be two capital letters")
    phone = val("phone")
    if phone and not re.fullmatch(r"\d{10}", str(phone)):
        raise Invalid("phone must be 10 digits")


def apply_fields(data: dict[str, Any], fields: Mapping[str, Any]) -> list[str]:
    """Apply a reviewer's edits (contract shape, values plain or as fields); returns what changed
    (names only: the audit trail never holds the values)."""
    unknown = [k for k in fields if k != "patient" and k not in LISTS]
    if unknown:
        raise Invalid(f"unknown section(s): {', '.join(sorted(unknown))}")
    changed: list[str] = []
    patient_edits = fields.get("patient") or {}
    if not isinstance(patient_edits, Mapping):
        raise Invalid("'patient' must be an object")
    bad = [k for k in patient_edits if k not in PATIENT_FIELDS]
    if bad:
        raise Invalid(f"unknown patient field(s): {', '.join(sorted(bad))}")
    patient = dict(data.get("patient") or {})
    for key, new in patient_edits.items():
        field = _as_field(patient.get(key), new)
        if _plain_value(field) != _plain_value(patient.get(key)):
            changed.append(f"patient.{key}")
        patient[key] = field
    _validate_patient(patient)
    data["patient"] = patient
    for name, keys in LISTS.items():
        if name not in fields:
            continue
        items = fields[name]
        if not isinstance(items, list) or not all(isinstance(i, Mapping) for i in items):
            raise Invalid(f"'{name}' must be a list of objects")
        old_items = list(data.get(name) or [])
        out: list[dict[str, Any]] = []
        used: set[int] = set()
        for item in items:
            k = _matching_row(name, item, old_items, used)
            old: Mapping[str, Any] = old_items[k] if k is not None else {}
            entry: dict[str, Any] = {key: _as_field(old.get(key), item.get(key)) for key in keys}
            if not any(entry.values()):
                continue  # an emptied row is a removed row
            if k is not None:
                used.add(k)
            if name == "diagnoses":
                entry["negated"] = bool(item.get("negated", old.get("negated", False)))
                for extra in ("temporality", "experiencer", "assertion_triggers", "section"):
                    if extra in item or extra in old:
                        entry[extra] = item.get(extra, old.get(extra))
                if k is None or entry["negated"] != bool(old.get("negated", False)):
                    entry["assertion_triggers"] = ["reviewer"]
            out.append(entry)
        if _plain(out, keys) != _plain(old_items, keys):
            changed.append(name)
        data[name] = out
    return changed


def _plain(items: list[Any], keys: tuple[str, ...]) -> list[dict[str, Any]]:
    """Rows as values only, every key present: what a change is judged on."""
    return [{k: _plain_value(i.get(k)) for k in (*keys, "negated")} for i in items if isinstance(i, Mapping)]


def save(
    session: Session, settings: Settings, actor: Actor, draft_id: int, version: int, fields: Mapping[str, Any]
) -> dict[str, Any]:
    """Store a reviewer's corrections without deciding; the version goes up by one."""
    actor.require(Permission.REVIEW)
    draft = _draft(session, draft_id, lock=True)
    _check_writable(session, actor, draft, version)
    data = dict(draft.data)
    changed = apply_fields(data, fields)
    draft.data = data
    doc = session.get(Document, draft.document_id)
    draft.priority, draft.reasons = triage(data, doc.ocr_confidence if doc else None)
    session.flush()
    repo.bump_draft_version(session, draft.document_id)
    _take_claim(session, settings, actor.user_id, draft)
    audit(session, actor, "save_draft", f"draft:{draft.id}", detail={"changed": changed})
    session.flush()
    session.refresh(draft)
    return {"id": str(draft.id), "version": draft.version, "changed": changed}


def decide(
    session: Session,
    settings: Settings,
    actor: Actor,
    draft_id: int,
    *,
    version: int,
    action: str,
    mrn: str | None = None,
    fields: Mapping[str, Any] | None = None,
    note: str | None = None,
) -> dict[str, Any]:
    """Apply the reviewer's edits and decision. ``new`` searches the index again and refuses when
    anyone is at or above the review threshold; ``link`` joins the draft to an existing patient;
    ``reject`` asks for a rescan and ``query`` asks the provider (both need a note)."""
    actor.require(Permission.REVIEW)
    if action not in ACTIONS:
        raise Invalid(f"action must be one of {', '.join(ACTIONS)}")
    note = (note or "").strip() or None
    if action in ("reject", "query") and not note:
        raise Invalid("a reject needs its reason and a query its question (note)")
    if note and len(note) > 2000:
        raise Invalid("the note is longer than 2000 characters")
    draft = _draft(session, draft_id, lock=True)
    _check_writable(session, actor, draft, version)
    data = dict(draft.data)
    changed = apply_fields(data, fields or {})
    patient_row: MpiPatient | None = None
    if action == "new":
        identity = _identity(data.get("patient") or {})
        if not (identity.get("family_name") and identity.get("given_name") and identity.get("birth_date")):
            raise Invalid("a new patient needs at least given name, family name and birth date")
        try:
            new_mrn, _ = index.new_patient(
                session, identity, actor.username, settings.mrn_prefix, review_threshold=settings.mpi_review_threshold
            )
        except index.PossibleDuplicate as e:
            raise Conflict(str(e)) from None
        patient_row = session.scalar(select(MpiPatient).where(MpiPatient.mrn == new_mrn))
    elif action == "link":
        if not mrn:
            raise Invalid("link needs the MRN of the existing patient")
        patient_row = session.scalar(select(MpiPatient).where(MpiPatient.mrn == mrn.strip()))
        if patient_row is None:
            raise NotFoundError("no patient with that MRN in the index")
        if patient_row.status != "active":
            raise Conflict("that record was merged into another; link to the surviving record")
        session.add(MpiEvent(actor=actor.username, action="link", patient_id=patient_row.id,
                             detail={"document_id": draft.document_id}))  # fmt: skip
    decision = ReviewDecision(
        draft_id=draft.id, user_id=actor.user_id, action=action, version=draft.version,
        patient_id=patient_row.id if patient_row else None, note=note,
    )  # fmt: skip
    session.add(decision)
    session.flush()
    if patient_row is not None:
        _store_verified(session, patient_row.id, draft.document_id, decision.id, data)
        draft.status = DraftStatus.VERIFIED.value
    else:
        draft.status = DraftStatus.REJECTED.value if action == "reject" else DraftStatus.QUERY.value
    data["review"] = {"action": action, "mrn": patient_row.mrn if patient_row else None, "by": actor.username}
    draft.data = data
    session.flush()
    repo.bump_draft_version(session, draft.document_id)
    session.execute(delete(ReviewClaim).where(ReviewClaim.draft_id == draft.id))
    audit(
        session, actor, "decide", f"draft:{draft.id}",
        detail={"action": action, "changed": changed, "patient": patient_row.mrn if patient_row else None},
    )  # fmt: skip
    session.flush()
    session.refresh(draft)
    out: dict[str, Any] = {"id": str(draft.id), "status": draft.status, "version": draft.version, "action": action}
    if patient_row is not None:
        out["mrn"] = patient_row.mrn
    return out


def _identity(patient: Mapping[str, Any]) -> dict[str, str]:
    return {k: str(v) for k in index.IDENTITY if (v := _plain_value(patient.get(k))) is not None}


def _page_of(entry: Mapping[str, Any]) -> int | None:
    for f in entry.values():
        if isinstance(f, Mapping) and f.get("page"):
            return int(f["page"])
    return None


def _store_verified(
    session: Session, patient_id: int, document_id: int, decision_id: int, data: dict[str, Any]
) -> None:
    """One row per verified list entry, each pointing back to its document, page and decision."""
    for name, model in VERIFIED.items():
        columns = model.__table__.columns
        for entry in data.get(name) or []:
            values: dict[str, Any] = {}
            for key in LISTS[name]:
                v = _plain_value(entry.get(key))
                length = getattr(columns[key].type, "length", None)
                values[key] = None if v is None else str(v)[:length]
            if name == "diagnoses":
                values |= {
                    "negated": bool(entry.get("negated")),
                    "temporality": str(entry.get("temporality") or "recent"),
                    "experiencer": str(entry.get("experiencer") or "patient"),
                }
            session.add(model(patient_id=patient_id, document_id=document_id, decision_id=decision_id,
                              page=_page_of(entry), **values))  # fmt: skip
