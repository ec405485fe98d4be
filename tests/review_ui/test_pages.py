"""The server-rendered pages: sign-in with its own CSRF token, queue, draft, patient, audit."""

from __future__ import annotations

import re

from tests.review_ui.conftest import PASSWORD, World


def _login_form(world: World, user: str, password: str = PASSWORD):  # type: ignore[no-untyped-def]
    c = world.client()
    page = c.get("/login")
    token = re.search(r'name="login_csrf" value="([^"]+)"', page.text)
    assert token is not None
    r = c.post("/login", data={"username": user, "password": password, "login_csrf": token.group(1)},
               follow_redirects=False)  # fmt: skip
    return c, r


def test_sign_in_form_needs_its_token_and_leads_to_the_queue(world: World) -> None:
    c = world.client()
    c.get("/login")
    forged = c.post("/login", data={"username": "tina", "password": PASSWORD, "login_csrf": "x"})
    assert forged.status_code == 403
    c, r = _login_form(world, "tina")
    assert r.status_code == 303 and r.headers["location"] == "/"
    assert c.get("/", follow_redirects=False).headers["location"] == "/queue"
    _, bad = _login_form(world, "tina", "wrong password!!")
    assert bad.status_code == 401 and "wrong username or password" in bad.text


def test_queue_page_lists_drafts_with_reasons_and_filters(world: World) -> None:
    c, _ = _login_form(world, "tina")
    page = c.get("/queue").text
    order = [int(x) for x in re.findall(r'<tr class="[^"]*" data-draft="(\d+)"', page)]
    assert order == [world.drafts[k] for k in ("dupe", "bad-dates", "older-fresh", "fresh")]
    assert "possible duplicate (1 candidate)" in page and "1 inconsistency" in page
    only = c.get("/queue", params={"reason": "inconsisten"}).text
    assert re.findall(r'data-draft="(\d+)"', only) == [str(world.drafts["bad-dates"])]


def test_draft_page_shows_scan_fields_assertions_and_candidates(world: World) -> None:
    c, _ = _login_form(world, "tina")
    draft = world.drafts["dupe"]
    page = c.get(f"/drafts/{draft}").text
    assert f'src="/api/drafts/{draft}/pages/1/image"' in page and f'src="/api/drafts/{draft}/pages/2/image"' in page
    given = world.patients[5]["given_name"]
    assert re.search(
        rf'name="patient.given_name" value="{re.escape(given)}" data-page="1" data-bbox="10,10,60,20"', page
    )
    assert "chronic:hypertension" in page and "negated:denies" in page  # why each assertion was made
    assert f'data-mrn="{world.patients[5]["id"]}"' in page and "Link to" in page
    assert 'data-testid="taken"' not in page
    tom, _ = _login_form(world, "tom")
    taken = tom.get(f"/drafts/{draft}").text
    assert "Taken by tina: read only." in taken and "<fieldset disabled>" in taken and "Link to" not in taken


def test_next_opens_the_highest_priority_draft_nobody_holds(world: World) -> None:
    tina, _ = _login_form(world, "tina")
    tom, _ = _login_form(world, "tom")
    assert tina.get("/next", follow_redirects=False).headers["location"] == f"/drafts/{world.drafts['dupe']}"
    tina.get(f"/drafts/{world.drafts['dupe']}")
    assert tom.get("/next", follow_redirects=False).headers["location"] == f"/drafts/{world.drafts['bad-dates']}"


def test_audit_page_for_auditors_only(world: World) -> None:
    tina, _ = _login_form(world, "tina")
    assert tina.get("/audit").status_code == 403
    al, _ = _login_form(world, "al")
    assert al.get("/", follow_redirects=False).headers["location"] == "/audit"
    page = al.get("/audit", params={"user": "tina"}).text
    assert "login" in page and "tina" in page and "Append-only" in page
    assert al.get("/queue").status_code == 403


def test_sign_out_form_needs_the_csrf_token(world: World) -> None:
    c, _ = _login_form(world, "tina")
    assert c.post("/logout", data={"csrf": "forged"}).status_code == 403
    assert c.get("/queue").status_code == 200
    token = re.search(r'<meta name="csrf-token" content="([^"]+)"', c.get("/queue").text)
    assert token is not None
    r = c.post("/logout", data={"csrf": token.group(1)}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login"
    assert c.get("/queue", follow_redirects=False).status_code == 303


def test_patient_page_shows_verified_rows_with_sources(world: World) -> None:
    api = world.client("tina")
    draft = world.drafts["fresh"]
    mrn = api.post(f"/api/drafts/{draft}/decision", json={"version": 1, "action": "new"}).json()["mrn"]
    pid = api.get(f"/api/patients/{mrn}").json()["id"]
    c, _ = _login_form(world, "tina")
    page = c.get(f"/patients/{pid}").text
    assert mrn in page and "I10" in page and "penicillin" in page and "page 2" in page
    assert f'href="/patients/{pid}"' in c.get(f"/drafts/{draft}").text  # the decided draft links by row id
    assert c.get("/patients/999999").status_code == 404
    assert c.get(f"/patients/{mrn}").status_code == 422  # an MRN is no page address
