"""Scale-out benchmark: pages per minute through Celery workers on Redis and PostgreSQL, next to
the local mode (embedded SQLite, process pool) on the same pages in the same run.

Four runs over the same chart files, each into a fresh data folder and database:

1. local, ``chartmigrate ingest DIR --workers 1``  (SQLite)
2. local, ``chartmigrate ingest DIR --workers 2``  (SQLite)
3. queue, one ``chartmigrate worker -c 1`` process  (Redis + PostgreSQL)
4. queue, two ``chartmigrate worker -c 1`` processes (Redis + PostgreSQL)

A queue run is timed from ``ingest --queue`` until every document is done or failed (workers are
started and answering before the clock starts). PostgreSQL and Redis are those of
``scripts/services.sh`` (started if needed). The machine is shared: read the ratios.

Usage: ``python benchmarks/queue_bench.py [--charts DIR] [--limit N] [--json OUT]``
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

REPO = Path(__file__).resolve().parent.parent
DEFAULT_CHARTS = (REPO / ".." / "shared" / "dev-charts").resolve()
CHARTMIGRATE = Path(sys.executable).parent / "chartmigrate"
CHART_SUFFIXES = {".pdf", ".tif", ".tiff", ".jpg", ".jpeg", ".png"}


def services() -> tuple[str, str]:
    out = subprocess.run([str(REPO / "scripts" / "services.sh"), "start"], capture_output=True, text=True, check=True)
    env = dict(line.removeprefix("export ").split("=", 1) for line in out.stdout.splitlines() if "=" in line)
    return env["CM_TEST_PG_URL"], env["CM_TEST_REDIS_URL"]


def base_env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHARTMIGRATE_")}
    env["CHARTMIGRATE_HOME"] = str(home)
    env.update(extra)
    return env


def fresh_pg(admin_url: str, name: str) -> str:
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with engine.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        conn.execute(text(f"CREATE DATABASE {name}"))
    engine.dispose()
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def status(env: dict[str, str]) -> dict[str, Any]:
    r = subprocess.run([str(CHARTMIGRATE), "status", "--json"], env=env, capture_output=True, text=True, check=True)
    return dict(json.loads(r.stdout))


def stored_pages(url: str) -> int:
    engine = create_engine(url, poolclass=NullPool)
    with engine.connect() as conn:
        n = conn.execute(text("SELECT count(*) FROM pages")).scalar_one()
    engine.dispose()
    return int(n)


def run_local(charts: Path, work: Path, workers: int) -> dict[str, Any]:
    home = work / f"local{workers}"
    env = base_env(home)
    started = time.perf_counter()
    r = subprocess.run(
        [str(CHARTMIGRATE), "ingest", str(charts), "--workers", str(workers)], env=env, capture_output=True, text=True
    )
    seconds = time.perf_counter() - started
    if r.returncode not in (0, 1):
        raise SystemExit(f"local ingest failed: {r.stderr.strip().splitlines()[-1:]}")
    pages = stored_pages(f"sqlite:///{home / 'chartmigrate.db'}")
    return {"mode": f"local, --workers {workers} (SQLite)", "workers": workers, "seconds": seconds, "pages": pages}


def run_queue(charts: Path, work: Path, workers: int, pg_admin: str, redis_base: str) -> dict[str, Any]:
    import redis

    home = work / f"queue{workers}"
    db = fresh_pg(pg_admin, f"cm_queue_bench_{workers}")
    broker = f"{redis_base.rstrip('/')}/9"
    client = redis.Redis.from_url(broker)
    client.flushdb()
    client.close()
    env = base_env(home, CHARTMIGRATE_DB=db, CHARTMIGRATE_BROKER=broker)
    subprocess.run([str(CHARTMIGRATE), "status"], env=env, capture_output=True, check=True)  # creates the schema
    procs = []
    logs = []
    try:
        for i in range(workers):
            log = (work / f"worker{workers}-{i}.log").open("wb")
            logs.append(log)
            procs.append(
                subprocess.Popen(
                    [str(CHARTMIGRATE), "worker", "--concurrency", "1", "--loglevel", "WARNING"],
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
        deadline = time.monotonic() + 120
        while status(env).get("workers", 0) < workers:
            if time.monotonic() > deadline:
                raise SystemExit("workers did not come up; see " + str(work))
            time.sleep(0.5)
        started = time.perf_counter()
        cmd = [str(CHARTMIGRATE), "ingest", "--queue", str(charts)]
        r = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if r.returncode not in (0, 1):
            raise SystemExit(f"ingest --queue failed: {r.stderr.strip()}")
        # Polled with one query, not `chartmigrate status` (a Python start-up per poll would take
        # CPU from the workers being measured).
        engine = create_engine(db, poolclass=NullPool)
        while True:
            with engine.connect() as conn:
                active = conn.execute(
                    text("SELECT count(*) FROM documents WHERE status IN ('received', 'queued', 'ocr')")
                ).scalar_one()
            if active == 0:
                break
            time.sleep(0.25)
        seconds = time.perf_counter() - started
        engine.dispose()
        report = status(env)
    finally:
        for p in procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
        for log in logs:
            log.close()
    return {
        "mode": f"queue, {workers} worker process{'es' if workers > 1 else ''} (Redis + PostgreSQL)",
        "workers": workers,
        "seconds": seconds,
        "pages": stored_pages(db),
        "failed": report["documents"]["failed"],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--charts", type=Path, default=DEFAULT_CHARTS)
    ap.add_argument("--limit", type=int, default=0, help="only the first N chart files")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args()

    files = sorted(p for p in args.charts.iterdir() if p.suffix.lower() in CHART_SUFFIXES)
    if args.limit:
        files = files[: args.limit]
    if not files:
        raise SystemExit(f"no chart files in {args.charts}")
    pg_admin, redis_base = services()
    with tempfile.TemporaryDirectory(prefix="cm-queue-bench-") as tmp:
        work = Path(tmp)
        charts = work / "charts"
        charts.mkdir()
        for f in files:
            shutil.copy(f, charts / f.name)
        runs = [
            run_local(charts, work, 1),
            run_queue(charts, work, 1, pg_admin, redis_base),
            run_local(charts, work, 2),
            run_queue(charts, work, 2, pg_admin, redis_base),
        ]
    for r in runs:
        r["pages_per_minute"] = r["pages"] / r["seconds"] * 60
    by = {(r["mode"].split(",")[0], r["workers"]): r for r in runs}
    print(f"{len(files)} chart files; {platform.node()}, {os.cpu_count()} cores")
    print(f"{'mode':58} {'pages':>6} {'seconds':>8} {'pages/min':>10}")
    for r in runs:
        print(f"{r['mode']:58} {r['pages']:6d} {r['seconds']:8.1f} {r['pages_per_minute']:10.1f}")
    ratios = {}
    for w in (1, 2):
        q, loc = by[("queue", w)], by[("local", w)]
        ratios[f"queue/local pages per minute, {w} worker(s)"] = q["pages_per_minute"] / loc["pages_per_minute"]
    ratios["queue 2 workers / 1 worker"] = by[("queue", 2)]["pages_per_minute"] / by[("queue", 1)]["pages_per_minute"]
    ratios["local 2 workers / 1 worker"] = by[("local", 2)]["pages_per_minute"] / by[("local", 1)]["pages_per_minute"]
    for k, v in ratios.items():
        print(f"{k}: {v:.2f}")
    if args.json:
        args.json.write_text(json.dumps({"runs": runs, "ratios": ratios}, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
