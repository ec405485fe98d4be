"""SIGKILL in the middle of `ingest --workers 2`, then the same command again: nothing lost, nothing twice."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from migrate.settings import Settings
from tests.conftest import cli_env, found_ratio, page_lines, render_page, write_image_pdf, write_tiff
from tests.integration.conftest import documents, json_lines, run_cli

N_DOCS = 6
PAGES = 2


def _stored_pages(url: str) -> int:
    if url.startswith("sqlite") and not Path(make_url(url).database or "").exists():
        return 0
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM pages")).scalar_one())
    except DBAPIError:  # schema not created yet
        return 0
    finally:
        engine.dispose()


def _lines(doc: int, page: int) -> list[str]:
    return page_lines(f"{doc} sheet {page}", 6)


def test_sigkill_then_resume(tmp_path: Path, database_url: str) -> None:
    folder = tmp_path / "charts"
    folder.mkdir()
    for d in range(N_DOCS):
        pages = [render_page(_lines(d, p), size_in=(5.5, 4.25)) for p in range(1, PAGES + 1)]
        if d % 2:
            write_tiff(folder / f"chart{d}.tif", pages)
        else:
            write_image_pdf(folder / f"chart{d}.pdf", pages)
    home = tmp_path / "data"
    db = database_url
    args = ["ingest", str(folder), "--workers", "2"]

    log = tmp_path / "first-run.log"
    with log.open("wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "migrate", *args],
            env=cli_env(home),
            start_new_session=True,  # its own process group: the kill takes the workers too
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
        try:
            deadline = time.monotonic() + 120
            while _stored_pages(db) == 0:
                assert proc.poll() is None, f"ingest ended before storing a page: {log.read_text()}"
                assert time.monotonic() < deadline, "no page stored within 120 s"
                time.sleep(0.02)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert 0 < _stored_pages(db) < N_DOCS * PAGES  # really killed part-way

    again = run_cli(home, *args)
    assert again.returncode == 0, again.stderr
    assert "Traceback" not in again.stderr

    docs = documents(Settings(home=home))
    assert len(docs) == N_DOCS == len(list(folder.iterdir()))
    for name, doc in docs.items():
        assert doc.status == "done", (name, doc.error_message)
        assert doc.page_count == PAGES
        assert [p.number for p in doc.pages] == list(range(1, PAGES + 1))  # no gap, no page twice
        d = int(name.removeprefix("chart").split(".")[0])
        for page in doc.pages:
            assert found_ratio(page.text, _lines(d, page.number)) >= 0.8, page.text

    export = run_cli(home, "export", "drafts", "--format", "jsonl")
    assert export.returncode == 0
    records = json_lines(export.stdout)
    assert len(records) == N_DOCS
    for rec in records:
        assert rec["status"] == "pending_review"
        assert len(rec["source"]["pages"]) == PAGES
        assert all(p["text"].strip() for p in rec["source"]["pages"])
