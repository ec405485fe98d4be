"""A review world without OCR: an index of patients, drafts with stored page images, people."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import select

from migrate.db.models import Document, Draft, Page, utcnow
from migrate.db.session import migrate_to_head, unit_of_work
from migrate.mpi import index
from migrate.review import triage
from migrate.settings import Settings
from migrate.storage import BlobStore
from review_ui import services
from review_ui.app import create_app
from samples.make_index import fake_patients

PASSWORD = "correct horse battery"
PEOPLE = {"tina": "technician", "tom": "technician", "sue": "supervisor", "al": "auditor", "ada": "admin"}


def fld(value: Any, page: int = 1, bbox: tuple[int, int, int, int] = (10, 10, 60, 20), conf: float = 0.95) -> dict:
    return {"value": value, "confidence": conf, "page": page, "bbox": list(bbox), "rule": "test"}


def draft_data(person: dict[str, str], *, match: dict[str, Any] | None = None, issues: list | None = None) -> dict:
    patient = {k: fld(person[k]) for k in ("given_name", "family_name", "birth_date", "sex", "phone") if person.get(k)}
    return {
        "patient": patient,
        "encounters": [{"date": fld("2020-01-02"), "provider": fld("Dr. Ann Lee"), "type": fld("office visit")}],
        "diagnoses": [
            {
                "text": fld("hypertension"),
                "code": fld("I10"),
                "negated": False,
                "temporality": "historical",
                "experiencer": "patient",
                "assertion_triggers": ["chronic:hypertension"],
            },
            {
                "text": fld("chest pain", page=2),
                "code": fld("R07.9", page=2),
                "negated": True,
                "temporality": "recent",
                "experiencer": "patient",
                "assertion_triggers": ["negated:denies"],
            },
        ],
        "procedures": [],
        "medications": [{"name": fld("metformin"), "dose": fld("500 mg"), "route": fld("PO"), "frequency": fld("BID")}],
        "allergies": [{"substance": fld("penicillin"), "reaction": fld("hives")}],
        "issues": issues or [],
        "match": match or {"decision": "new", "candidates": []},
    }


@dataclass
class World:
    settings: Settings
    patients: list[dict[str, str]]  # in the index, MRNs in "id"
    drafts: dict[str, int] = field(default_factory=dict)  # name -> draft id
    strangers: list[dict[str, str]] = field(default_factory=list)

    def client(self, user: str | None = None) -> TestClient:
        c = TestClient(create_app(self.settings), base_url="https://testserver")
        if user is not None:
            r = c.post("/api/session", json={"username": user, "password": PASSWORD})
            assert r.status_code == 200, r.text
            c.headers["X-CSRF-Token"] = r.json()["csrf_token"]
        return c

    def session(self) -> Any:
        return unit_of_work(self.settings.database_url)


def _page_image(seed: int) -> bytes:
    img = Image.new("L", (400, 500), 255)
    img.putpixel((seed % 400, seed % 500), 0)
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=80)
    return buf.getvalue()


def add_draft(world: World, name: str, data: dict[str, Any], *, age_min: int = 0, pages: int = 2) -> int:
    blobs = BlobStore(world.settings.blob_dir)
    with world.session() as s:
        doc = Document(
            sha256=hashlib.sha256(name.encode()).hexdigest(), source_path=f"/scans/{name}.pdf",
            media_type="application/pdf", size_bytes=100, status="done", page_count=pages, ocr_confidence=0.93,
            received_at=utcnow() - timedelta(minutes=age_min),
        )  # fmt: skip
        s.add(doc)
        s.flush()
        for n in range(1, pages + 1):
            sha = blobs.put_bytes(_page_image(doc.id * 10 + n))
            s.add(Page(document_id=doc.id, number=n, width=400, height=500, dpi=50, source="ocr",
                       image_sha256=sha, text=f"page {n}", ocr_confidence=0.93))  # fmt: skip
        priority, reasons = triage(data, 0.93)
        draft = Draft(document_id=doc.id, status="pending_review", data=data, extractor_version="test",
                      priority=priority, reasons=reasons, received_at=doc.received_at)  # fmt: skip
        s.add(draft)
        s.commit()
        world.drafts[name] = draft.id
        return draft.id


@pytest.fixture
def world(settings: Settings) -> Iterator[World]:
    migrate_to_head(settings.database_url)
    people = [{**p, "id": f"MRN{i:07d}"} for i, p in enumerate(fake_patients(60, 21))]
    w = World(settings, people, strangers=list(fake_patients(3, 909)))
    with unit_of_work(settings.database_url) as s:
        index.import_rows(s, people, "tester")
        index.refresh(s)
        for user, role in PEOPLE.items():
            services.add_user(s, user, role, PASSWORD)
        s.commit()
    known = people[5]
    cand = {"mrn": known["id"], "score": 0.97, "decision": "review",
            "reasons": [{"field": "given_name", "level": "exact", "weight": 3.1}]}  # fmt: skip
    add_draft(w, "dupe", draft_data(known, match={"decision": "review", "candidates": [cand]}), age_min=5)
    add_draft(w, "fresh", draft_data(w.strangers[0]), age_min=50)
    add_draft(w, "older-fresh", draft_data(w.strangers[1]), age_min=500)
    add_draft(
        w, "bad-dates",
        draft_data(w.strangers[2], issues=[{"field": "patient.birth_date", "kind": "inconsistent", "message": "x"}]),
        age_min=1,
    )  # fmt: skip
    yield w


@pytest.fixture
def client_of(world: World) -> Callable[[str | None], TestClient]:
    return world.client


def draft_version(world: World, draft_id: int) -> int:
    with world.session() as s:
        return int(s.scalar(select(Draft.version).where(Draft.id == draft_id)))
