"""The master patient index in the database: import, lookup, new MRNs, merge and unmerge.

A lookup reads only the rows that share a blocking key with the incoming record (each key is an
indexed column) and scores them with the stored model, so it stays fast on millions of patients
on SQLite and PostgreSQL alike. Every change is an append-only event with who and when.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from migrate.db.models import MpiEvent, MpiModel, MpiPatient, MpiTermFrequency, MrnAllocation
from migrate.db.session import MRN_LOCK_KEY, lock_for_write, serialize_writers
from migrate.errors import BadArguments, NotFound
from migrate.mpi import blocking, linkage
from migrate.mpi.model import Model, Reason, explain
from migrate.mpi.records import FIELDS, PARALLEL_ROWS, Records, normalise_row, normalise_rows, normaliser_pool

IDENTITY = tuple(f for f in FIELDS if f != "id")
KEY_COLUMNS = {key: getattr(MpiPatient, f"bk_{key}") for key in blocking.KEYS}
MAX_CANDIDATES = 2000
EXISTING_SHARE = 0.5
TRAIN_SAMPLE = 200_000


class PossibleDuplicate(BadArguments):
    """A new MRN was asked for but the index already holds a likely record of this patient."""


@dataclass(frozen=True, slots=True)
class Candidate:
    mrn: str
    score: float
    decision: str  # match | review
    reasons: list[Reason]


@dataclass(frozen=True, slots=True)
class MatchResult:
    decision: str  # link | review | new
    candidates: list[Candidate]
    model_version: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "decision": self.decision,
            "candidates": [
                {
                    "mrn": c.mrn,
                    "score": round(c.score, 4),
                    "decision": c.decision,
                    "reasons": [{"field": r.comparison, "level": r.level, "weight": r.weight} for r in c.reasons],
                }
                for c in self.candidates
            ],
            "model": self.model_version,
        }


def _keys_of(norm: Mapping[str, Any]) -> dict[str, str | None]:
    return _keys_many([norm])[0]


def _keys_many(norms: Sequence[Mapping[str, Any]]) -> list[dict[str, str | None]]:
    """Blocking key values of normalised records, computed together (vectorised)."""
    values = blocking.key_values(Records.from_normalised(norms))
    return [{k: (str(v[i]) or None) for k, v in values.items()} for i in range(len(norms))]


def _apply(row: MpiPatient, identity: Mapping[str, str], norm: dict[str, Any] | None = None,
           keys: Mapping[str, str | None] | None = None) -> None:  # fmt: skip
    if norm is None:
        norm = normalise_row({"id": row.mrn, **identity})
    norm["ids"] = row.mrn
    row.identity = {k: identity.get(k, "") for k in IDENTITY}
    row.normalised = norm
    for key, value in (keys if keys is not None else _keys_of(norm)).items():
        setattr(row, f"bk_{key}", value)


def import_rows(
    session: Session,
    rows: Iterable[Mapping[str, str]],
    actor: str,
    chunk: int = 5000,
    progress: Callable[[int], None] | None = None,
) -> dict[str, int]:
    """Existing patients into the index, idempotent on ``id`` (the MRN): a row already there with
    the same values is left alone, with different values it is updated (recorded). Rows are
    normalised a chunk at a time, in a process pool when the file is large."""
    counts = {"added": 0, "updated": 0, "unchanged": 0}
    batch: list[Mapping[str, str]] = []
    rows = list(rows)
    pool = normaliser_pool() if len(rows) >= PARALLEL_ROWS and (os.cpu_count() or 1) > 1 else None

    def flush() -> None:
        mrns = [r["id"] for r in batch]
        existing = {p.mrn: p for p in session.scalars(select(MpiPatient).where(MpiPatient.mrn.in_(mrns)))}
        seen: set[str] = set()
        todo: list[tuple[Mapping[str, str], dict[str, str], MpiPatient | None]] = []
        for r in batch:
            identity = {k: r.get(k, "") or "" for k in IDENTITY}
            row = existing.get(r["id"])
            if r["id"] in seen:
                continue  # the same id twice in a file: its first row counts
            if row is not None and row.identity == identity:
                counts["unchanged"] += 1
            else:
                todo.append((r, identity, row))
            seen.add(r["id"])
        if todo:
            norms = normalise_rows([{"id": r["id"], **identity} for r, identity, _ in todo], pool=pool)
            keys = _keys_many(norms)
            for (r, identity, row), norm, key in zip(todo, norms, keys, strict=True):
                if row is None:
                    row = MpiPatient(mrn=r["id"], source="import", status="active")
                    session.add(row)
                    counts["added"] += 1
                else:
                    counts["updated"] += 1
                _apply(row, identity, norm, key)
        session.flush()
        if progress:
            progress(len(batch))
        batch.clear()

    try:
        for r in rows:
            batch.append(r)
            if len(batch) >= chunk:
                flush()
        if batch:
            flush()
    finally:
        if pool is not None:
            pool.close()
            pool.join()
    session.add(MpiEvent(actor=actor, action="import", detail=dict(counts)))
    return counts


def refresh(session: Session, seed: int = 1) -> Model:
    """Recount name frequencies and re-estimate the model from (a sample of) the index."""
    session.execute(delete(MpiTermFrequency))
    ids = list(session.scalars(select(MpiPatient.id).where(MpiPatient.status == "active")))
    total = len(ids)
    rng = np.random.default_rng(seed)
    sample = set(rng.choice(ids, TRAIN_SAMPLE, replace=False).tolist()) if total > TRAIN_SAMPLE else set(ids)
    # One pass over the stored identities: name counts from all, the model's sample kept aside.
    norms: list[dict[str, Any]] = []
    counts: dict[tuple[str, str], int] = {}
    rows = session.execute(
        select(MpiPatient.id, MpiPatient.normalised).where(MpiPatient.status == "active").order_by(MpiPatient.id)
    )
    for pid, norm in rows:
        if pid in sample:
            norms.append(norm)
        for field, key in (("given_name", "given"), ("family_name", "family")):
            v = norm.get(key)
            if v:
                counts[(field, v)] = counts.get((field, v), 0) + 1
    session.add_all(MpiTermFrequency(field=f, value=v, count=c) for (f, v), c in counts.items())
    model = linkage.train(Records.from_normalised(norms), seed=seed) if norms else Model.default()
    # The prior is per pair of the whole index, not of the sample it was estimated on.
    if len(norms) > 1 and total > len(norms):
        model = replace(model, prior=model.prior * len(norms) / total, trained_on=total)
    session.add(MpiModel(version=model.version, parameters=model.to_json(), records=total))
    session.flush()
    return model


_MODELS: dict[tuple[str, int], Model] = {}


@dataclass(frozen=True, slots=True)
class IndexModel:
    model: Model
    model_id: int  # 0: no model estimated yet (the defaults)
    records: int  # patients in the index when it was estimated


def current_model(session: Session) -> IndexModel:
    """The newest estimated model; its JSON is read and parsed once per process."""
    row = session.execute(select(MpiModel.id, MpiModel.records).order_by(MpiModel.id.desc()).limit(1)).first()
    if row is None:
        return IndexModel(Model.default(), 0, 0)
    key = (str(session.get_bind().engine.url), row.id)
    model = _MODELS.get(key)
    if model is None:
        model = _MODELS[key] = Model.from_json(
            session.scalars(select(MpiModel.parameters).where(MpiModel.id == row.id)).one()
        )
    return IndexModel(model, row.id, row.records)


def _lookup_model(session: Session, link_threshold: float | None, review_threshold: float | None) -> tuple[Model, int]:
    """The model as used for one incoming record against the index, and the index size. The prior
    is not the index's own duplicate rate: a chart in a migration belongs to an existing patient
    about half the time, and then to one of the index's N records."""
    current = current_model(session)
    size = max(current.records, 1)
    model = current.model.with_thresholds(link_threshold, review_threshold)
    return replace(model, prior=min(EXISTING_SHARE / size, 0.5)), size


def _term_freq(
    session: Session, size: int, norm: Mapping[str, Any], cands: Sequence[Mapping[str, Any]]
) -> dict[str, dict[str, float]]:
    """Shares of the index carrying these names. ``size`` is the index size as of the last model
    estimate: counting a million rows per lookup costs more than the lookup, and a few new
    patients since do not change a name's share."""
    out: dict[str, dict[str, float]] = {"given_name": {}, "family_name": {}}
    for field, key in (("given_name", "given"), ("family_name", "family")):
        values = {str(norm.get(key) or "")} | {str(c.get(key) or "") for c in cands}
        values.discard("")
        if not values:
            continue
        for value, count in session.execute(
            select(MpiTermFrequency.value, MpiTermFrequency.count).where(
                MpiTermFrequency.field == field, MpiTermFrequency.value.in_(values)
            )
        ):
            out[field][value] = count / size
    return out


def lookup(
    session: Session,
    identity: Mapping[str, str],
    *,
    link_threshold: float | None = None,
    review_threshold: float | None = None,
    limit: int = 5,
) -> MatchResult:
    """The index's likely records of this patient, best first, and what to do about them."""
    model, size = _lookup_model(session, link_threshold, review_threshold)
    norm = normalise_row({"id": "incoming", **identity})
    keys = {k: v for k, v in _keys_of(norm).items() if v}
    if not keys:
        return MatchResult("new", [], model.version)
    conditions = [KEY_COLUMNS[k] == v for k, v in keys.items()]
    rows = session.execute(
        select(MpiPatient.mrn, MpiPatient.normalised)
        .where(MpiPatient.status == "active", or_(*conditions))
        .limit(MAX_CANDIDATES)
    ).all()
    if not rows:
        return MatchResult("new", [], model.version)
    cand_norms = [r.normalised for r in rows]
    recs = Records.from_normalised([norm, *cand_norms])
    left = np.zeros(len(rows), dtype=np.int64)
    right = np.arange(1, len(rows) + 1, dtype=np.int64)
    scores = linkage.score_pairs(model, recs, left, right, _term_freq(session, size, norm, cand_norms))
    decisions = scores.decisions(model)
    order = [k for k in np.argsort(-scores.probability, kind="stable") if decisions[k] != "none"][:limit]
    found = [
        Candidate(rows[k].mrn, float(scores.probability[k]), str(decisions[k]), explain(scores, int(k))) for k in order
    ]
    matches = [c for c in found if c.decision == "match"]
    if len(matches) == 1:
        decision = "link"
    elif found:
        decision = "review"  # two possible records of one patient are for a person to sort out
    else:
        decision = "new"
    return MatchResult(decision, found, model.version)


def explain_pair(session: Session, mrn_a: str, mrn_b: str) -> tuple[float, str, list[Reason]]:
    a, b = _patient(session, mrn_a), _patient(session, mrn_b)
    model, size = _lookup_model(session, None, None)
    recs = Records.from_normalised([a.normalised, b.normalised])
    tf = _term_freq(session, size, a.normalised, [b.normalised])
    s = linkage.score_pairs(model, recs, np.array([0]), np.array([1]), tf)
    return float(s.probability[0]), str(s.decisions(model)[0]), explain(s, 0)


def _patient(session: Session, mrn: str, *, lock: bool = False) -> MpiPatient:
    """The patient with this MRN; ``lock`` takes its row lock (the write lock on SQLite) for a
    read-then-write, so two supervisors acting on one record at once act one after the other."""
    stmt = select(MpiPatient).where(MpiPatient.mrn == mrn)
    if lock:
        lock_for_write(session)
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    row = session.scalars(stmt).first()
    if row is None:
        raise NotFound("no patient with that MRN in the index")
    return row


def luhn_digit(number: str) -> str:
    """The Luhn check digit of a string of digits."""
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


def luhn_valid(mrn: str, prefix: str = "") -> bool:
    digits = mrn[len(prefix) :]
    return digits.isdigit() and len(digits) > 1 and luhn_digit(digits[:-1]) == digits[-1]


def format_mrn(prefix: str, number: int) -> str:
    body = f"{number:08d}"
    return f"{prefix}{body}{luhn_digit(body)}"


def allocate_mrn(session: Session, actor: str, prefix: str, attempts: int = 20) -> MrnAllocation:
    """The next MRN: one more than the highest ever issued. Two writers that pick the same number
    collide on the primary key; the loser takes the next one. Nothing is ever deleted, so a
    number is never issued twice.

    On PostgreSQL the writers first queue on an advisory lock held to the end of the transaction:
    under READ COMMITTED a writer whose every guess is taken by another's not yet committed row
    could otherwise lose over and over (seen with two writers allocating in a tight loop)."""
    serialize_writers(session, MRN_LOCK_KEY)
    for _ in range(attempts):
        last = session.scalar(select(func.max(MrnAllocation.number))) or 0
        alloc = MrnAllocation(number=last + 1, mrn=format_mrn(prefix, last + 1), allocated_by=actor)
        try:
            with session.begin_nested():
                session.add(alloc)
                session.flush()
        except IntegrityError:
            continue
        return alloc
    raise BadArguments("could not allocate a new MRN: too much concurrent allocation; try again")


def new_patient(
    session: Session, identity: Mapping[str, str], actor: str, prefix: str, *, review_threshold: float | None = None
) -> tuple[str, MatchResult]:
    """A new patient with a new MRN, only when a fresh search finds nobody above the review threshold."""
    result = lookup(session, identity, review_threshold=review_threshold)
    if result.candidates:
        raise PossibleDuplicate(
            f"the index holds {len(result.candidates)} possible record(s) of this patient; review them instead "
            "of creating a new one"
        )
    alloc = allocate_mrn(session, actor, prefix)
    row = MpiPatient(mrn=alloc.mrn, source="new", status="active")
    _apply(row, {k: identity.get(k, "") or "" for k in IDENTITY})
    session.add(row)
    session.flush()
    alloc.patient_id = row.id
    for field, key in (("given_name", "given"), ("family_name", "family")):
        value = row.normalised.get(key)
        if value:
            _count_name(session, field, value)
    session.add(MpiEvent(actor=actor, action="new", patient_id=row.id, detail={"mrn": row.mrn}))
    session.flush()
    return row.mrn, result


def _count_name(session: Session, field: str, value: str) -> None:
    """One more patient with this name, counted in SQL so concurrent new patients lose no count."""
    key = (MpiTermFrequency.field == field, MpiTermFrequency.value == value)
    for _ in range(3):
        counted = session.execute(update(MpiTermFrequency).where(*key).values(count=MpiTermFrequency.count + 1))
        if counted.rowcount:  # type: ignore[attr-defined]
            return
        try:
            with session.begin_nested():
                session.add(MpiTermFrequency(field=field, value=value, count=1))
            return
        except IntegrityError:  # another writer added the name first: count on top of it
            continue
    raise RuntimeError("could not count a name")


def _snapshot(row: MpiPatient) -> dict[str, Any]:
    return {"mrn": row.mrn, "status": row.status, "merged_into": row.merged_into, "identity": dict(row.identity)}


def merge(session: Session, survivor_mrn: str, retired_mrn: str, actor: str) -> MpiEvent:
    """Two records of one patient become one. Survivorship: the survivor keeps every value it has
    and takes from the retired record only what it lacks; the retired record stays, marked
    merged into the survivor, and the event keeps both as they were."""
    if survivor_mrn == retired_mrn:
        raise BadArguments("a patient cannot be merged with itself")
    # Both rows locked, in MRN order so that two merges of the same pair cannot deadlock.
    locked = {mrn: _patient(session, mrn, lock=True) for mrn in sorted((survivor_mrn, retired_mrn))}
    survivor, retired = locked[survivor_mrn], locked[retired_mrn]
    for row in (survivor, retired):
        if row.status != "active":
            raise BadArguments(f"{row.mrn} is already merged; unmerge it first")
    before = {"survivor": _snapshot(survivor), "retired": _snapshot(retired)}
    identity = dict(survivor.identity)
    filled = []
    for k in IDENTITY:
        if not identity.get(k) and retired.identity.get(k):
            identity[k] = retired.identity[k]
            filled.append(k)
    _apply(survivor, identity)
    retired.status = "merged"
    retired.merged_into = survivor.id
    event = MpiEvent(
        actor=actor, action="merge", patient_id=survivor.id, other_id=retired.id, detail={**before, "filled": filled}
    )
    session.add(event)
    session.flush()
    return event


def unmerge(session: Session, retired_mrn: str, actor: str) -> MpiEvent:
    """Undo the merge that retired this record: both records return exactly as they were."""
    retired = _patient(session, retired_mrn, lock=True)
    if retired.status != "merged":
        raise BadArguments(f"{retired.mrn} is not merged")
    event = session.scalars(
        select(MpiEvent)
        .where(MpiEvent.action == "merge", MpiEvent.other_id == retired.id)
        .order_by(MpiEvent.id.desc())
        .limit(1)
    ).first()
    if event is None:
        raise NotFound("no merge event for that record")
    survivor = session.get(MpiPatient, event.patient_id, with_for_update=True, populate_existing=True)
    assert survivor is not None
    if survivor.status != "active":
        raise BadArguments(f"{survivor.mrn} was merged again since; unmerge that first")
    _apply(survivor, event.detail["survivor"]["identity"])
    _apply(retired, event.detail["retired"]["identity"])
    retired.status = "active"
    retired.merged_into = None
    undo = MpiEvent(
        actor=actor, action="unmerge", patient_id=survivor.id, other_id=retired.id, detail={"merge_event": event.id}
    )
    session.add(undo)
    session.flush()
    return undo


def history(session: Session, mrn: str) -> list[dict[str, Any]]:
    row = _patient(session, mrn)
    events = session.scalars(
        select(MpiEvent).where(or_(MpiEvent.patient_id == row.id, MpiEvent.other_id == row.id)).order_by(MpiEvent.id)
    )
    return [{"at": e.at.isoformat(), "actor": e.actor, "action": e.action, "event": e.id} for e in events]


def dumps(result: MatchResult) -> str:
    return json.dumps(result.as_dict())
