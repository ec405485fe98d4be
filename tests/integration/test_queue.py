"""Queue mode without Celery processes: what `ingest --queue` stores and sends, and what each page
task does when it runs once, twice, concurrently, or after crashing its worker (run's backend)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import func, select

from migrate.db.models import Batch, Document, Draft, Page, TaskAttempt
from migrate.db.session import unit_of_work
from migrate.records import DocumentStatus
from migrate.settings import Settings
from migrate.worker import jobs
from migrate.worker.jobs import FINISH_STEP, PageJob
from tests.conftest import page_lines, render_page, write_corrupt_pdf, write_image_pdf, write_png
from tests.integration.conftest import documents, run_cli

SMALL = (5.5, 4.25)


class Outbox:
    """Stands in for the broker: keeps what would have been sent, in order."""

    def __init__(self) -> None:
        self.jobs: list[PageJob] = []

    def __call__(self, batch: list[PageJob]) -> None:
        self.jobs.extend(batch)


def _charts(folder: Path, n: int, pages: int = 2) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for d in range(n):
        imgs = [render_page(page_lines(f"queued {d} sheet {p}", 5), size_in=SMALL) for p in range(1, pages + 1)]
        write_image_pdf(folder / f"chart{d}.pdf", imgs)
    return folder


def _run_all(outbox: Outbox, settings: Settings) -> list[str]:
    return [jobs.run_step(j, settings, max_attempts=settings.task_max_attempts) for j in outbox.jobs]


def test_queueing_stores_files_and_sends_one_task_per_page(tmp_path: Path, settings: Settings) -> None:
    folder = _charts(tmp_path / "in", 2)
    write_corrupt_pdf(folder / "broken.pdf")
    outbox = Outbox()
    summary = jobs.queue_paths([folder], settings, outbox)
    assert len(summary.queued) == 2 and summary.pages_queued == 4
    assert len(summary.failed) == 1  # refused at intake, with its reason; the others still go
    assert sorted((j.document_id, j.number) for j in outbox.jobs) == sorted(
        (d, n) for d in summary.queued for n in (1, 2)
    )
    docs = documents(settings)
    assert {docs[f"chart{i}.pdf"].status for i in range(2)} == {DocumentStatus.QUEUED}
    assert docs["broken.pdf"].status == DocumentStatus.FAILED
    with unit_of_work(settings.database_url) as session:
        batch = session.scalars(select(Batch)).one()
        assert batch.options["mode"] == "queue"
        assert batch.options["pipeline"]["ocr_lang"] == settings.ocr_lang

    outcomes = _run_all(outbox, settings)
    assert outcomes.count("document done") == 2
    docs = documents(settings)
    for i in range(2):
        doc = docs[f"chart{i}.pdf"]
        assert doc.status == DocumentStatus.DONE
        assert [p.number for p in doc.pages] == [1, 2]
        assert "queued" in doc.pages[0].text.lower()


def test_a_task_delivered_twice_changes_nothing(tmp_path: Path, settings: Settings) -> None:
    outbox = Outbox()
    jobs.queue_paths([_charts(tmp_path / "in", 1, pages=2)], settings, outbox)
    first, second = outbox.jobs
    assert jobs.run_step(first, settings, max_attempts=3) == "page stored"
    assert jobs.run_step(first, settings, max_attempts=3) == "page already stored"
    assert jobs.run_step(second, settings, max_attempts=3) == "document done"
    assert jobs.run_step(second, settings, max_attempts=3) == "skipped (done)"
    assert jobs.run_step(PageJob(first.document_id, first.sha256, FINISH_STEP), settings, max_attempts=3) == (
        "skipped (done)"
    )
    with unit_of_work(settings.database_url) as session:
        assert session.scalar(select(func.count(Page.id))) == 2
        draft = session.scalars(select(Draft)).one()
        assert draft.version == 1  # finished once


def test_queueing_the_same_files_again_resends_only_missing_pages(tmp_path: Path, settings: Settings) -> None:
    folder = _charts(tmp_path / "in", 1, pages=3)
    outbox = Outbox()
    jobs.queue_paths([folder], settings, outbox)
    jobs.run_step(outbox.jobs[0], settings, max_attempts=3)  # then the broker loses the other two
    again = Outbox()
    summary = jobs.queue_paths([folder], settings, again)
    assert [j.number for j in again.jobs] == [2, 3]
    assert summary.pages_queued == 2 and not summary.duplicates
    _run_all(again, settings)
    assert documents(settings)["chart0.pdf"].status == DocumentStatus.DONE
    third = Outbox()
    summary = jobs.queue_paths([folder], settings, third)
    assert third.jobs == [] and len(summary.duplicates) == 1


def test_all_pages_stored_but_not_finished_is_requeued_as_finishing(tmp_path: Path, settings: Settings) -> None:
    outbox = Outbox()
    jobs.queue_paths([_charts(tmp_path / "in", 1, pages=1)], settings, outbox)
    (job,) = outbox.jobs
    from migrate import pipeline
    from migrate.records import MediaType, PageTask
    from migrate.storage import BlobStore

    task = PageTask(job.document_id, job.sha256, 1, BlobStore(settings.blob_dir).path(job.sha256), MediaType.PDF)
    assert pipeline.process_page(task, settings).stored  # the worker died before finishing
    resent = Outbox()
    jobs.requeue(job.document_id, settings, resent)
    assert [j.number for j in resent.jobs] == [FINISH_STEP]
    assert jobs.run_step(resent.jobs[0], settings, max_attempts=3) == "document done"


def test_a_page_that_keeps_killing_its_worker_fails_the_document(tmp_path: Path, settings: Settings) -> None:
    outbox = Outbox()
    jobs.queue_paths([_charts(tmp_path / "in", 1, pages=2)], settings, outbox)
    job = outbox.jobs[0]
    with unit_of_work(settings.database_url) as session:  # three starts that never came back
        session.add(TaskAttempt(document_id=job.document_id, step=job.number, attempts=3, worker="gone:1"))
        session.commit()
    assert jobs.run_step(job, settings, max_attempts=3) == "failed"
    doc = documents(settings)["chart0.pdf"]
    assert doc.status == DocumentStatus.FAILED
    assert doc.error_code == "worker_lost"
    assert "page 1 stopped its worker 3 times" in (doc.error_message or "")
    assert jobs.run_step(outbox.jobs[1], settings, max_attempts=3) == "skipped (failed)"


def test_a_corrupt_page_fails_its_document_with_the_reason(tmp_path: Path, settings: Settings) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    write_png(folder / "ok.png", render_page(page_lines("fine"), size_in=SMALL))
    outbox = Outbox()
    jobs.queue_paths([folder], settings, outbox)
    (job,) = outbox.jobs
    blob = settings.blob_dir / job.sha256[:2] / job.sha256[2:4] / job.sha256
    blob.write_bytes(blob.read_bytes()[:200])  # the stored original is damaged after intake
    assert jobs.run_step(job, settings, max_attempts=3) == "failed"
    doc = documents(settings)["ok.png"]
    assert doc.status == DocumentStatus.FAILED and doc.error_message


def test_two_workers_finishing_the_same_document_at_once_finish_it_once(tmp_path: Path, settings: Settings) -> None:
    outbox = Outbox()
    jobs.queue_paths([_charts(tmp_path / "in", 1, pages=2)], settings, outbox)
    jobs.run_step(outbox.jobs[0], settings, max_attempts=3)
    # Both pages stored, then two finishing steps race each other.
    from migrate import pipeline
    from migrate.records import MediaType, PageTask
    from migrate.storage import BlobStore

    j = outbox.jobs[1]
    task = PageTask(j.document_id, j.sha256, 2, BlobStore(settings.blob_dir).path(j.sha256), MediaType.PDF)
    assert pipeline.process_page(task, settings).stored
    results: list[str] = []
    errors: list[BaseException] = []

    def finish() -> None:
        try:
            results.append(jobs.run_step(PageJob(j.document_id, j.sha256, FINISH_STEP), settings, max_attempts=5))
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=finish) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    assert sorted(results) in (["document done", "document done"], ["document done", "skipped (done)"])
    with unit_of_work(settings.database_url) as session:
        draft = session.scalars(select(Draft)).one()
        assert draft.version == 1
        assert session.get(Document, j.document_id).status == DocumentStatus.DONE  # type: ignore[union-attr]


def test_the_batch_options_decide_how_pages_are_processed(tmp_path: Path, settings: Settings) -> None:
    outbox = Outbox()
    operator = settings.model_copy(update={"page_image_quality": 40})
    jobs.queue_paths([_charts(tmp_path / "in", 1, pages=1)], operator, outbox)
    worker = settings.model_copy(update={"page_image_quality": 95})
    jobs._batch_options.cache_clear()
    jobs.run_step(outbox.jobs[0], worker, max_attempts=3)
    with unit_of_work(settings.database_url) as session:
        page = session.scalars(select(Page)).one()
        image = settings.blob_dir / page.image_sha256[:2] / page.image_sha256[2:4] / page.image_sha256
    from PIL import Image

    with Image.open(image) as im:  # JPEG quality 40 quantises far more coarsely than 95
        q = im.quantization[0]
    assert max(q) > 40


def test_progress_counts_states_and_pages(tmp_path: Path, settings: Settings) -> None:
    outbox = Outbox()
    jobs.queue_paths([_charts(tmp_path / "in", 2, pages=2)], settings, outbox)
    report = jobs.progress(settings)
    assert report["documents"] == {"queued": 2, "running": 0, "done": 0, "failed": 0}
    assert report["pages"] == {"stored": 0, "remaining": 4}
    jobs.run_step(outbox.jobs[0], settings, max_attempts=3)
    report = jobs.progress(settings)
    assert report["documents"]["running"] == 1 and report["documents"]["queued"] == 1
    assert report["pages"] == {"stored": 1, "remaining": 3}
    assert report["pages_per_minute"] > 0
    for j in outbox.jobs[1:]:
        jobs.run_step(j, settings, max_attempts=3)
    report = jobs.progress(settings)
    assert report["documents"]["done"] == 2 and report["pages"]["remaining"] == 0


# ------------------------------------------------------------------------------------------------
# The command line (real Redis as the broker)
# ------------------------------------------------------------------------------------------------


def test_ingest_queue_needs_a_broker(tmp_path: Path) -> None:
    r = run_cli(tmp_path / "data", "ingest", "--queue", str(_charts(tmp_path / "in", 1, pages=1)))
    assert r.returncode == 6, r.stderr
    assert r.stderr.strip().splitlines() == [
        "error: no broker configured: set CHARTMIGRATE_BROKER (e.g. redis://host:6379/0)"
    ]


def test_ingest_queue_with_a_broker_that_is_down_is_one_line(tmp_path: Path) -> None:
    r = run_cli(
        tmp_path / "data",
        "ingest",
        "--queue",
        str(_charts(tmp_path / "in", 1, pages=1)),
        CHARTMIGRATE_BROKER="redis://127.0.0.1:9/0",
        timeout=120,
    )
    assert r.returncode == 6, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "cannot reach the broker" in r.stderr
    assert "Traceback" not in r.stderr


def test_ingest_queue_then_status(tmp_path: Path, redis_url: str) -> None:
    import redis

    home = tmp_path / "data"
    r = run_cli(home, "ingest", "--queue", str(_charts(tmp_path / "in", 3, pages=2)), CHARTMIGRATE_BROKER=redis_url)
    assert r.returncode == 0, r.stderr
    assert "documents queued: 3  pages queued: 6" in r.stdout
    client = redis.Redis.from_url(redis_url)
    assert client.llen("chartmigrate.pages") == 6  # one message per page, waiting for a worker
    client.close()
    s = run_cli(home, "status", "--json", CHARTMIGRATE_BROKER=redis_url)
    assert s.returncode == 0, s.stderr
    import json

    report = json.loads(s.stdout)
    assert report["documents"] == {"queued": 3, "running": 0, "done": 0, "failed": 0}
    assert report["pages"]["remaining"] == 6
    assert report["workers"] == 0
    text = run_cli(home, "status")
    assert "queued 3" in text.stdout and "to do 6" in text.stdout


@pytest.mark.parametrize("value", ["0", "abc"])
def test_worker_refuses_bad_concurrency(tmp_path: Path, value: str) -> None:
    r = run_cli(tmp_path / "data", "worker", "--concurrency", value, CHARTMIGRATE_BROKER="redis://127.0.0.1:9/0")
    assert r.returncode == 2


def test_watch_queue_files_away_and_enqueues(tmp_path: Path, redis_url: str) -> None:
    import contextlib
    import os
    import signal
    import subprocess
    import sys

    import redis

    from tests.conftest import cli_env

    hot = tmp_path / "hot"
    _charts(hot, 2, pages=1)
    write_corrupt_pdf(hot / "broken.pdf")
    home = tmp_path / "data"
    with (tmp_path / "watch.log").open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "migrate", "watch", str(hot), "--queue", "--once", "--interval", "0.1"],
            env=cli_env(home, CHARTMIGRATE_BROKER=redis_url, CHARTMIGRATE_WATCH_SETTLE_S="0.2"),
            start_new_session=True,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            proc.wait(timeout=120)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
    output = (tmp_path / "watch.log").read_text(encoding="utf-8", errors="replace")
    assert proc.returncode == 0, output
    assert "documents queued: 2" in output
    assert sorted(p.name for p in (hot / "processed").iterdir()) == ["chart0.pdf", "chart1.pdf"]
    assert (hot / "quarantine" / "broken.pdf").exists()
    assert (hot / "quarantine" / "broken.pdf.error.txt").read_text().strip()
    client = redis.Redis.from_url(redis_url)
    assert client.llen("chartmigrate.pages") == 2
    client.close()
    docs = documents(Settings(home=home))
    assert docs["chart0.pdf"].status == DocumentStatus.QUEUED


def test_status_with_the_broker_down_still_shows_the_counts(tmp_path: Path) -> None:
    r = run_cli(tmp_path / "data", "status", CHARTMIGRATE_BROKER="redis://127.0.0.1:9/0")
    assert r.returncode == 0, r.stderr
    assert "queued 0" in r.stdout and "workers    unknown: cannot reach the broker" in r.stdout


def test_requeue_sends_again_what_the_broker_lost(tmp_path: Path, redis_url: str) -> None:
    import redis

    home = tmp_path / "data"
    r = run_cli(home, "ingest", "--queue", str(_charts(tmp_path / "in", 2, pages=2)), CHARTMIGRATE_BROKER=redis_url)
    assert r.returncode == 0, r.stderr
    client = redis.Redis.from_url(redis_url)
    client.flushdb()  # a broker restarted without persistence
    recent = run_cli(home, "requeue", "--older-than", "30", CHARTMIGRATE_BROKER=redis_url)
    assert "requeued 0 document(s)" in recent.stdout  # still young: maybe just slow, left alone
    assert client.llen("chartmigrate.pages") == 0
    stale = run_cli(home, "requeue", "--older-than", "0", CHARTMIGRATE_BROKER=redis_url)
    assert stale.returncode == 0, stale.stderr
    assert "requeued 2 document(s)" in stale.stdout
    assert client.llen("chartmigrate.pages") == 4
    client.close()


def test_worker_without_a_broker_is_one_line(tmp_path: Path) -> None:
    r = run_cli(tmp_path / "data", "worker")
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == ["error: a worker needs a broker: set CHARTMIGRATE_BROKER or --broker"]


def test_watch_moves_a_file_the_workers_failed_to_quarantine(tmp_path: Path, settings: Settings) -> None:
    from migrate.db.session import migrate_to_head
    from migrate.watch import PROCESSED, QUARANTINE, follow_queued

    migrate_to_head(settings.database_url)
    hot = tmp_path / "hot"
    (hot / PROCESSED / "ward").mkdir(parents=True)
    files = {}
    with unit_of_work(settings.database_url) as session:
        for name, status in (("bad.pdf", "failed"), ("good.pdf", "done"), ("busy.pdf", "ocr")):
            path = hot / PROCESSED / "ward" / name
            path.write_bytes(b"%PDF-1.4 " + name.encode())
            doc = Document(
                sha256=name.ljust(64, "0"),
                source_path=str(path),
                media_type="application/pdf",
                size_bytes=1,
                status=status,
                error_code="corrupt" if status == "failed" else None,
                error_message="page 2: the page image could not be decoded" if status == "failed" else None,
            )
            session.add(doc)
            session.flush()
            files[doc.id] = path
        session.commit()
    pending = dict(files)
    follow_queued(hot, settings, pending)
    assert sorted(p.name for p in pending.values()) == ["busy.pdf"]  # still being worked on
    assert (hot / QUARANTINE / "ward" / "bad.pdf").exists()
    assert not (hot / PROCESSED / "ward" / "bad.pdf").exists()
    reason = (hot / QUARANTINE / "ward" / "bad.pdf.error.txt").read_text()
    assert reason == "corrupt: page 2: the page image could not be decoded\n"
    assert (hot / PROCESSED / "ward" / "good.pdf").exists()
