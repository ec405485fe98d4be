"""The Celery app: configuration from Settings, the page task, and how documents are sent to it.

Reliability settings, and why:
- ``acks_late`` + ``reject_on_worker_lost``: a message is acknowledged only after its task ran, and
  put back when the process running it dies (SIGKILL, out of memory), so no page is lost;
- ``prefetch_multiplier = 1``: a worker holds one message per process, so a dead worker strands
  little and a slow page does not hold others back;
- the broker's ``visibility_timeout``: a message taken by a worker that vanished with its host is
  delivered again after this long; it must exceed the longest task (one page, or finishing);
- system errors (database or broker unreachable) are retried with exponential backoff and jitter;
  the task's own attempt count (``task_attempts``) fails a document whose page keeps killing its
  worker instead of looping.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from celery import Celery, signals
from kombu.exceptions import OperationalError as KombuOperationalError
from sqlalchemy.exc import OperationalError as DbOperationalError

from migrate.errors import BrokerError
from migrate.external import tesseract
from migrate.settings import Settings, load_settings
from migrate.worker import jobs

log = logging.getLogger(__name__)
QUEUE = "chartmigrate.pages"
PAGE_TASK = "chartmigrate.page"

app = Celery("chartmigrate", set_as_current=False)
_settings: Settings | None = None


def configure(settings: Settings) -> Celery:
    """Point the app at the settings' broker; every process that sends or runs tasks calls this."""
    global _settings
    if not settings.broker:
        raise BrokerError("no broker configured: set CHARTMIGRATE_BROKER (e.g. redis://host:6379/0)")
    _settings = settings
    app.conf.update(
        broker_url=settings.broker,
        broker_connection_retry_on_startup=True,
        broker_connection_max_retries=3,
        broker_transport_options={
            "visibility_timeout": settings.task_visibility_s,
            # Look for messages of vanished workers every tenth of the time-out (at most every 10 s)
            # instead of kombu's default sweep, which runs only every 100 s.
            "unacked_restore_interval": max(1, min(10, settings.task_visibility_s // 10)),
            "unacked_restore_throttle": 1,
        },
        task_default_queue=QUEUE,
        task_ignore_result=True,
        task_serializer="json",
        accept_content=["json"],
        worker_prefetch_multiplier=1,
        worker_hijack_root_logger=False,
        worker_redirect_stdouts=False,
        worker_cancel_long_running_tasks_on_connection_loss=False,
        timezone="UTC",
    )
    return app


def current_settings() -> Settings:
    """The worker's settings: those it was started with, else the environment's."""
    global _settings
    if _settings is None:
        _settings = load_settings()
    return _settings


@signals.worker_process_init.connect  # type: ignore[untyped-decorator]
def _init_process(**_: Any) -> None:
    tesseract.single_threaded()


@app.task(  # type: ignore[untyped-decorator]
    name=PAGE_TASK,
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(DbOperationalError, OSError),
    retry_backoff=2,
    retry_backoff_max=120,
    retry_jitter=True,
    max_retries=6,
)
def page_task(self: Any, document_id: int, sha256: str, number: int) -> str:
    settings = current_settings()
    job = jobs.PageJob(document_id, sha256, number)
    try:
        outcome = jobs.run_step(job, settings, max_attempts=settings.task_max_attempts)
    except (DbOperationalError, OSError) as e:
        if self.request.retries >= self.max_retries:
            log.error("document %s page %s: gave up after %s retries", document_id, number, self.request.retries)
            jobs.fail_quietly(settings, document_id, "retries_exhausted", f"gave up after retries ({type(e).__name__})")
        raise
    except Exception as e:  # a bug fails this chart with a reason, never loops on it
        log.exception("document %s step %s failed", document_id, number)
        jobs.fail_quietly(
            settings,
            document_id,
            "task_error",
            f"could not process the document ({type(e).__name__}); see the worker log",
        )
        return "failed"
    log.info("document %s step %s: %s", document_id, number, outcome)
    return outcome


def send(batch: list[jobs.PageJob]) -> None:
    """Publish page tasks; a broker that cannot be reached is a one-line error, not a traceback."""
    try:
        with app.producer_or_acquire() as producer:
            for job in batch:
                page_task.apply_async(
                    args=job.as_args(), producer=producer, retry=True, retry_policy={"max_retries": 3}
                )
    except KombuOperationalError as e:
        raise BrokerError(f"cannot reach the broker ({type(e).__name__}); is CHARTMIGRATE_BROKER right?") from e


def run_worker(settings: Settings, *, concurrency: int | None = None, loglevel: str = "INFO") -> None:
    configure(settings)
    n = concurrency or settings.workers
    argv = [
        "worker",
        f"--concurrency={n}",
        f"--queues={QUEUE}",
        f"--hostname=chartmigrate-{os.getpid()}@%h",
        f"--loglevel={loglevel}",
        "--without-gossip",
        "--without-mingle",
    ]
    app.worker_main(argv)


def ping(timeout: float = 1.0) -> int:
    """How many workers answer on the broker within ``timeout`` seconds."""
    try:
        replies = app.control.ping(timeout=timeout)
    except KombuOperationalError as e:
        raise BrokerError(f"cannot reach the broker ({type(e).__name__})") from e
    return len(replies or [])
