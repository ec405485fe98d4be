"""Review app under load: server time of the queue and draft pages with 10,000 drafts in SQLite,
and requests per second with 20 concurrent simulated technicians.

One run, in one temporary data folder (``CHARTMIGRATE_HOME``, SQLite under it):

1. **Seed.** The real pipeline once on the sample charts (``chartmigrate mpi import
   samples/existing_patients.csv`` then ``chartmigrate ingest samples/charts``), then its drafts are
   cloned with SQL bulk inserts (documents, pages and drafts; the pages reuse the stored image blobs;
   every clone has its own document sha256, a received time, priority and reasons) up to
   ``--drafts``. OCR words are not cloned: nothing the review app serves reads them. People are
   added with ``chartmigrate user add NAME --role ... --password-stdin``: ``--users`` technicians
   and one supervisor.
2. **Serve.** ``chartmigrate serve --host 127.0.0.1 --port PORT`` as a subprocess.
3. **Server time, one client, one request at a time.** ``--samples`` requests of each kind,
   interleaved: the queue page (``/queue``, as a technician and as the supervisor), a draft page
   (``/drafts/{id}``, a different draft each time, from the back of the queue; opening a draft
   claims it), ``/api/queue``, ``/api/drafts/{id}``, and ``/static/app.css`` as the floor of the
   machine's noise. p50/p95/max of the ``Server-Timing: app;dur=`` value and of the client's wall
   time; p95 against the aims (queue 150 ms, draft 300 ms).
4. **Load.** ``--users`` technicians, each its own connection (asyncio, ``httpx2.AsyncClient``):
   sign in (``POST /api/session``), then for ``--duration`` seconds: ``GET /api/queue`` (a glance
   at the queue), ``POST /api/queue/next`` (what the "next draft" button does: the most urgent
   draft nobody holds, chosen and claimed in one step), ``GET /drafts/{id}`` (the page), its first
   page image, ``PATCH /api/drafts/{id}`` (one field corrected) and
   ``POST /api/drafts/{id}/decision`` with ``query`` and a note (no MRN is used up). No think time:
   this is the throughput at saturation, not a model of people. Requests, requests per second,
   latency per kind, 409s (two technicians on one draft) apart from real errors.

The code served is a copy of ``review_ui/`` and ``migrate/`` as of the last commit (``--code
worktree``: the files as they are now), first on ``PYTHONPATH`` of every ``chartmigrate`` subprocess.
The machine may be shared: each phase records the CPU taken by the server, by this script (the
load client runs on the same cores) and by everything else. Read the ratios.

Usage: ``.venv/bin/python benchmarks/review_load.py [--drafts 10000] [--users 20] [--duration 60]
[--samples 200] [--think S] [--code head|worktree] [--json OUT] [--keep]``
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import os
import platform
import random
import re
import secrets
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx2

REPO = Path(__file__).resolve().parent.parent
CHARTMIGRATE = Path(sys.executable).parent / "chartmigrate"
SAMPLES = REPO / "samples"
AIMS_MS = {"queue": 150.0, "draft": 300.0}  # p95 server time, from the issue
COOKIE = "cm_session"
SERVER_TIMING = re.compile(r"app;dur=([0-9.]+)")
TIME_FORMAT = "%Y-%m-%d %H:%M:%S.%f"  # how SQLAlchemy stores DateTime in SQLite
SEED = 7

# -- helpers --------------------------------------------------------------------------------------


def pct(values: list[float], q: float) -> float:
    """The q-th percentile (0-100), linear between closest ranks; NaN for no values."""
    if not values:
        return float("nan")
    s = sorted(values)
    k = (len(s) - 1) * q / 100
    lo = int(k)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def summary(values: list[float]) -> dict[str, float]:
    return {"n": len(values), "p50": pct(values, 50), "p95": pct(values, 95), "max": max(values, default=float("nan"))}


def server_ms(response: httpx2.Response) -> float | None:
    m = SERVER_TIMING.search(response.headers.get("server-timing", ""))
    return float(m.group(1)) if m else None


def base_env(home: Path, code: Path) -> dict[str, str]:
    """The environment of every ``chartmigrate`` subprocess: the data folder, and the code copy first on the path."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHARTMIGRATE_")}
    env["CHARTMIGRATE_HOME"] = str(home)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(code), os.environ.get("PYTHONPATH")) if p)
    return env


def snapshot_code(source: str, dest: Path) -> dict[str, Any]:
    """Copy review_ui/ and migrate/ (the last commit, or the files as they are now) to ``dest``: the
    server and the CLI run that copy, so edits made in the repository during a run cannot leak in."""
    dest.mkdir(parents=True)
    if source == "head":
        archive = subprocess.run(
            ["git", "-C", str(REPO), "archive", "--format=tar", "HEAD", "review_ui", "migrate"], capture_output=True
        )
        if archive.returncode != 0:
            raise SystemExit(f"git archive failed: {archive.stderr.decode(errors='replace').strip()[:200]}")
        subprocess.run(["tar", "-x", "-C", str(dest)], input=archive.stdout, check=True)
    else:
        for pkg in ("review_ui", "migrate"):
            shutil.copytree(REPO / pkg, dest / pkg, ignore=shutil.ignore_patterns("__pycache__"))
    digest = hashlib.sha256()
    for path in sorted(dest.rglob("*")):
        if path.is_file():
            digest.update(str(path.relative_to(dest)).encode() + b"\0" + path.read_bytes())
    head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True)
    status = subprocess.run(
        ["git", "-C", str(REPO), "status", "--porcelain", "--", "review_ui", "migrate"], capture_output=True, text=True
    )
    return {
        "source": source,
        "commit": head.stdout.strip(),
        "digest": digest.hexdigest()[:16],
        "worktree_changes": [line[3:] for line in status.stdout.splitlines() if line.strip()],
    }


def check_imports(env: dict[str, str], code: Path) -> None:
    where = subprocess.run(
        [sys.executable, "-c", "import migrate, review_ui; print(migrate.__file__); print(review_ui.__file__)"],
        env=env,
        capture_output=True,
        text=True,
        cwd=code,
    ).stdout.split()
    if len(where) != 2 or not all(Path(w).is_relative_to(code) for w in where):
        raise SystemExit(f"the code copy is not what gets imported: {where}")


def run(cmd: list[str], env: dict[str, str], stdin: str | None = None) -> str:
    r = subprocess.run(cmd, env=env, input=stdin, capture_output=True, text=True, cwd=env["CHARTMIGRATE_HOME"])
    if r.returncode != 0:
        tail = (r.stderr or r.stdout).strip().splitlines()[-3:]
        raise SystemExit(f"{' '.join(cmd[1:3])} failed (exit {r.returncode}): {tail}")
    return r.stdout


class Cpu:
    """CPU seconds taken by the whole machine, by the server process and by this script."""

    def __init__(self, server_pid: int) -> None:
        self.server_pid = server_pid
        self.tick = os.sysconf("SC_CLK_TCK")
        self.start = self._now()

    def _now(self) -> tuple[float, float, float, float]:
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:9]]
        busy = (sum(v) - v[3] - v[4]) / self.tick
        try:
            with open(f"/proc/{self.server_pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            server = (int(fields[11]) + int(fields[12])) / self.tick  # utime + stime
        except (OSError, IndexError, ValueError):
            server = 0.0
        t = os.times()
        return time.monotonic(), busy, server, t.user + t.system

    def cores(self) -> dict[str, float]:
        """Cores kept busy since construction: server, this script (the client), the rest."""
        end = self._now()
        wall = max(end[0] - self.start[0], 1e-9)
        busy, server, client = ((end[i] - self.start[i]) / wall for i in (1, 2, 3))
        return {
            "seconds": wall,
            "server": server,
            "client": client,
            "others": max(busy - server - client, 0.0),
            "machine": busy,
        }


# -- 1. seed --------------------------------------------------------------------------------------


def fake_triage(rng: random.Random) -> tuple[int, list[str]]:
    """A priority and reasons as ``migrate.review.triage`` would give, in made-up but plausible
    proportions (most drafts have a doubt or two, few are possible duplicates)."""
    priority, reasons = 0, []
    duplicate = rng.random() < 0.08
    if duplicate:
        n = rng.choice((1, 1, 1, 2, 3))
        priority += 40
        reasons.append(f"possible duplicate ({n} candidate{'s' if n != 1 else ''})")
    for p, each, cap, one, many, top in (
        (0.04, 25, 50, "inconsistency", "inconsistencies", 2),
        (0.10, 20, 40, "invalid value", "invalid values", 2),
        (0.35, 10, 30, "missing field", "missing fields", 4),
        (0.40, 4, 20, "low-confidence field", "low-confidence fields", 6),
    ):
        if rng.random() < p:
            n = rng.randint(1, top)
            priority += min(n * each, cap)
            reasons.append(f"{n} {one if n == 1 else many}")
    if rng.random() < 0.07:
        priority += 15
        reasons.append("poor scan quality")
    if not duplicate and rng.random() < 0.3:
        priority += 5
        reasons.append("new patient: needs an MRN")
    return priority, reasons


def clone_drafts(db: Path, total: int, seed: int) -> dict[str, Any]:
    """Bulk-insert copies of the pipeline's documents, pages and drafts until there are ``total``
    drafts. Every column is copied as the pipeline wrote it except ids, the document's sha256 and
    source path, times, and the draft's status, version, priority and reasons."""
    rng = random.Random(seed)
    con = sqlite3.connect(db)
    con.row_factory = sqlite3.Row
    cols = {t: [r[1] for r in con.execute(f"PRAGMA table_info({t})")] for t in ("documents", "pages", "drafts")}
    drafts = [dict(r) for r in con.execute("SELECT * FROM drafts ORDER BY id")]
    if not drafts:
        raise SystemExit("the pipeline made no drafts to clone")
    docs = {r["id"]: dict(r) for r in con.execute("SELECT * FROM documents")}
    pages: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for r in con.execute("SELECT * FROM pages ORDER BY document_id, number"):
        pages[r["document_id"]].append(dict(r))
    next_doc = con.execute("SELECT max(id) FROM documents").fetchone()[0] + 1
    next_page = con.execute("SELECT max(id) FROM pages").fetchone()[0] + 1
    next_draft = con.execute("SELECT max(id) FROM drafts").fetchone()[0] + 1
    n = max(total - len(drafts), 0)
    # Charts arrive in scanning batches: a batch every few hours over the last 30 days, a document
    # every few seconds within a batch. Equal priorities are then ordered by these times.
    now = datetime.now(UTC).replace(tzinfo=None)
    batch_starts = sorted(now - timedelta(days=30) * rng.random() for _ in range(max(n // 200, 1)))
    doc_rows, page_rows, draft_rows = [], [], []
    t = batch_starts[0]
    for i in range(n):
        if i % 200 == 0:
            t = batch_starts[min(i // 200, len(batch_starts) - 1)]
        t += timedelta(seconds=rng.uniform(2, 10))
        src = drafts[rng.randrange(len(drafts))]
        doc = dict(docs[src["document_id"]])
        doc_id, draft_id = next_doc + i, next_draft + i
        done = t + timedelta(seconds=rng.uniform(5, 60))
        doc.update(
            id=doc_id,
            sha256=hashlib.sha256(f"{doc['sha256']}:{i}".encode()).hexdigest(),
            source_path=f"bench/{i:06d}/{Path(doc['source_path']).name}",
            received_at=t.strftime(TIME_FORMAT),
            updated_at=done.strftime(TIME_FORMAT),
        )
        doc_rows.append(tuple(doc[c] for c in cols["documents"]))
        for p in pages[src["document_id"]]:
            p = dict(p, id=next_page, document_id=doc_id, created_at=done.strftime(TIME_FORMAT))
            next_page += 1
            page_rows.append(tuple(p[c] for c in cols["pages"]))
        priority, reasons = fake_triage(rng)
        d = dict(src)
        d.update(
            id=draft_id,
            document_id=doc_id,
            status="pending_review",
            version=1,
            priority=priority,
            reasons=json.dumps(reasons),
            received_at=t.strftime(TIME_FORMAT),
            created_at=done.strftime(TIME_FORMAT),
            updated_at=done.strftime(TIME_FORMAT),
        )
        draft_rows.append(tuple(d[c] for c in cols["drafts"]))
    with con:
        for table, rows in (("documents", doc_rows), ("pages", page_rows), ("drafts", draft_rows)):
            marks = ", ".join("?" for _ in cols[table])
            con.executemany(f"INSERT INTO {table} ({', '.join(cols[table])}) VALUES ({marks})", rows)
    counts = {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("documents", "pages", "drafts")}
    con.close()
    return {"cloned": n, **counts}


def seed(env: dict[str, str], drafts: int, users: int) -> dict[str, Any]:
    home = Path(env["CHARTMIGRATE_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    out: dict[str, Any] = {}
    t = time.perf_counter()
    run([str(CHARTMIGRATE), "mpi", "import", str(SAMPLES / "existing_patients.csv"), "--by", "bench"], env)
    run([str(CHARTMIGRATE), "ingest", str(SAMPLES / "charts")], env)
    out["pipeline_s"] = time.perf_counter() - t
    t = time.perf_counter()
    out.update(clone_drafts(home / "chartmigrate.db", drafts, SEED))
    out["clone_s"] = time.perf_counter() - t
    password = secrets.token_urlsafe(18)
    people = [(f"tech{i:02d}", "technician") for i in range(1, users + 1)] + [("super01", "supervisor")]
    t = time.perf_counter()
    with ThreadPoolExecutor(3) as pool:  # each is a Python start-up; three at a time on two cores
        list(
            pool.map(
                lambda p: run(
                    [str(CHARTMIGRATE), "user", "add", p[0], "--role", p[1], "--password-stdin"], env, password + "\n"
                ),
                people,
            )
        )
    out["users_s"] = time.perf_counter() - t
    out["db_mb"] = sum(f.stat().st_size for f in home.glob("chartmigrate.db*")) / 1e6
    out["password"] = password
    out["technicians"] = [p for p, r in people if r == "technician"]
    out["supervisor"] = "super01"
    return out


def back_of_queue(db: Path, n: int) -> list[int]:
    """The last n drafts in queue order (lowest priority, newest): the load phase never gets there."""
    con = sqlite3.connect(db)
    rows = con.execute(
        "SELECT d.id FROM drafts d JOIN documents doc ON doc.id = d.document_id "
        "WHERE d.status = 'pending_review' ORDER BY d.priority DESC, doc.received_at, d.id"
    ).fetchall()
    con.close()
    ids = [r[0] for r in rows[-n:]]
    random.Random(SEED).shuffle(ids)
    return ids


# -- 2. serve -------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def serving(env: dict[str, str], log: Path):  # type: ignore[no-untyped-def]
    port = free_port()
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(CHARTMIGRATE), "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=env["CHARTMIGRATE_HOME"],
        )
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 60
            while True:
                if proc.poll() is not None:
                    raise SystemExit(f"the server stopped (exit {proc.returncode}): {log.read_text()[-500:]}")
                with contextlib.suppress(httpx2.HTTPError):
                    if httpx2.get(f"{base}/static/app.css", timeout=2).status_code == 200:
                        break
                if time.monotonic() > deadline:
                    raise SystemExit("the server did not answer within 60 s")
                time.sleep(0.2)
            yield base, proc.pid
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def session_cookie_fix(client: httpx2.Client | httpx2.AsyncClient, login: httpx2.Response) -> dict[str, Any]:
    """What the server set, and whether the client library sends it back by itself. Python's cookie
    jar withholds a Secure cookie from http:// (browsers send it to 127.0.0.1, which they treat as
    secure); then the header is set by hand here. The server is not changed."""
    set_cookie = login.headers.get("set-cookie", "")
    token = login.cookies.get(COOKIE)
    if not token:
        raise SystemExit(f"login set no {COOKIE} cookie: {set_cookie[:80]}")
    probe = httpx2.Request("GET", client.base_url.join("/api/queue"))
    client.cookies.set_cookie_header(probe)
    sent_by_library = COOKIE in probe.headers.get("cookie", "")
    if not sent_by_library:
        client.headers["Cookie"] = f"{COOKIE}={token}"
    return {"secure_flag": "secure" in set_cookie.lower(), "library_sends_it": sent_by_library}


# -- 3. server time, one request at a time ---------------------------------------------------------


def sign_in(client: httpx2.Client, username: str, password: str) -> tuple[str, dict[str, Any]]:
    r = client.post("/api/session", json={"username": username, "password": password})
    if r.status_code != 200:
        raise SystemExit(f"login as {username}: HTTP {r.status_code} {r.text[:200]}")
    cookie = session_cookie_fix(client, r)
    check = client.get("/api/queue", params={"limit": 1})
    if check.status_code != 200:
        raise SystemExit(f"the session cookie was not accepted: HTTP {check.status_code}")
    return str(r.json()["csrf_token"]), cookie


def sequential(base: str, seeded: dict[str, Any], ids: list[int], samples: int, warmup: int) -> dict[str, Any]:
    tech, sup = httpx2.Client(base_url=base, timeout=60), httpx2.Client(base_url=base, timeout=60)
    try:
        _, cookie = sign_in(tech, seeded["technicians"][0], seeded["password"])
        sign_in(sup, seeded["supervisor"], seeded["password"])
        html_ids, api_ids = ids[: samples + warmup], ids[samples + warmup :]
        kinds: list[tuple[str, httpx2.Client, Any]] = [
            ("queue page /queue", tech, lambda i: "/queue"),
            ("queue page /queue (supervisor)", sup, lambda i: "/queue"),
            ("API /api/queue", tech, lambda i: "/api/queue"),
            ("draft page /drafts/{id}", tech, lambda i: f"/drafts/{html_ids[i]}"),
            ("API /api/drafts/{id}", tech, lambda i: f"/api/drafts/{api_ids[i]}"),
            ("static /static/app.css", tech, lambda i: "/static/app.css"),
        ]
        times: dict[str, dict[str, list[float]]] = {k: {"server": [], "wall": []} for k, _, _ in kinds}
        statuses: dict[str, Counter[int]] = {k: Counter() for k, _, _ in kinds}
        cpu = None
        for i in range(warmup + samples):
            if i == warmup:
                cpu = Cpu(seeded["server_pid"])
            for name, client, path in kinds:  # interleaved: noise of the machine falls on every kind alike
                t = time.perf_counter()
                r = client.get(path(i))
                wall = (time.perf_counter() - t) * 1000
                if i < warmup:
                    continue
                statuses[name][r.status_code] += 1
                st = server_ms(r)
                if st is not None:
                    times[name]["server"].append(st)
                times[name]["wall"].append(wall)
        assert cpu is not None
        return {
            "cookie": cookie,
            "kinds": {
                k: {"server_ms": summary(v["server"]), "wall_ms": summary(v["wall"]), "status": dict(statuses[k])}
                for k, v in times.items()
            },
            "cpu": cpu.cores(),
        }
    finally:
        tech.close()
        sup.close()


# -- 4. load --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    think: float  # seconds between opening a draft and saving it


@dataclass
class LoadStats:
    samples: dict[str, dict[str, list[float]]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(list)))
    status: dict[str, Counter[int]] = field(default_factory=lambda: defaultdict(Counter))
    transport: Counter[str] = field(default_factory=Counter)
    taken: int = 0  # opened a draft someone else had claimed meanwhile (shown read-only)
    empty: int = 0  # no draft free in the queue
    decided: int = 0
    logins: list[float] = field(default_factory=list)

    def record(self, kind: str, r: httpx2.Response, wall_ms: float) -> None:
        self.status[kind][r.status_code] += 1
        self.samples[kind]["wall"].append(wall_ms)
        st = server_ms(r)
        if st is not None:
            self.samples[kind]["server"].append(st)


async def technician(
    username: str, password: str, base: str, stats: LoadStats, go: asyncio.Event, run_for: list[float], plan: Plan
) -> None:
    rng = random.Random(f"{SEED}:{username}")
    async with httpx2.AsyncClient(base_url=base, timeout=120) as c:
        t = time.perf_counter()
        signed = await c.post("/api/session", json={"username": username, "password": password})
        stats.logins.append((time.perf_counter() - t) * 1000)
        if signed.status_code != 200:
            stats.status["login"][signed.status_code] += 1
            return
        session_cookie_fix(c, signed)
        csrf = {"X-CSRF-Token": str(signed.json()["csrf_token"])}
        await go.wait()
        deadline = run_for[0]

        async def call(kind: str, method: str, url: str, **kw: Any) -> httpx2.Response | None:
            t = time.perf_counter()
            try:
                resp = await c.request(method, url, **kw)
            except httpx2.HTTPError as e:
                stats.transport[f"{kind}: {type(e).__name__}"] += 1
                return None
            stats.record(kind, resp, (time.perf_counter() - t) * 1000)
            return resp

        n = 0
        while time.monotonic() < deadline:
            n += 1
            # A technician glances at the queue, then presses "next draft", which claims one.
            await call("GET /api/queue", "GET", "/api/queue")
            r = await call("POST /api/queue/next", "POST", "/api/queue/next", headers=csrf)
            if r is None or r.status_code != 200:
                stats.empty += 1
                await asyncio.sleep(0.5)
                continue
            draft_id = str(r.json()["id"])
            r = await call("GET /drafts/{id} (page)", "GET", f"/drafts/{draft_id}")
            if r is None or r.status_code != 200:
                continue
            version = re.search(r'data-version="(\d+)"', r.text)
            if 'data-readonly="true"' in r.text or version is None:
                stats.taken += 1
                continue
            await call("GET page image", "GET", f"/api/drafts/{draft_id}/pages/1/image")
            if plan.think:
                await asyncio.sleep(plan.think)
            edit = {"patient": {"city": rng.choice(("Springfield", "Riverton", "Fairview", "Salem"))}}
            r = await call(
                "PATCH /api/drafts/{id}",
                "PATCH",
                f"/api/drafts/{draft_id}",
                json={"version": int(version.group(1)), "fields": edit},
                headers=csrf,
            )
            if r is None or r.status_code != 200:
                continue
            note = f"benchmark query {n} from {username}: please confirm the city"
            r = await call(
                "POST /api/drafts/{id}/decision",
                "POST",
                f"/api/drafts/{draft_id}/decision",
                json={"version": r.json()["version"], "action": "query", "note": note},
                headers=csrf,
            )
            if r is not None and r.status_code == 200:
                stats.decided += 1


async def load(base: str, seeded: dict[str, Any], duration: float, plan: Plan) -> dict[str, Any]:
    stats = LoadStats()
    go = asyncio.Event()
    run_for = [0.0]
    tasks = [
        asyncio.create_task(technician(u, seeded["password"], base, stats, go, run_for, plan))
        for u in seeded["technicians"]
    ]
    while len(stats.logins) < len(tasks) and not any(t.done() and t.exception() for t in tasks):
        await asyncio.sleep(0.05)
    cpu = Cpu(seeded["server_pid"])
    started = time.monotonic()
    run_for[0] = started + duration
    go.set()
    await asyncio.gather(*tasks)
    elapsed = time.monotonic() - started
    cores = cpu.cores()
    kinds: dict[str, dict[str, Any]] = {}
    for kind, s in stats.samples.items():
        kinds[kind] = {
            "requests": len(s["wall"]),
            "wall_ms": summary(s["wall"]),
            "server_ms": summary(s["server"]),
            "status": dict(stats.status[kind]),
        }
    total = sum(k["requests"] for k in kinds.values())
    all_status: Counter[int] = Counter()
    for c in stats.status.values():
        all_status.update(c)
    errors = {str(s): n for s, n in sorted(all_status.items()) if s >= 400 and s != 409}
    return {
        "users": len(tasks),
        "think_s": plan.think,
        "seconds": elapsed,
        "requests": total,
        "requests_per_s": total / elapsed,
        "drafts_decided": stats.decided,
        "drafts_decided_per_min": stats.decided / elapsed * 60,
        "conflicts_409": all_status.get(409, 0),
        "opened_taken_draft": stats.taken,
        "queue_empty": stats.empty,
        "errors_by_status": errors,
        "transport_errors": dict(stats.transport),
        "login_ms": summary(stats.logins),
        "kinds": kinds,
        "cpu": cores,
        "server_cpu_ms_per_request": cores["server"] * cores["seconds"] / max(total, 1) * 1000,
    }


# -- report ---------------------------------------------------------------------------------------


def show(results: dict[str, Any]) -> None:
    s, seq, ld = results["seed"], results["sequential"], results["load"]
    print(f"{platform.node()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(
        f"seed: {s['drafts']} drafts ({s['cloned']} cloned from {s['drafts'] - s['cloned']} made by the pipeline), "
        f"{s['documents']} documents, {s['pages']} pages, database {s['db_mb']:.0f} MB; "
        f"pipeline {s['pipeline_s']:.1f} s, cloning {s['clone_s']:.1f} s, {len(s['technicians']) + 1} users "
        f"{s['users_s']:.1f} s"
    )
    code = results["code"]
    if code["source"] == "head":
        what = f"a copy of commit {code['commit'][:12]} (review_ui/, migrate/)"
        if code["worktree_changes"]:
            what += f"; not measured, uncommitted: {', '.join(code['worktree_changes'])}"
    else:
        what = f"a copy of the worktree at commit {code['commit'][:12]}, changed: {code['worktree_changes'] or 'none'}"
    print(f"code measured: {what} (digest {code['digest']})")
    ck = seq["cookie"]
    print(
        f"session cookie: Secure flag {'set' if ck['secure_flag'] else 'NOT set'}; httpx2 sends it over "
        f"http://127.0.0.1 by itself: {'yes' if ck['library_sends_it'] else 'no (Cookie header set by the script)'}"
    )
    print()
    n = max(v["server_ms"]["n"] for v in seq["kinds"].values())
    print(f"Server time, one client, one request at a time ({n} samples per kind, interleaved), ms")
    head = (
        f"{'request':34} {'srv p50':>8} {'srv p95':>8} {'srv max':>8} {'wall p50':>8} {'wall p95':>8} {'wall max':>8}"
    )
    print(head + f" {'p95/aim':>8} {'p50/static':>10}  statuses")
    static = seq["kinds"]["static /static/app.css"]["server_ms"]["p50"]
    for name, v in seq["kinds"].items():
        sv, wl = v["server_ms"], v["wall_ms"]
        aim = AIMS_MS["queue"] if "queue" in name else AIMS_MS["draft"] if "draft" in name else None
        ratio = f"{sv['p95'] / aim:8.2f}" if aim else f"{'':8}"
        print(
            f"{name:34} {sv['p50']:8.1f} {sv['p95']:8.1f} {sv['max']:8.1f} {wl['p50']:8.1f} {wl['p95']:8.1f} "
            f"{wl['max']:8.1f} {ratio} {sv['p50'] / static:10.1f}  {v['status']}"
        )
    print(f"aims (p95 server time): queue {AIMS_MS['queue']:.0f} ms, draft {AIMS_MS['draft']:.0f} ms")
    c = seq["cpu"]
    print(
        f"cores busy meanwhile: server {c['server']:.2f}, this script {c['client']:.2f}, "
        f"other processes {c['others']:.2f}"
    )
    print()
    print(
        f"Load: {ld['users']} technicians, think time {ld['think_s']:g} s, each takes the next draft; "
        f"{ld['seconds']:.1f} s: {ld['requests']} requests, "
        f"{ld['requests_per_s']:.1f} requests/s, {ld['drafts_decided']} drafts decided "
        f"({ld['drafts_decided_per_min']:.0f}/min)"
    )
    print(f"{'request':34} {'count':>6} {'wall p50':>9} {'wall p95':>9} {'srv p50':>8} {'srv p95':>8}  statuses")
    for name, v in ld["kinds"].items():
        wl, sv = v["wall_ms"], v["server_ms"]
        print(
            f"{name:34} {v['requests']:6d} {wl['p50']:9.1f} {wl['p95']:9.1f} {sv['p50']:8.1f} {sv['p95']:8.1f}"
            f"  {v['status']}"
        )
    lg = ld["login_ms"]
    print(f"{'(sign-in, before the clock)':34} {lg['n']:6d} {lg['p50']:9.1f} {lg['p95']:9.1f}")
    print(
        f"409 conflicts: {ld['conflicts_409']}; drafts opened after another technician took them (read only): "
        f"{ld['opened_taken_draft']}; no free draft found: {ld['queue_empty']}"
    )
    print(f"errors (4xx/5xx other than 409): {ld['errors_by_status'] or 'none'}; "
          f"transport errors: {ld['transport_errors'] or 'none'}")  # fmt: skip
    c = ld["cpu"]
    print(
        f"cores busy meanwhile: server {c['server']:.2f}, load client {c['client']:.2f}, "
        f"other processes {c['others']:.2f} (of {os.cpu_count()}); server CPU per request "
        f"{ld['server_cpu_ms_per_request']:.1f} ms"
    )
    r = results["ratios"]
    print()
    print("Ratios: " + "; ".join(f"{k} {v:.2f}" for k, v in r.items()))


def ratios(seq: dict[str, Any], ld: dict[str, Any]) -> dict[str, float]:
    k = seq["kinds"]
    st = k["static /static/app.css"]["server_ms"]["p50"]
    out = {
        "queue page p95 / 150 ms": k["queue page /queue"]["server_ms"]["p95"] / AIMS_MS["queue"],
        "draft page p95 / 300 ms": k["draft page /drafts/{id}"]["server_ms"]["p95"] / AIMS_MS["draft"],
        "API queue p95 / 150 ms": k["API /api/queue"]["server_ms"]["p95"] / AIMS_MS["queue"],
        "API draft p95 / 300 ms": k["API /api/drafts/{id}"]["server_ms"]["p95"] / AIMS_MS["draft"],
        "queue page p50 / static p50": k["queue page /queue"]["server_ms"]["p50"] / st,
        "draft page p50 / static p50": k["draft page /drafts/{id}"]["server_ms"]["p50"] / st,
    }
    lk = ld["kinds"]
    if "GET /api/queue" in lk:
        out["load API queue server p95 / 150 ms"] = lk["GET /api/queue"]["server_ms"]["p95"] / AIMS_MS["queue"]
    if "GET /drafts/{id} (page)" in lk:
        out["load draft page server p95 / 300 ms"] = (
            lk["GET /drafts/{id} (page)"]["server_ms"]["p95"] / AIMS_MS["draft"]
        )
    return out


def log_errors(log: str) -> dict[str, int]:
    """The server's unhandled errors, counted: the app's own line (route and type) and the exception's last line."""
    out: Counter[str] = Counter()
    lines = log.splitlines()
    for i, line in enumerate(lines):
        if "unhandled" in line and "chartmigrate.review" in line:
            out[line.split("chartmigrate.review: ", 1)[-1]] += 1
        elif line and not line[0].isspace() and re.match(r"^[\w.]+(Error|Exception): ", line):
            after = lines[i + 1] if i + 1 < len(lines) else ""
            following = next((x for x in lines[i + 1 : i + 3] if x.strip()), "")
            if not following.startswith("The above exception"):
                out[(line + (" " + after if after.startswith("(") else ""))[:240]] += 1
    return dict(out.most_common())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--drafts", type=int, default=10_000, help="drafts in the database (default 10000)")
    ap.add_argument("--users", type=int, default=20, help="concurrent technicians in the load phase (default 20)")
    ap.add_argument("--duration", type=float, default=60, help="seconds of load (default 60)")
    ap.add_argument("--samples", type=int, default=200, help="requests of each kind in the server-time phase")
    ap.add_argument("--think", type=float, default=0.0, help="seconds a technician spends on a draft (default 0)")
    ap.add_argument(
        "--code",
        choices=("head", "worktree"),
        default="head",
        help="review_ui/ and migrate/ served: a copy of the last commit (default) or of the files as they are now",
    )
    ap.add_argument("--json", type=Path, help="also write every figure here")
    ap.add_argument("--keep", action="store_true", help="keep the temporary data folder (and print where)")
    args = ap.parse_args()
    if args.users < 1 or args.samples < 1:
        raise SystemExit("--users and --samples must be at least 1")
    warmup = 5

    work = Path(tempfile.mkdtemp(prefix="cm-review-load-"))
    try:
        home = work / "home"
        code = snapshot_code(args.code, work / "code")
        env = base_env(home, work / "code")
        check_imports(env, work / "code")
        print(f"seeding {args.drafts} drafts in {home} ...", flush=True)
        seeded = seed(env, args.drafts, args.users)
        ids = back_of_queue(home / "chartmigrate.db", 2 * (args.samples + warmup))
        if len(ids) < 2 * (args.samples + warmup):
            raise SystemExit(f"--drafts {args.drafts} is too few for --samples {args.samples}")
        with serving(env, work / "server.log") as (base, pid):
            seeded["server_pid"] = pid
            print(f"serving on {base}; server time, {args.samples} samples per kind ...", flush=True)
            seq = sequential(base, seeded, ids, args.samples, warmup)
            print(f"load: {args.users} technicians for {args.duration:.0f} s ...", flush=True)
            ld = asyncio.run(load(base, seeded, args.duration, Plan(args.think)))
        server_log = (work / "server.log").read_text(errors="replace")
        results = {
            "machine": {"node": platform.node(), "cores": os.cpu_count(), "python": platform.python_version()},
            "code": code,
            "options": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
            "aims_ms": AIMS_MS,
            "seed": {k: v for k, v in seeded.items() if k not in ("password", "server_pid")},
            "sequential": seq,
            "load": ld,
            "server_errors": log_errors(server_log),
        }
        results["ratios"] = ratios(seq, ld)
        print()
        show(results)
        if results["server_errors"]:
            print("\nserver log, unhandled errors:")
            for line, n in results["server_errors"].items():
                print(f"  {n:5d} x {line}")
        if args.json:
            args.json.write_text(json.dumps(results, indent=2), encoding="utf-8")
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
