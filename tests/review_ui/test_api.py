"""The review app's JSON API per CONTRACTS.md: every route and role, 401/403/409, CSRF, claims,
decisions into verified tables, the audit trail."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.exc import DatabaseError, IntegrityError, InternalError, OperationalError

from migrate.db.models import (
    AuditEvent,
    Draft,
    MrnAllocation,
    PatientAllergy,
    PatientDiagnosis,
    PatientEncounter,
    PatientMedication,
    ReviewClaim,
    WebSession,
    utcnow,
)
from migrate.mpi import index
from tests.conftest import run_together
from tests.review_ui.conftest import PASSWORD, World, draft_version

CONTRACT_ROUTES = {
    ("/api/session", "post"), ("/api/session", "delete"), ("/api/queue", "get"), ("/api/drafts/{draft_id}", "get"),
    ("/api/drafts/{draft_id}/decision", "post"), ("/api/patients/{mrn}", "get"), ("/api/audit", "get"),
}  # fmt: skip


def test_openapi_describes_the_contract_routes(world: World) -> None:
    spec = world.client().get("/api/openapi.json").json()
    routes = {(path, method) for path, ops in spec["paths"].items() for method in ops}
    assert routes >= CONTRACT_ROUTES
    assert not any(p.startswith(("/login", "/queue", "/drafts/")) for p in spec["paths"])  # pages stay out


@pytest.mark.parametrize(
    "method,path",
    [("get", "/api/queue"), ("get", "/api/drafts/1"), ("post", "/api/drafts/1/decision"),
     ("get", "/api/patients/MRN0000001"), ("get", "/api/audit"), ("delete", "/api/session"),
     ("get", "/api/drafts/1/pages/1/image"), ("patch", "/api/drafts/1"), ("get", "/api/drafts/1/candidates"),
     ("post", "/api/queue/next"), ("post", "/api/drafts/1/assignee")],
)  # fmt: skip
def test_without_a_session_every_route_is_401(world: World, method: str, path: str) -> None:
    r = world.client().request(method, path, json={"version": 1, "action": "query", "note": "x", "fields": {}})
    assert r.status_code == 401 and r.json() == {"detail": "sign in first"}


def test_pages_without_a_session_go_to_the_sign_in_page(world: World) -> None:
    c = world.client()
    for path in ("/", "/queue", f"/drafts/{world.drafts['fresh']}", "/audit", "/patients/1"):
        r = c.get(path, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/login", path
    assert "Sign in" in c.get("/login").text


@pytest.mark.parametrize(
    "user,method,path,status",
    [
        ("al", "get", "/api/queue", 403), ("al", "get", "/api/drafts/{fresh}", 403),
        ("al", "get", "/api/patients/MRN0000001", 403), ("al", "post", "/api/drafts/{fresh}/decision", 403),
        ("al", "get", "/api/drafts/{fresh}/pages/1/image", 403), ("tina", "get", "/api/audit", 403),
        ("sue", "get", "/api/audit", 403), ("ada", "get", "/api/queue", 403), ("ada", "get", "/api/audit", 403),
        ("tina", "post", "/api/drafts/{fresh}/assignee", 403),
        ("al", "get", "/api/drafts/{fresh}/candidates", 403), ("al", "post", "/api/queue/next", 403),
        ("al", "patch", "/api/drafts/{fresh}", 403), ("ada", "post", "/api/queue/next", 403),
        ("al", "post", "/api/drafts/{fresh}/assignee", 403), ("ada", "post", "/api/drafts/{fresh}/assignee", 403),
        ("tina", "get", "/api/queue", 200), ("sue", "get", "/api/queue", 200), ("al", "get", "/api/audit", 200),
        ("sue", "post", "/api/drafts/{fresh}/assignee", 204), ("tina", "get", "/api/drafts/{fresh}/candidates", 200),
        ("sue", "get", "/api/patients/MRN0000001", 200),
    ],
)  # fmt: skip
def test_each_role_may_do_only_what_it_needs(world: World, user: str, method: str, path: str, status: int) -> None:
    c = world.client(user)
    body: dict[str, object] = {"username": "tom"}
    if path.endswith("decision"):
        body = {"version": 1, "action": "query", "note": "why?"}
    elif method == "patch":
        body = {"version": 1, "fields": {}}
    r = c.request(method, path.format(fresh=world.drafts["fresh"]), json=body if method in ("post", "patch") else None)
    assert r.status_code == status, r.text
    if status == 403:
        assert r.json() == {"detail": "your role may not do this"}


def test_login_sets_a_locked_down_cookie_and_returns_the_csrf_token(world: World) -> None:
    c = world.client()
    r = c.post("/api/session", json={"username": "tina", "password": PASSWORD})
    assert r.status_code == 200 and len(r.json()["csrf_token"]) >= 32 and r.json()["role"] == "technician"
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "secure" in cookie and "samesite=strict" in cookie
    with world.session() as s:  # the table holds a digest, not the token
        stored = s.scalars(select(WebSession.token_sha256)).all()
    assert stored and c.cookies.get("cm_session") not in stored


def test_bad_credentials_are_401_and_repeated_failures_lock_the_account(world: World) -> None:
    c = world.client()
    assert c.post("/api/session", json={"username": "nobody", "password": "x" * 12}).status_code == 401
    for _ in range(world.settings.lockout_failures):
        r = c.post("/api/session", json={"username": "tom", "password": "wrong password!"})
        assert r.status_code == 401
    r = c.post("/api/session", json={"username": "tom", "password": PASSWORD})  # right password, still locked
    assert r.status_code == 401 and "locked" in r.json()["detail"]
    assert c.post("/api/session", json={"username": "tina", "password": PASSWORD}).status_code == 200
    from review_ui import services

    with world.session() as s:
        services.unlock(s, None, "tom")
        s.commit()
    assert c.post("/api/session", json={"username": "tom", "password": PASSWORD}).status_code == 200


def test_an_idle_session_expires(world: World) -> None:
    c = world.client("tina")
    assert c.get("/api/queue").status_code == 200
    with world.session() as s:
        idle = timedelta(minutes=world.settings.session_idle_min + 1)
        s.execute(update(WebSession).values(last_seen_at=utcnow() - idle))
        s.commit()
    assert c.get("/api/queue").status_code == 401
    with world.session() as s:
        assert s.scalar(select(func.count()).select_from(WebSession)) == 0
        assert "session_expired" in s.scalars(select(AuditEvent.action)).all()


def test_logout_ends_the_session(world: World) -> None:
    c = world.client("tina")
    assert c.delete("/api/session").status_code == 204
    assert c.get("/api/queue").status_code == 401


def test_state_changing_calls_need_the_csrf_token(world: World) -> None:
    c = world.client("tina")
    draft = world.drafts["fresh"]
    token = c.headers.pop("X-CSRF-Token")
    body = {"version": 1, "action": "query", "note": "which birth date is right?"}
    assert c.post(f"/api/drafts/{draft}/decision", json=body).status_code == 403
    r = c.post(f"/api/drafts/{draft}/decision", json=body, headers={"X-CSRF-Token": "forged"})
    assert r.status_code == 403 and r.json() == {"detail": "missing or wrong CSRF token"}
    assert c.patch(f"/api/drafts/{draft}", json={"version": 1, "fields": {}}).status_code == 403
    assert c.delete("/api/session").status_code == 403
    assert draft_version(world, draft) == 1  # nothing happened
    assert c.post(f"/api/drafts/{draft}/decision", json=body, headers={"X-CSRF-Token": token}).status_code == 200


def test_queue_is_highest_priority_first_then_oldest_with_reasons(world: World) -> None:
    items = world.client("tina").get("/api/queue").json()
    ids = [int(i["id"]) for i in items]
    d = world.drafts
    # possible duplicate (40 + new... no: review) > inconsistent birth dates (25 + 5) > new patients by age
    assert ids == [d["dupe"], d["bad-dates"], d["older-fresh"], d["fresh"]]
    assert items[0]["reasons"] == ["possible duplicate (1 candidate)"]
    assert "1 inconsistency" in items[1]["reasons"]
    assert set(items[0]) >= {"id", "status", "priority", "reasons", "received_at"}
    assert [i["priority"] for i in items] == sorted((i["priority"] for i in items), reverse=True)
    only = world.client("tina").get("/api/queue", params={"reason": "duplicate"}).json()
    assert [int(i["id"]) for i in only] == [d["dupe"]]


def test_opening_a_draft_claims_it_and_others_see_it_taken(world: World) -> None:
    tina, tom = world.client("tina"), world.client("tom")
    draft = world.drafts["fresh"]
    got = tina.get(f"/api/drafts/{draft}").json()
    assert got["claimed_by"] == "tina" and got["status"] == "in_review" and got["version"] == 1
    assert got["patient"]["given_name"]["value"] == world.strangers[0]["given_name"]
    assert got["source"]["pages"][0]["image_url"] == f"/api/drafts/{draft}/pages/1/image"
    seen = tom.get(f"/api/drafts/{draft}").json()
    assert seen["claimed_by"] == "tina"
    assert {i["id"]: i["claimed_by"] for i in tom.get("/api/queue").json()}[str(draft)] == "tina"
    r = tom.patch(f"/api/drafts/{draft}", json={"version": 1, "fields": {"patient": {"sex": "F"}}})
    assert r.status_code == 409 and "being reviewed by tina" in r.json()["detail"]
    # an abandoned claim lapses
    with world.session() as s:
        s.execute(update(ReviewClaim).values(expires_at=utcnow() - timedelta(seconds=1)))
        s.commit()
    back = {i["id"]: i for i in tom.get("/api/queue").json()}[str(draft)]
    assert (back["status"], back["claimed_by"]) == ("pending_review", None)
    assert tom.get(f"/api/drafts/{draft}").json()["claimed_by"] == "tom"


def test_a_supervisor_reassigns_a_claimed_draft(world: World) -> None:
    tina, tom, sue = world.client("tina"), world.client("tom"), world.client("sue")
    draft = world.drafts["fresh"]
    tina.get(f"/api/drafts/{draft}")
    assert sue.post(f"/api/drafts/{draft}/assignee", json={"username": "tom"}).status_code == 204
    assert tom.get(f"/api/drafts/{draft}").json()["claimed_by"] == "tom"
    r = tina.patch(f"/api/drafts/{draft}", json={"version": 1, "fields": {"patient": {"sex": "F"}}})
    assert r.status_code == 409
    assert (
        tom.patch(f"/api/drafts/{draft}", json={"version": 1, "fields": {"patient": {"sex": "F"}}}).status_code == 200
    )
    assert sue.post(f"/api/drafts/{draft}/assignee", json={"username": "al"}).status_code == 422  # not a reviewer


def test_a_stale_save_is_409_and_overwrites_nothing(world: World) -> None:
    c = world.client("tina")
    draft = world.drafts["fresh"]
    c.get(f"/api/drafts/{draft}")
    first = c.patch(f"/api/drafts/{draft}", json={"version": 1, "fields": {"patient": {"given_name": "Ann"}}})
    assert first.status_code == 200 and first.json() == {
        "id": str(draft),
        "version": 2,
        "changed": ["patient.given_name"],
    }
    stale = c.patch(f"/api/drafts/{draft}", json={"version": 1, "fields": {"patient": {"given_name": "Bob"}}})
    assert stale.status_code == 409 and "changed since you opened it" in stale.json()["detail"]
    body = {"version": 1, "action": "query", "note": "?"}
    assert c.post(f"/api/drafts/{draft}/decision", json=body).status_code == 409
    got = c.get(f"/api/drafts/{draft}").json()
    assert got["patient"]["given_name"]["value"] == "Ann" and got["version"] == 2
    assert got["patient"]["given_name"]["confidence"] == 1.0 and got["patient"]["given_name"]["page"] == 1


def test_edits_add_change_and_remove_list_rows(world: World) -> None:
    c = world.client("tina")
    draft = world.drafts["fresh"]
    rec = c.get(f"/api/drafts/{draft}").json()
    dx = [{"text": d["text"]["value"], "code": d["code"]["value"], "negated": d["negated"]} for d in rec["diagnoses"]]
    fields = {
        "diagnoses": [dx[0], {"text": "asthma", "code": "J45.909", "negated": False}],  # chest pain removed
        "medications": [{"name": "metformin", "dose": "1000 mg", "route": "PO", "frequency": "BID"}],
        "allergies": [],
    }
    r = c.patch(f"/api/drafts/{draft}", json={"version": 1, "fields": fields})
    assert r.status_code == 200 and set(r.json()["changed"]) == {"diagnoses", "medications", "allergies"}
    got = c.get(f"/api/drafts/{draft}").json()
    assert [d["code"]["value"] for d in got["diagnoses"]] == ["I10", "J45.909"]
    assert got["diagnoses"][0]["temporality"] == "historical"  # the assertion stays with its row
    assert got["medications"][0]["dose"]["value"] == "1000 mg" and got["allergies"] == []


@pytest.mark.parametrize(
    "fields,message",
    [
        ({"patient": {"birth_date": "1956-13-45"}}, "birth_date must be a date"),
        ({"patient": {"birth_date": "2999-01-01"}}, "future"),
        ({"patient": {"sex": "Q"}}, "sex must be"),
        ({"patient": {"state": "Ohio"}}, "state must be"),
        ({"patient": {"phone": "555-12"}}, "phone must be"),
        ({"patient": {"favourite_colour": "blue"}}, "unknown patient field"),
        ({"vitals": []}, "unknown section"),
        ({"diagnoses": "asthma"}, "must be a list"),
    ],
)
def test_invalid_edits_are_422_without_echoing_values(world: World, fields: dict, message: str) -> None:
    c = world.client("tina")
    draft = world.drafts["fresh"]
    r = c.patch(f"/api/drafts/{draft}", json={"version": 1, "fields": fields})
    assert r.status_code == 422 and message in r.json()["detail"]
    for value in ("1956-13-45", "Ohio", "555-12", "blue"):
        assert value not in r.text
    assert draft_version(world, draft) == 1


def test_new_patient_gets_an_mrn_and_the_data_lands_in_verified_tables(world: World) -> None:
    c = world.client("tina")
    draft = world.drafts["fresh"]
    version = c.get(f"/api/drafts/{draft}").json()["version"]
    r = c.post(f"/api/drafts/{draft}/decision", json={"version": version, "action": "new"})
    assert r.status_code == 200, r.text
    mrn = r.json()["mrn"]
    assert r.json()["status"] == "verified" and mrn.startswith("CM") and index.luhn_valid(mrn, "CM")
    with world.session() as s:
        doc_id = s.scalar(select(Draft.document_id).where(Draft.id == draft))
        dx = s.scalars(select(PatientDiagnosis).order_by(PatientDiagnosis.id)).all()
        assert [(d.code, d.negated, d.temporality, d.document_id, d.page) for d in dx] == [
            ("I10", False, "historical", doc_id, 1), ("R07.9", True, "recent", doc_id, 2)
        ]  # fmt: skip
        assert s.scalar(select(func.count()).select_from(PatientEncounter)) == 1
        assert s.scalar(select(PatientMedication.dose)) == "500 mg"
        assert s.scalar(select(PatientAllergy.substance)) == "penicillin"
    record = c.get(f"/api/patients/{mrn}").json()
    assert record["identity"]["family_name"] == world.strangers[0]["family_name"]
    assert record["diagnoses"][1]["source"] == {"document_id": str(doc_id), "page": 2}
    assert record["drafts"] == [str(draft)]
    again = c.post(f"/api/drafts/{draft}/decision", json={"version": version + 1, "action": "new"})
    assert again.status_code == 409 and "already decided" in again.json()["detail"]
    assert c.get("/api/queue").json()[-1]["id"] != str(draft)


def test_new_patient_is_refused_when_the_index_holds_a_likely_record(world: World) -> None:
    c = world.client("tina")
    draft = world.drafts["dupe"]
    with world.session() as s:
        before = s.scalar(select(func.count()).select_from(MrnAllocation))
    r = c.post(f"/api/drafts/{draft}/decision", json={"version": 1, "action": "new"})
    assert r.status_code == 409 and "possible record" in r.json()["detail"]
    with world.session() as s:
        assert s.scalar(select(func.count()).select_from(MrnAllocation)) == before
        assert s.scalar(select(Draft.status).where(Draft.id == draft)) == "pending_review"


def test_link_joins_the_draft_to_an_existing_patient(world: World) -> None:
    c = world.client("tina")
    draft, known = world.drafts["dupe"], world.patients[5]
    cands = c.get(f"/api/drafts/{draft}/candidates").json()
    assert cands[0]["mrn"] == known["id"] and cands[0]["identity"]["family_name"] == known["family_name"]
    assert c.post(f"/api/drafts/{draft}/decision", json={"version": 1, "action": "link"}).status_code == 422
    missing = c.post(f"/api/drafts/{draft}/decision", json={"version": 1, "action": "link", "mrn": "MRN9999999"})
    assert missing.status_code == 404
    with world.session() as s:
        index.merge(s, world.patients[6]["id"], world.patients[7]["id"], "sue")
        s.commit()
    merged = c.post(
        f"/api/drafts/{draft}/decision", json={"version": 1, "action": "link", "mrn": world.patients[7]["id"]}
    )
    assert merged.status_code == 409 and "merged" in merged.json()["detail"]
    r = c.post(f"/api/drafts/{draft}/decision", json={"version": 1, "action": "link", "mrn": known["id"]})
    assert r.status_code == 200 and r.json()["mrn"] == known["id"]
    record = c.get(f"/api/patients/{known['id']}").json()
    assert [d["code"] for d in record["diagnoses"]] == ["I10", "R07.9"] and record["drafts"] == [str(draft)]


@pytest.mark.parametrize("action,status", [("reject", "rejected"), ("query", "query")])
def test_reject_and_query_need_a_note_and_keep_it(world: World, action: str, status: str) -> None:
    c = world.client("tina")
    draft = world.drafts["bad-dates"]
    assert c.post(f"/api/drafts/{draft}/decision", json={"version": 1, "action": action}).status_code == 422
    r = c.post(f"/api/drafts/{draft}/decision", json={"version": 1, "action": action, "note": "page 2 unreadable"})
    assert r.status_code == 200 and r.json()["status"] == status
    got = c.get(f"/api/drafts/{draft}").json()
    assert got["decision"]["action"] == action and got["decision"]["note"] == "page 2 unreadable"
    if action == "query":  # a query waits in its own state and can still be decided
        assert [i["id"] for i in c.get("/api/queue", params={"status": "query"}).json()] == [str(draft)]
    else:
        assert str(draft) not in [i["id"] for i in c.get("/api/queue").json()]


def test_page_images_only_for_reviewers_and_never_cached(world: World) -> None:
    c = world.client("tina")
    draft = world.drafts["fresh"]
    r = c.get(f"/api/drafts/{draft}/pages/2/image")
    assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg" and r.content[:2] == b"\xff\xd8"
    assert r.headers["cache-control"] == "private, no-store"
    assert c.get(f"/api/drafts/{draft}/pages/3/image").status_code == 404
    assert c.get("/api/drafts/99999/pages/1/image").status_code == 404


def test_the_audit_trail_records_logins_views_and_changes_without_values(world: World) -> None:
    world.client().post("/api/session", json={"username": "tina", "password": "not her password"})
    c = world.client("tina")
    draft = world.drafts["fresh"]
    c.get("/api/queue")
    c.get(f"/api/drafts/{draft}")
    c.get(f"/api/drafts/{draft}/pages/1/image")
    c.patch(f"/api/drafts/{draft}", json={"version": 1, "fields": {"patient": {"given_name": "Zelda"}}})
    c.post(f"/api/drafts/{draft}/decision", json={"version": 2, "action": "query", "note": "?"})
    al = world.client("al")
    events = al.get("/api/audit", params={"user": "tina"}).json()
    actions = [e["action"] for e in events]
    for expected in ("login_failed", "login", "view_queue", "claim", "view_draft", "view_page", "save_draft", "decide"):
        assert expected in actions, (expected, actions)
    assert all(set(e) >= {"at", "user", "action", "object", "ip"} for e in events)
    save = next(e for e in events if e["action"] == "save_draft")
    assert save["object"] == f"draft:{draft}" and save["detail"] == {"changed": ["patient.given_name"]}
    assert "Zelda" not in str(events) and world.strangers[0]["family_name"] not in str(events)
    by_object = al.get("/api/audit", params={"object": f"draft:{draft}"}).json()
    assert by_object and {e["object"] for e in by_object} == {f"draft:{draft}"}
    reads = [e for e in al.get("/api/audit", params={"user": "al"}).json() if e["action"] == "view_audit"]
    assert len(reads) >= 2  # reading the trail is itself recorded


def test_the_audit_trail_is_append_only_in_the_database(world: World) -> None:
    world.client("tina")
    refused = (DatabaseError, IntegrityError, InternalError, OperationalError)
    with world.session() as s, pytest.raises(refused):
        s.execute(update(AuditEvent).values(action="nothing"))
        s.commit()
    with world.session() as s, pytest.raises(refused):
        s.execute(delete(AuditEvent))
        s.commit()
    if world.settings.database_url.startswith("postgresql"):  # SQLite has no TRUNCATE
        with world.session() as s, pytest.raises(refused):
            s.execute(text("TRUNCATE audit_events"))
            s.commit()
    with world.session() as s:
        assert "login" in s.scalars(select(AuditEvent.action)).all()


def test_security_headers_and_no_phi_in_validation_errors(world: World) -> None:
    c = world.client("tina")
    for path in ("/api/queue", "/queue", f"/drafts/{world.drafts['fresh']}"):
        h = c.get(path).headers
        assert (
            "default-src 'self'" in h["content-security-policy"]
            and "frame-ancestors 'none'" in h["content-security-policy"]
        )
        assert h["x-content-type-options"] == "nosniff" and h["x-frame-options"] == "DENY"
        assert h["cache-control"] == "no-store" and h["referrer-policy"] == "no-referrer"
    r = world.client().post("/api/session", json={"username": "tina", "password": PASSWORD, "dob": "Smith 1956"})
    assert r.status_code == 422 and "Smith" not in r.text and "1956" not in r.text


def test_an_unexpected_failure_is_a_500_without_phi_in_the_answer_or_the_log(
    world: World, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from review_ui import services

    def broken(*_a: object, **_k: object) -> None:
        raise RuntimeError("patient Smith born 1956-03-04")

    monkeypatch.setattr(services, "queue", broken)
    c = world.client("tina")
    for path in ("/api/queue", "/queue"):
        r = c.get(path)
        assert r.status_code == 500 and "Smith" not in r.text and "1956" not in r.text
        assert "not carried out" in r.text
    assert "Smith" not in caplog.text and "1956" not in caplog.text
    assert "unhandled RuntimeError in GET /api/queue" in caplog.text
    assert c.get(f"/api/drafts/{world.drafts['fresh']}").status_code == 200  # the app goes on


def test_next_claims_different_drafts_for_technicians_asking_at_once(world: World) -> None:
    from review_ui import services

    with world.session() as s:
        for name in ("tess", "ted", "tia"):
            services.add_user(s, name, "technician", PASSWORD)
        s.commit()
    clients = [world.client(u) for u in ("tina", "tom", "tess", "ted")]
    got, errors = run_together([lambda c=c: c.post("/api/queue/next") for c in clients])
    assert errors == []
    assert sorted(r.status_code for r in got) == [200, 200, 200, 200]
    assert sorted(int(r.json()["id"]) for r in got) == sorted(world.drafts.values())  # four drafts, four people
    assert world.client("tia").post("/api/queue/next").status_code == 404  # all held
    with world.session() as s:
        assert s.scalar(select(func.count()).select_from(ReviewClaim)) == 4


def test_a_hash_made_with_older_settings_is_upgraded_at_sign_in(world: World) -> None:
    from argon2 import PasswordHasher

    from migrate.db.models import User

    with world.session() as s:
        s.execute(update(User).where(User.username == "tom").values(password_hash=PasswordHasher().hash(PASSWORD)))
        s.commit()
    world.client("tom")
    with world.session() as s:
        stored = s.scalar(select(User.password_hash).where(User.username == "tom"))
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    world.client("tom")  # and the new hash still checks


def test_removing_a_row_leaves_the_others_their_place_on_the_page_and_their_assertion(world: World) -> None:
    c = world.client("tina")
    draft = world.drafts["fresh"]
    rec = c.get(f"/api/drafts/{draft}").json()
    second = rec["diagnoses"][1]  # chest pain, denied, on page 2
    # An API client sends the rows it keeps, as the draft gave them, without row indices.
    r = c.patch(f"/api/drafts/{draft}", json={"version": 1, "fields": {"diagnoses": [second]}})
    assert r.status_code == 200 and r.json()["changed"] == ["diagnoses"]
    (kept,) = c.get(f"/api/drafts/{draft}").json()["diagnoses"]
    assert kept == second  # page, box, confidence, negation and its trigger: all its own
    # A corrected row sent with its index keeps its place; one without index or match is the reviewer's.
    rows = [
        {"row": 0, "text": "chest pain, atypical", "code": "R07.89", "negated": True},
        {"text": "gout", "code": "M10.9"},
    ]
    assert c.patch(f"/api/drafts/{draft}", json={"version": 2, "fields": {"diagnoses": rows}}).status_code == 200
    fixed, added = c.get(f"/api/drafts/{draft}").json()["diagnoses"]
    assert fixed["code"]["value"] == "R07.89" and fixed["code"]["page"] == 2 and fixed["code"]["rule"] == "reviewer"
    assert fixed["assertion_triggers"] == ["negated:denies"] and fixed["negated"] is True
    assert added["code"]["page"] is None and added["assertion_triggers"] == ["reviewer"]


def test_values_sent_back_unchanged_keep_their_extraction_confidence(world: World) -> None:
    c = world.client("tina")
    draft = world.drafts["fresh"]
    rec = c.get(f"/api/drafts/{draft}").json()
    plain = {k: v["value"] for k, v in rec["patient"].items() if v}
    lists = {
        "encounters": [{"date": "2020-01-02", "type": "office visit", "provider": "Dr. Ann Lee"}],
        "medications": [{"name": "metformin", "dose": "500 mg", "route": "PO", "frequency": "BID"}],
        "allergies": [{"substance": "penicillin", "reaction": "hives"}],
    }
    r = c.patch(f"/api/drafts/{draft}", json={"version": 1, "fields": {"patient": plain, **lists}})
    assert r.status_code == 200 and r.json()["changed"] == []
    after = c.get(f"/api/drafts/{draft}").json()
    assert after["patient"] == rec["patient"] and after["encounters"] == rec["encounters"]
    assert {i["action"] for i in world.client("al").get("/api/audit", params={"object": f"draft:{draft}"}).json()} >= {
        "save_draft"
    }
