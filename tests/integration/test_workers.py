"""Two real `chartmigrate worker` processes on real Redis and the run's database (PostgreSQL in the
PostgreSQL run): 20 queued charts, one worker SIGKILLed in the middle of a page, and every chart
still ends done exactly once with all its pages."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import select

from migrate.db.models import Document, Draft, Page, TaskAttempt
from migrate.db.session import unit_of_work
from migrate.settings import Settings
from tests.conftest import cli_env, page_lines, render_page, write_image_pdf
from tests.integration.conftest import documents, run_cli

N_DOCS = 20
PAGES = 2
FAST_REDELIVERY = {
    "CHARTMIGRATE_TASK_VISIBILITY_S": "20",  # a message of a vanished worker comes back after 20 s
    "CHARTMIGRATE_OCR_TIMEOUT_S": "15",
    "CHARTMIGRATE_WORKERS": "1",
}


def _parent_of(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[1])


def _page_in_progress(settings: Settings, worker_pid: int) -> tuple[int, int] | None:
    """A (document, page) that a process of this worker has started and not yet stored."""
    with unit_of_work(settings.database_url) as session:
        started = session.execute(select(TaskAttempt.document_id, TaskAttempt.step, TaskAttempt.worker)).all()
        stored = {(d, n) for d, n in session.execute(select(Page.document_id, Page.number))}
    for doc_id, step, worker in started:
        pid = int((worker or "x:0").rsplit(":", 1)[1])
        if step and (doc_id, step) not in stored and worker_pid in (pid, _parent_of(pid)):
            return doc_id, step
    return None


def _start_worker(home: Path, broker: str, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "migrate", "worker", "--concurrency", "1"],
            env=cli_env(home, CHARTMIGRATE_BROKER=broker, **FAST_REDELIVERY),
            start_new_session=True,  # its own process group: the kill takes its pool process too
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def _stop(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)


def test_two_workers_one_killed_every_chart_done_exactly_once(tmp_path: Path, redis_url: str) -> None:
    folder = tmp_path / "charts"
    folder.mkdir()
    for d in range(N_DOCS):
        sheets = [render_page(page_lines(f"worker {d} sheet {p}", 5), size_in=(5.5, 4.25)) for p in (1, 2)]
        write_image_pdf(folder / f"chart{d:02}.pdf", sheets)
    home = tmp_path / "data"
    settings = Settings(home=home)
    queued = run_cli(home, "ingest", "--queue", str(folder), CHARTMIGRATE_BROKER=redis_url, **FAST_REDELIVERY)
    assert queued.returncode == 0, queued.stderr
    assert f"documents queued: {N_DOCS}  pages queued: {N_DOCS * PAGES}" in queued.stdout

    victim = _start_worker(home, redis_url, tmp_path / "victim.log")
    survivor = _start_worker(home, redis_url, tmp_path / "survivor.log")
    try:
        deadline = time.monotonic() + 120
        killed_at: tuple[int, int] | None = None
        while killed_at is None:
            assert victim.poll() is None, (tmp_path / "victim.log").read_text()
            assert time.monotonic() < deadline, "the worker never started a page"
            killed_at = _page_in_progress(settings, victim.pid)
            if killed_at is None:
                time.sleep(0.05)
        os.killpg(victim.pid, signal.SIGKILL)
        victim.wait(timeout=30)
        assert victim.returncode == -signal.SIGKILL

        deadline = time.monotonic() + 240
        while True:
            docs = documents(settings)
            if all(d.status in ("done", "failed") for d in docs.values()):
                break
            assert survivor.poll() is None, (tmp_path / "survivor.log").read_text()
            assert time.monotonic() < deadline, {n: d.status for n, d in docs.items() if d.status != "done"}
            time.sleep(0.5)
    finally:
        _stop(victim)
        _stop(survivor)

    docs = documents(settings)
    assert len(docs) == N_DOCS
    for name, doc in docs.items():
        assert doc.status == "done", (name, doc.error_message)
        assert [p.number for p in doc.pages] == [1, 2], name  # every page, none twice
        assert "sheet 1" in doc.pages[0].text.lower() and "sheet 2" in doc.pages[1].text.lower(), name
    with unit_of_work(settings.database_url) as session:
        drafts = list(session.scalars(select(Draft)))
        assert len(drafts) == N_DOCS and {d.version for d in drafts} == {1}  # each finished once
        assert len(list(session.scalars(select(Page.id)))) == N_DOCS * PAGES
        attempts = session.scalar(
            select(TaskAttempt.attempts).where(
                TaskAttempt.document_id == killed_at[0], TaskAttempt.step == killed_at[1]
            )
        )
        assert attempts == 2  # the killed page was delivered again and done by the survivor
        assert session.get(Document, killed_at[0]).status == "done"  # type: ignore[union-attr]
    log = (tmp_path / "survivor.log").read_text()
    assert "Traceback" not in log
    status = run_cli(home, "status", "--json")
    assert '"done": 20' in status.stdout


def test_a_database_outage_is_retried_with_backoff_and_loses_nothing(
    tmp_path: Path, redis_url: str, pg_url: str
) -> None:
    """PostgreSQL refuses connections for a few seconds while a worker runs: its tasks fail with a
    database error, are retried with backoff, and every chart still ends done once."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url
    from sqlalchemy.pool import NullPool

    folder = tmp_path / "charts"
    folder.mkdir()
    for d in range(4):
        write_image_pdf(folder / f"c{d}.pdf", [render_page(page_lines(f"outage {d}", 5), size_in=(5.5, 4.25))])
    home = tmp_path / "data"
    env = {"CHARTMIGRATE_DB": pg_url, **FAST_REDELIVERY}
    settings = Settings(home=home, db=pg_url)
    queued = run_cli(home, "ingest", "--queue", str(folder), CHARTMIGRATE_BROKER=redis_url, **env)
    assert queued.returncode == 0, queued.stderr

    name = make_url(pg_url).database
    admin = create_engine(make_url(pg_url).set(database="postgres"), isolation_level="AUTOCOMMIT", poolclass=NullPool)
    log = tmp_path / "worker.log"
    with log.open("wb") as out:
        worker = subprocess.Popen(
            [sys.executable, "-m", "migrate", "worker", "--concurrency", "1"],
            env=cli_env(home, CHARTMIGRATE_BROKER=redis_url, **env),
            start_new_session=True,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while "ready." not in log.read_text(errors="replace"):
            assert worker.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        with admin.connect() as conn:  # the outage: no new connections, existing ones cut
            conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false'))
            conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"), {"n": name})
        time.sleep(4)
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))
        deadline = time.monotonic() + 180
        while not all(d.status == "done" for d in documents(settings).values()):
            assert worker.poll() is None, log.read_text()
            assert time.monotonic() < deadline, {n: d.status for n, d in documents(settings).items()}
            time.sleep(0.5)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))
        admin.dispose()
        _stop(worker)
    text_log = log.read_text(errors="replace")
    assert "Retry in" in text_log  # the outage really hit a task, and it was retried
    docs = documents(settings)
    assert len(docs) == 4 and all(len(d.pages) == 1 for d in docs.values())
    with unit_of_work(settings.database_url) as session:
        assert {d.version for d in session.scalars(select(Draft))} == {1}
