"""Commands of the scale-out mode: `worker`, `status`, `requeue`, and queueing for `ingest --queue`."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from migrate.cli_options import BrokerOpt, DbOpt, HomeOpt, database_for, print_problems, settings_for
from migrate.errors import BadArguments
from migrate.settings import Settings

if TYPE_CHECKING:  # the worker modules import the whole pipeline: only commands that queue load them
    from migrate.worker.jobs import QueueSummary

out = Console(soft_wrap=True, highlight=False)
err = Console(stderr=True, soft_wrap=True, highlight=False)


def queue_files(paths: list[Path], settings: Settings, *, origin: str = "ingest") -> QueueSummary:
    from migrate.worker import app as worker_app
    from migrate.worker.jobs import queue_paths

    worker_app.configure(settings)
    return queue_paths(paths, settings, worker_app.send, origin=origin)


def _print_queue_summary(summary: QueueSummary) -> None:
    out.print(
        f"documents queued: {len(summary.queued)}  pages queued: {summary.pages_queued}  "
        f"duplicates skipped: {len(summary.duplicates)}  failed: {len(summary.failed)}"
    )
    print_problems(out, summary)


def _queue_settings(db: str | None, home: Path | None, broker: str | None) -> Settings:
    """Settings of a command that reads the database (schema brought up to date) and may talk
    to the broker."""
    settings = database_for(db, home)
    return settings.model_copy(update={"broker": broker}) if broker else settings


def worker(
    concurrency: Annotated[
        int | None, typer.Option("--concurrency", "-c", min=1, help="processes (default: cores)")
    ] = None,
    loglevel: Annotated[str, typer.Option("--loglevel", help="DEBUG, INFO, WARNING")] = "INFO",
    db: DbOpt = None,
    home: HomeOpt = None,
    broker: BrokerOpt = None,
) -> None:
    """Run a Celery worker that processes queued pages (same pipeline as `ingest`)."""
    from migrate.batch import prepare
    from migrate.worker.app import run_worker

    settings = settings_for(db, home, broker=broker)
    if not settings.broker:
        raise BadArguments("a worker needs a broker: set CHARTMIGRATE_BROKER or --broker")
    prepare(settings)  # schema up to date, OCR tools present, before taking any work
    run_worker(settings, concurrency=concurrency, loglevel=loglevel.upper())


def status(
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object")] = False,
    window: Annotated[float, typer.Option("--window", min=1, help="minutes the page rate is measured over")] = 10,
    db: DbOpt = None,
    home: HomeOpt = None,
    broker: BrokerOpt = None,
) -> None:
    """Documents queued, running, done and failed; pages per minute; workers answering."""
    from migrate.worker.jobs import progress

    settings = _queue_settings(db, home, broker)
    report = progress(settings, window=timedelta(minutes=window))
    if settings.broker:
        from migrate.errors import BrokerError
        from migrate.worker import app as worker_app

        worker_app.configure(settings)
        try:
            report["workers"] = worker_app.ping()
        except BrokerError as e:  # the database's counts are still worth showing
            report["workers"] = None
            report["broker_error"] = e.message
    if as_json:
        out.print(json.dumps(report), soft_wrap=True, highlight=False)
        return
    d, p = report["documents"], report["pages"]
    out.print(f"documents  queued {d['queued']}  running {d['running']}  done {d['done']}  failed {d['failed']}")
    eta = report["eta_minutes"]
    out.print(
        f"pages      stored {p['stored']}  to do {p['remaining']}  "
        f"{report['pages_per_minute']:.1f} pages/min (last {report['window_minutes']:g} min)"
        + (f"  about {eta:g} min to go" if eta else "")
    )
    if report.get("broker_error"):
        out.print(f"workers    unknown: {report['broker_error']}")
    elif "workers" in report:
        out.print(f"workers    {report['workers']} answering")


def requeue(
    older_than: Annotated[
        float, typer.Option("--older-than", min=0, help="minutes without progress before a document is requeued")
    ] = 30,
    db: DbOpt = None,
    home: HomeOpt = None,
    broker: BrokerOpt = None,
) -> None:
    """Queue again documents that stopped making progress (e.g. the broker lost its messages)."""
    from migrate.worker import app as worker_app
    from migrate.worker.jobs import requeue_stalled

    settings = _queue_settings(db, home, broker)
    worker_app.configure(settings)
    ids = requeue_stalled(settings, worker_app.send, older_than=timedelta(minutes=older_than))
    out.print(f"requeued {len(ids)} document(s)")


def register_queue_commands(app: typer.Typer) -> None:
    app.command()(worker)
    app.command()(status)
    app.command()(requeue)
