"""The review web app in a real browser: Debian's Chromium driven by Playwright, against `chartmigrate serve`.

The module's fixture loads the sample index, ingests the six sample charts (real OCR), adds one
person per role and starts the server on a free port, all on the run's database backend. The
drafts are shared out among the tests by what the matcher decided (see ``Drafts``): each test that
decides a draft owns one; the others view, save or conflict on one draft that stays open. Only
tech1 decides (after a decision the page opens the next draft, which claims it for tech1), so the
second technician never finds a draft of a test taken by surprise.

With CM_SCREENSHOTS=DIR the queue and the draft view are saved there as queue.png and draft.png
(the pictures of docs/).
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
from playwright.sync_api import APIResponse, Browser, BrowserContext, Page, ViewportSize, expect, sync_playwright
from sqlalchemy import select

from migrate.db.models import Document, Draft
from migrate.db.session import dispose_engine, unit_of_work
from migrate.settings import Settings
from tests.conftest import cli_env

pytestmark = pytest.mark.shared_database  # one ingest and one server for the module

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "samples"
CHROMIUM = "/usr/bin/chromium"
VIEWPORT: ViewportSize = {"width": 1440, "height": 900}
ROLES = {"tech1": "technician", "tech2": "technician", "sup1": "supervisor", "aud1": "auditor"}
LISTS = ("encounters", "diagnoses", "procedures", "medications", "allergies")
SHOTS = os.environ.get("CM_SCREENSHOTS")

expect.set_options(timeout=15_000)  # a shared two-core machine: generous, and only ever a ceiling


def password(user: str) -> str:
    return f"{user}-correct-horse-battery"


# --------------------------------------------------------------------------------------------
# The server and its data
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Drafts:
    link: int  # the matcher found an existing patient: linked to it
    new: int  # nobody like this patient in the index: becomes a new patient
    edit: int  # several pages, stays open: viewed, saved, conflicted on, taken
    reject: int
    query: int
    audit: int  # decided in the audit test, which then reads the trail of it


@dataclass(frozen=True)
class Server:
    url: str
    home: Path
    drafts: Drafts


def _cli(home: Path, *args: str, stdin: str | None = None) -> None:
    r = subprocess.run(
        [sys.executable, "-m", "migrate", *args],
        env=cli_env(home),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert r.returncode == 0, f"chartmigrate {args[0]} exited {r.returncode}: {r.stdout}\n{r.stderr}"


def _share_out(settings: Settings) -> Drafts:
    """Drafts for the tests, by the matcher's decision, read from the database (reading through the
    API would claim them)."""
    with unit_of_work(settings.database_url) as session:
        rows = session.execute(
            select(Draft.id, Draft.data, Document.page_count)
            .join(Document, Document.id == Draft.document_id)
            .order_by(Draft.id)
        ).all()
    dispose_engine(settings.database_url)
    assert len(rows) == 6, f"{len(rows)} drafts from the six sample charts"

    def value(data: dict[str, Any], key: str) -> Any:
        f = (data.get("patient") or {}).get(key)
        return f.get("value") if isinstance(f, dict) else f

    def decision(data: dict[str, Any]) -> str:
        return str((data.get("match") or {}).get("decision"))

    linkable = [r.id for r in rows if decision(r.data) in ("link", "review") and r.data["match"].get("candidates")]
    new = [
        r.id
        for r in rows
        if decision(r.data) == "new" and all(value(r.data, k) for k in ("given_name", "family_name", "birth_date"))
    ]
    assert linkable, "no sample chart matches a patient of samples/existing_patients.csv"
    assert new, "every sample chart matches a patient of the index"
    rest = [r for r in rows if r.id not in (linkable[0], new[0])]
    edit = max(rest, key=lambda r: (r.page_count or 0, -r.id))
    assert (edit.page_count or 0) >= 2, "no sample chart left with several pages"
    others = [r.id for r in rest if r.id != edit.id]
    assert len(others) >= 3, "too few sample charts for the tests"
    return Drafts(linkable[0], new[0], edit.id, others[0], others[1], others[2])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_until_up(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"chartmigrate serve exited {proc.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"{url}/login", timeout=2) as r:
                if r.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError):
            pass
        time.sleep(0.05)  # polling for the port to open
    pytest.fail(f"chartmigrate serve did not answer within {timeout} s:\n{log.read_text()}")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, module_database_url: str | None) -> Iterator[Server]:
    home = tmp_path_factory.mktemp("review") / "data"
    home.mkdir()
    _cli(home, "mpi", "import", str(SAMPLES / "existing_patients.csv"), "--by", "test")  # before the ingest matches
    url = f"http://127.0.0.1:{_free_port()}"
    log_path = home / "serve.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "migrate", "serve", "--host", "127.0.0.1", "--port", url.rsplit(":", 1)[1]],
            env=cli_env(home),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            # the people and the server start while the charts are read
            with ThreadPoolExecutor(max_workers=1 + len(ROLES)) as pool:
                jobs = [pool.submit(_cli, home, "ingest", str(SAMPLES / "charts"))]
                jobs += [
                    pool.submit(
                        _cli, home, "user", "add", user, "--role", role, "--password-stdin", stdin=password(user) + "\n"
                    )
                    for user, role in ROLES.items()
                ]
                _wait_until_up(url, proc, log_path)
                for job in jobs:
                    job.result()
            yield Server(url, home, _share_out(Settings(home=home)))
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


# --------------------------------------------------------------------------------------------
# The browser
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing (apt-get install chromium); the tests download no browser")
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"], headless=True)
        yield chromium
        chromium.close()


@dataclass
class Browsing:
    """Browser contexts (each its own cookies: one signed-in person) for one test."""

    browser: Browser
    server: Server
    contexts: list[BrowserContext] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # script errors and CSP violations

    def page(self, user: str | None = None) -> Page:
        context = self.browser.new_context(base_url=self.server.url, viewport=VIEWPORT)
        context.set_default_timeout(20_000)
        self.contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda e: self.problems.append(f"{page.url}: {e}"))
        page.on(
            "console",
            lambda m: self.problems.append(f"{page.url}: {m.text}") if "Content Security Policy" in m.text else None,
        )
        page.on("dialog", lambda d: d.accept())  # e.g. "leave the page?" after unsaved edits
        if user is not None:
            sign_in(page, user)
        return page


@pytest.fixture
def browsing(browser: Browser, server: Server) -> Iterator[Browsing]:
    b = Browsing(browser, server)
    yield b
    for context in b.contexts:
        context.close()
    assert not b.problems, "script errors or Content-Security-Policy violations:\n" + "\n".join(b.problems)


def sign_in(page: Page, user: str, secret: str | None = None) -> None:
    page.goto("/login")
    page.get_by_label("Username").fill(user)
    page.get_by_label("Password").fill(secret or password(user))
    page.get_by_role("button", name="Sign in").click()
    if secret is None:
        expect(page.get_by_test_id("who")).to_have_text(f"{user} · {ROLES[user]}")


def api(page: Page, method: str, path: str, body: dict[str, Any] | None = None) -> APIResponse:
    """The JSON API with the page's session (its cookie) and CSRF token (from the page)."""
    token = page.locator('meta[name="csrf-token"]').get_attribute("content") or ""
    return page.request.fetch(path, method=method, data=body, headers={"X-CSRF-Token": token})


def get(page: Page, path: str) -> Any:
    r = page.request.get(path)
    assert r.ok, f"GET {path}: {r.status} {r.text()}"
    return r.json()


def value(record: dict[str, Any], key: str) -> Any:
    f = record["patient"].get(key)
    return f.get("value") if isinstance(f, dict) else f


def decided(page: Page, draft_id: int) -> str:
    """Wait for the page to report its decision and open the next draft; the MRN it reported."""
    marker = page.get_by_test_id("decided")
    expect(marker).to_be_attached()
    mrn = marker.get_attribute("data-mrn") or ""
    page.wait_for_url(lambda url: urlparse(url).path != f"/drafts/{draft_id}")
    return mrn


def settle(page: Page) -> None:
    """Wait until the scan's (smooth) scrolling has stopped: for a picture that does not blur."""
    page.evaluate(
        """() => new Promise((done) => {
          const stage = document.getElementById("stage");
          let last = "", same = 0;
          const tick = () => {
            const now = stage ? `${stage.scrollTop},${stage.scrollLeft}` : "";
            same = now === last ? same + 1 : 0;
            last = now;
            if (same >= 5) done(); else requestAnimationFrame(tick);
          };
          requestAnimationFrame(tick);
        })"""
    )


def shoot(page: Page, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / name))


# --------------------------------------------------------------------------------------------
# Tests
# --------------------------------------------------------------------------------------------


def test_sign_in_fails_with_a_wrong_password_then_signs_in_and_out(browsing: Browsing) -> None:
    page = browsing.page()
    page.goto("/queue")
    expect(page).to_have_url(re.compile(r"/login$"))  # nothing without signing in

    sign_in(page, "tech1", "not-the-password-at-all")
    expect(page.get_by_role("alert")).to_have_text("wrong username or password")
    expect(page).to_have_url(re.compile(r"/login$"))
    assert "cm_session" not in {c["name"] for c in page.context.cookies()}

    sign_in(page, "tech1")
    expect(page).to_have_url(re.compile(r"/queue$"))
    session = next(c for c in page.context.cookies() if c["name"] == "cm_session")
    assert session["httpOnly"] and session["secure"] and session["sameSite"] == "Strict"
    assert page.request.get("/api/queue").status == 200

    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    assert "cm_session" not in {c["name"] for c in page.context.cookies()}
    assert page.request.get("/api/queue").status == 401  # the session is gone on the server
    page.goto("/queue")
    expect(page).to_have_url(re.compile(r"/login$"))


def test_queue_lists_drafts_highest_priority_first_with_reasons(browsing: Browsing) -> None:
    page = browsing.page("tech1")
    expect(page).to_have_url(re.compile(r"/queue$"))
    items = get(page, "/api/queue")
    rows = page.get_by_test_id("queue").locator("tbody tr")
    expect(rows).to_have_count(len(items))
    assert len(items) >= 4

    shown = rows.evaluate_all(
        """rows => rows.map(r => ({
          id: r.dataset.draft,
          priority: Number(r.cells[1].textContent),
          reasons: Array.from(r.cells[2].querySelectorAll(".chip"), c => c.textContent),
        }))"""
    )
    assert [s["id"] for s in shown] == [i["id"] for i in items]
    priorities = [s["priority"] for s in shown]
    assert priorities == sorted(priorities, reverse=True)
    assert priorities[0] > priorities[-1]
    assert [s["reasons"] for s in shown] == [i["reasons"] for i in items]
    assert any(s["reasons"] for s in shown)
    assert shown[0]["reasons"], "the draft on top says why it is there"
    expect(rows.first.locator("a")).to_have_attribute("href", f"/drafts/{items[0]['id']}")
    shoot(page, "queue.png")


def test_draft_shows_its_scan_highlights_fields_and_moves_the_view(browsing: Browsing, server: Server) -> None:
    d = server.drafts.edit
    page = browsing.page("tech1")
    page.goto(f"/drafts/{d}")
    expect(page.get_by_test_id("status")).to_have_text("in review")
    record = get(page, f"/api/drafts/{d}")
    pages = len(record["source"]["pages"])

    visible = page.locator(".sheet:not(.hidden)")
    expect(visible).to_have_count(1)
    expect(visible.locator("img")).to_have_js_property("complete", True)
    assert visible.locator("img").evaluate("img => img.naturalWidth") > 0

    for key in ("given_name", "family_name", "birth_date"):
        expect(page.locator(f"input[name='patient.{key}']")).to_have_value(str(value(record, key)))

    # a field with its place on the page: focusing it shows that page and a box around the words
    placed = page.locator(".pf input[data-bbox]:not([data-bbox=''])")
    assert placed.count() > 0
    places = placed.evaluate_all("inputs => inputs.map(i => [i.name, Number(i.dataset.page)])")
    name, number = max(places, key=lambda p: p[1] != 1)  # another page than the first, if any
    field_input = page.locator(f"input[name='{name}']")
    field_input.focus()
    sheet = page.locator(f".sheet[data-page='{number}']")
    box = sheet.locator(".box")
    expect(box).to_be_visible()
    expect(sheet).not_to_have_class(re.compile(r"\bhidden\b"))
    expect(page.locator("#pageno")).to_have_text(str(number))
    expect(sheet.locator("img")).to_have_js_property("complete", True)
    assert sheet.locator("img").evaluate("img => img.naturalWidth") > 0
    expect(box).to_be_in_viewport()
    # the box sits over the image where the field's bbox says (image pixels times the shown scale)
    x0, y0, x1, y1 = (float(v) for v in (field_input.get_attribute("data-bbox") or "").split(","))
    img_rect, box_rect = sheet.evaluate(
        "s => [s.querySelector('img'), s.querySelector('.box')].map(e => e.getBoundingClientRect().toJSON())"
    )
    scale = img_rect["width"] / float(sheet.get_attribute("data-w") or 1)
    assert box_rect["left"] == pytest.approx(img_rect["left"] + x0 * scale - 4, abs=2)
    assert box_rect["top"] == pytest.approx(img_rect["top"] + y0 * scale - 4, abs=2)
    assert box_rect["width"] == pytest.approx((x1 - x0) * scale + 8, abs=2)
    assert box_rect["height"] == pytest.approx((y1 - y0) * scale + 8, abs=2)
    settle(page)
    shoot(page, "draft.png")

    def size() -> tuple[float, float]:
        r = page.locator(".sheet:not(.hidden)").bounding_box()
        assert r is not None
        return r["width"], r["height"]

    width, height = size()
    assert height > width  # a portrait page, fitted to the viewer's width
    page.locator(".toolbar [data-act=zoomin]").click()
    assert size()[0] == pytest.approx(width * 1.25, rel=0.02)
    page.locator(".toolbar [data-act=zoomout]").click()
    page.locator(".toolbar [data-act=zoomout]").click()
    assert size()[0] == pytest.approx(width / 1.25, rel=0.02)
    page.locator(".toolbar [data-act=fit]").click()
    assert size()[0] == pytest.approx(width, rel=0.02)

    page.locator(".toolbar [data-act=rotate]").click()
    turned = size()
    assert turned[0] > turned[1]  # on its side now
    assert page.locator(".sheet:not(.hidden)").evaluate("s => s.style.transform") == "rotate(90deg)"
    for _ in range(3):
        page.locator(".toolbar [data-act=rotate]").click()
    assert page.locator(".sheet:not(.hidden)").evaluate("s => s.style.transform") == ""

    assert pages >= 2
    step, goal = ("next", number + 1) if number < pages else ("prev", number - 1)
    page.locator(f".toolbar [data-act={step}]").click()
    expect(page.locator("#pageno")).to_have_text(str(goal))
    shown = page.locator(".sheet:not(.hidden)")
    expect(shown).to_have_attribute("data-page", str(goal))
    expect(shown.locator("img")).to_have_js_property("complete", True)
    assert shown.locator("img").evaluate("img => img.naturalWidth") > 0


def test_a_correction_saved_with_ctrl_s_is_stored_with_a_new_version(browsing: Browsing, server: Server) -> None:
    d = server.drafts.edit
    page = browsing.page("tech1")
    page.goto(f"/drafts/{d}")
    before = get(page, f"/api/drafts/{d}")
    new_name = "Marguerite" if value(before, "given_name") != "Marguerite" else "Josephine"

    given = page.locator("input[name='patient.given_name']")
    given.fill(new_name)
    given.press("Control+s")
    expect(page.locator("#msg")).to_have_text("Saved: patient.given_name.")
    expect(page.locator("#msg")).to_be_in_viewport()  # beside the buttons, not below a long form
    expect(page.locator("#draft")).to_have_attribute("data-version", str(before["version"] + 1))

    after = get(page, f"/api/drafts/{d}")
    assert after["version"] == before["version"] + 1
    stored = after["patient"]["given_name"]
    assert stored["value"] == new_name
    assert stored["confidence"] == 1.0 and stored["rule"] == "reviewer"
    was = before["patient"].get("given_name") or {}
    assert (stored["page"], stored["bbox"]) == (was.get("page"), was.get("bbox"))  # its place on the scan kept
    # what the technician did not touch keeps its confidence and provenance
    assert {k: v for k, v in after["patient"].items() if k != "given_name"} == {
        k: v for k, v in before["patient"].items() if k != "given_name"
    }
    for key in LISTS:
        assert after[key] == before[key], key

    page.reload()
    expect(given).to_have_value(new_name)

    # saving again without a change says so, and changes nothing
    page.keyboard.press("Control+s")
    expect(page.locator("#msg")).to_have_text("Saved; nothing had changed.")
    again = get(page, f"/api/drafts/{d}")
    assert {k: again[k] for k in ("patient", *LISTS)} == {k: after[k] for k in ("patient", *LISTS)}


def test_a_removed_row_leaves_the_other_rows_their_places(browsing: Browsing, server: Server) -> None:
    d = server.drafts.edit
    page = browsing.page("tech1")
    page.goto(f"/drafts/{d}")
    before = get(page, f"/api/drafts/{d}")
    name = next(k for k in ("diagnoses", *LISTS) if len(before[k]) >= 2 and before[k][0] != before[k][1])
    rows = page.locator(f"fieldset[data-list='{name}'] tr.row")
    expect(rows).to_have_count(len(before[name]))

    rows.first.get_by_role("button", name="remove").click()
    expect(rows.first).to_be_hidden()
    page.keyboard.press("Control+s")
    expect(page.locator("#msg")).to_have_text(f"Saved: {name}.")

    after = get(page, f"/api/drafts/{d}")
    assert len(after[name]) == len(before[name]) - 1
    for kept, was in zip(after[name], before[name][1:], strict=True):
        assert kept.keys() == was.keys()
        for key, old in was.items():
            if isinstance(old, dict):  # a value read off the page: still pointing at its own words
                assert (kept[key]["value"], kept[key]["page"], kept[key]["bbox"]) == (
                    old["value"],
                    old["page"],
                    old["bbox"],
                ), key
            else:  # e.g. negated, temporality, assertion_triggers
                assert kept[key] == old, key
    for key in LISTS:
        if key != name:
            assert after[key] == before[key], key

    page.reload()
    expect(rows).to_have_count(len(before[name]) - 1)


def test_a_stale_save_is_refused_and_overwrites_nothing(browsing: Browsing, server: Server) -> None:
    d = server.drafts.edit
    mine = browsing.page("tech1")
    mine.goto(f"/drafts/{d}")
    opened = int(mine.locator("#draft").get_attribute("data-version") or 0)
    before = get(mine, f"/api/drafts/{d}")
    stale_name = "Stalename"
    assert value(before, "given_name") != stale_name

    # the same person in a second browser (another session) saves first
    other = browsing.page("tech1")
    other.goto(f"/drafts/{d}")
    middle = "Quinn" if value(before, "middle_name") != "Quinn" else "Rowan"
    other.locator("input[name='patient.middle_name']").fill(middle)
    other.locator("#save").click()
    expect(other.locator("#msg")).to_have_text("Saved: patient.middle_name.")

    mine.locator("input[name='patient.given_name']").fill(stale_name)
    mine.keyboard.press("Control+s")
    msg = mine.locator("#msg")
    expect(msg).to_contain_text("Not saved: this draft changed since you opened it")
    expect(msg).to_have_class(re.compile(r"\bbad\b"))
    expect(msg).to_be_in_viewport()
    expect(mine.locator("#draft")).to_have_attribute("data-version", str(opened))

    after = get(mine, f"/api/drafts/{d}")
    assert after["version"] == opened + 1
    assert value(after, "middle_name") == middle
    assert value(after, "given_name") == value(before, "given_name")
    other.reload()
    expect(other.locator("input[name='patient.given_name']")).to_have_value(str(value(before, "given_name")))
    expect(other.locator("input[name='patient.middle_name']")).to_have_value(middle)


def test_a_second_technician_sees_a_taken_draft_read_only(browsing: Browsing, server: Server) -> None:
    d = server.drafts.edit
    holder = browsing.page("tech1")
    holder.goto(f"/drafts/{d}")
    expect(holder.get_by_test_id("taken")).to_have_count(0)
    version = int(holder.locator("#draft").get_attribute("data-version") or 0)

    other = browsing.page("tech2")
    other.goto(f"/drafts/{d}")
    expect(other.get_by_test_id("taken")).to_have_text("Taken by tech1: read only.")
    expect(other.locator("#draft")).to_have_attribute("data-readonly", "true")
    expect(other.locator("input[name='patient.given_name']")).to_be_disabled()
    expect(other.locator("#save")).to_have_count(0)
    expect(other.locator("#new-patient")).to_have_count(0)
    expect(other.locator("button.link-to")).to_have_count(0)
    expect(other.locator(".sheet:not(.hidden) img")).to_have_js_property("complete", True)
    other.keyboard.press("Control+s")  # nothing to save in a read-only view
    expect(other.locator("#msg")).to_be_empty()

    r = api(other, "PATCH", f"/api/drafts/{d}", {"version": version, "fields": {"patient": {"given_name": "Nope"}}})
    assert r.status == 409
    assert "tech1" in r.json()["detail"]
    assert get(holder, f"/api/drafts/{d}")["version"] == version

    other.goto("/queue")
    row = other.locator(f"tr[data-draft='{d}']")
    expect(row).to_have_class(re.compile(r"\btaken\b"))
    expect(row.locator(".taken-by")).to_have_text("taken by tech1")


def test_linking_a_duplicate_verifies_the_draft_into_the_patient(browsing: Browsing, server: Server) -> None:
    d = server.drafts.link
    page = browsing.page("tech1")
    page.goto(f"/drafts/{d}")
    record = get(page, f"/api/drafts/{d}")
    assert record["match"]["decision"] in ("link", "review")
    mrn = record["match"]["candidates"][0]["mrn"]
    candidate = page.locator(f".cand[data-mrn='{mrn}']")
    expect(candidate).to_be_visible()
    expect(candidate.locator("tr.agree")).not_to_have_count(0)  # the identities side by side

    page.get_by_role("button", name=f"Link to {mrn}").click()
    expect(page.locator("#msg")).to_have_text(f"Linked to {mrn}. Opening the next draft…")
    assert decided(page, d) == mrn

    after = get(page, f"/api/drafts/{d}")
    assert after["status"] == "verified"
    assert after["decision"]["action"] == "link" and after["decision"]["mrn"] == mrn
    assert after["version"] > record["version"]

    patient = get(page, f"/api/patients/{mrn}")
    assert str(d) in patient["drafts"]
    doc = record["document_id"]
    assert doc in patient["sources"]
    for key in LISTS:
        mine = [row for row in patient[key] if row["source"]["document_id"] == doc]
        assert len(mine) == len(record[key]), key
    assert sum(len(record[key]) for key in LISTS) > 0
    assert any(row["source"]["page"] for key in LISTS for row in patient[key])

    page.goto(f"/patients/{patient['id']}")  # pages name a patient by row id, never by MRN
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"Patient {mrn}")
    expect(page.get_by_text(f"document {doc}").first).to_be_visible()

    page.goto(f"/drafts/{d}")  # a decided draft is shown read only, with its decision
    expect(page.get_by_test_id("status")).to_have_text("verified")
    expect(page.get_by_test_id("mrn")).to_have_text(mrn)
    expect(page.locator("#save")).to_have_count(0)


def test_a_new_patient_gets_a_new_mrn(browsing: Browsing, server: Server) -> None:
    d = server.drafts.new
    page = browsing.page("tech1")
    page.goto(f"/drafts/{d}")
    record = get(page, f"/api/drafts/{d}")
    assert record["match"]["decision"] == "new"
    expect(page.locator(".cand")).to_have_count(0)

    # Without the mouse: Tab moves between fields, Ctrl+Enter accepts (nobody in the index: new patient).
    page.locator("input[name='patient.given_name']").focus()
    page.keyboard.press("Tab")
    expect(page.locator("input[name='patient.middle_name']")).to_be_focused()
    page.keyboard.press("Control+Enter")
    expect(page.locator("#msg")).to_have_text(re.compile(r"^New patient CM\d+\. Opening the next draft…$"))
    mrn = decided(page, d)
    assert re.fullmatch(r"CM\d+", mrn)

    after = get(page, f"/api/drafts/{d}")
    assert after["status"] == "verified"
    assert after["decision"]["action"] == "new" and after["decision"]["mrn"] == mrn
    patient = get(page, f"/api/patients/{mrn}")
    assert patient["mrn"] == mrn and patient["status"] == "active"
    for key in ("given_name", "family_name", "birth_date"):
        assert patient["identity"][key] == value(record, key)
    assert patient["drafts"] == [str(d)]
    assert patient["sources"] == [record["document_id"]]

    page.goto(f"/drafts/{d}")
    page.get_by_test_id("mrn").click()
    expect(page).to_have_url(re.compile(rf"/patients/{patient['id']}$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"Patient {mrn}")

    page.goto(f"/drafts/{d}")  # Alt+N: the next draft (the one "next" already gave this technician)
    page.keyboard.press("Alt+n")
    page.wait_for_url(lambda url: urlparse(url).path != f"/drafts/{d}")
    assert re.fullmatch(r"/(drafts/\d+|queue)", urlparse(page.url).path)


@pytest.mark.parametrize(
    ("which", "button", "hint", "status", "done", "note"),
    [
        (
            "reject",
            "Reject: rescan",
            "Write the reason for the rescan first.",
            "rejected",
            "Rejected for rescan",
            "page 2 is too faint to read",
        ),
        (
            "query",
            "Query the provider",
            "Write the question for the provider first.",
            "query",
            "Query sent",
            "Which birth date is right, page 1 or page 2?",
        ),
    ],
)
def test_reject_and_query_need_a_note(
    browsing: Browsing, server: Server, which: str, button: str, hint: str, status: str, done: str, note: str
) -> None:
    d = getattr(server.drafts, which)
    page = browsing.page("tech1")
    page.goto(f"/drafts/{d}")
    version = int(page.locator("#draft").get_attribute("data-version") or 0)

    page.get_by_role("button", name=button).click()
    expect(page.locator("#msg")).to_have_text(hint)
    expect(page.locator("#msg")).to_have_class(re.compile(r"\bbad\b"))
    still = get(page, f"/api/drafts/{d}")
    assert still["status"] == "in_review" and still["version"] == version and "decision" not in still

    page.get_by_label("Reason or question").fill(note)
    page.get_by_role("button", name=button).click()
    expect(page.locator("#msg")).to_have_text(f"{done}. Opening the next draft…")
    assert decided(page, d) == ""

    after = get(page, f"/api/drafts/{d}")
    assert after["status"] == status
    assert after["decision"]["action"] == which and after["decision"]["note"] == note
    assert after["decision"]["mrn"] is None


def test_the_auditor_reads_the_trail_and_a_technician_may_not(browsing: Browsing, server: Server) -> None:
    d = server.drafts.audit
    tech = browsing.page("tech1")
    tech.goto(f"/drafts/{d}")
    tech.get_by_label("Reason or question").fill("audit test: rescan please")
    tech.get_by_role("button", name="Reject: rescan").click()
    decided(tech, d)

    response = tech.goto("/audit")
    assert response is not None and response.status == 403
    expect(tech.get_by_role("alert")).to_have_text("your role may not do this")
    assert tech.request.get("/api/audit").status == 403

    auditor = browsing.page("aud1")
    expect(auditor).to_have_url(re.compile(r"/audit$"))  # the auditor's home
    expect(auditor.get_by_role("link", name="Queue")).to_have_count(0)
    rows = auditor.get_by_test_id("audit").locator("tbody tr")

    def events() -> list[tuple[str, ...]]:
        return [tuple(r) for r in rows.evaluate_all("rs => rs.map(r => Array.from(r.cells, c => c.textContent))")]

    seen = {(user, action, obj) for _at, user, action, obj, _ip, _detail in events()}
    assert ("tech1", "login", "user:tech1") in seen
    assert ("tech1", "view_draft", f"draft:{d}") in seen
    assert ("tech1", "decide", f"draft:{d}") in seen
    assert ("aud1", "login", "user:aud1") in seen

    auditor.get_by_label("Object").fill(f"draft:{d}")
    auditor.get_by_role("button", name="Filter").click()
    expect(auditor).to_have_url(re.compile(rf"object=draft%3A{d}\b"))
    expect(auditor.get_by_label("Object")).to_have_value(f"draft:{d}")
    filtered = events()
    assert filtered
    assert {obj for _at, _user, _action, obj, _ip, _detail in filtered} == {f"draft:{d}"}
    actions = [(user, action) for _at, user, action, _obj, _ip, _detail in filtered]
    for expected in ("claim", "view_draft", "view_page", "decide"):
        assert ("tech1", expected) in actions, expected
    decide = next(e for e in filtered if e[2] == "decide")
    assert "action: reject" in decide[5]
    assert decide[4] == "127.0.0.1"

    # the API gives the same trail; reading it is recorded too (the page's filtered view on top)
    trail = [(e["user"], e["action"]) for e in get(auditor, f"/api/audit?object=draft:{d}")]
    assert trail == [("aud1", "view_audit"), *actions]
